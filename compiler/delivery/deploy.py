"""deploy: generated/<stage> to CloudFormation, level by level, through change sets.

For each stack: a change set (create or update), its summary (add / modify / remove, with
replacement flags), confirmation unless --yes, execution, and the stack's events as they
arrive. Stacks of one level deploy in parallel. When a stack fails, its failed events are
printed, no stack that depends on it starts, the stacks already done stay, and the run
exits non-zero; running again after the fix converges (an unchanged stack is "no
changes"). Values from other regions are filled into parameters from the producer's
outputs. Artifacts and templates over the inline limit go to the deployment bucket,
which is created if missing (encrypted, private, TLS-only).

The bucket's name is global, so its name proves nothing: before anything is uploaded the
bucket must be owned by the deploying account (ListBuckets lists only the caller's own
buckets), and every S3 call carries `ExpectedBucketOwner`, which S3 checks on each request.
Each artifact is read back after upload (and before it is trusted as "already present")
and compared with the digest `make package` recorded. Throttling and transient errors are
retried by botocore's standard mode (exponential backoff with jitter).

One stack's lifecycle on CloudFormation (change sets, waiting, events, rollbacks) is
`lifecycle.Lifecycle`; this module orchestrates the stage and gates each change set. The
emulator's workarounds live in `local.LocalDeployer`, which overrides the hooks marked
"emulator hook" below; this class is the path real AWS takes.

Only this module, `lifecycle` and `local` talk to AWS (boto3 is imported lazily).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import naming
from ..review import updates
from . import versions
from .lifecycle import INTERRUPTED, TERMINAL_OK, Lifecycle, StackResult, rollback_failed_help, summary
from ..review.diff import DESTRUCTIVE, Diff, compare
from .drift import DriftReport, ResourceDrift, property_differences
from ..manifest import ExportEntry, Manifest, path_of
from .versions import Live

__all__ = ["DeployError", "Deployer", "Interrupted", "StackResult"]


class DeployError(Exception):
    """The deploy could not run at all (no manifest, no credentials, a refused destroy)."""


class Interrupted(Exception):
    """Ctrl-C: no new operation was started after it; the message says where the stage is."""


def _checksum(data: bytes) -> str:
    """S3's ChecksumSHA256 of a body: S3 refuses the upload if the bytes arrive otherwise."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class Deployer:
    out_dir: Path
    stage: str
    endpoint_url: str | None = None
    yes: bool = False
    allow_risk: bool = False  # execute change sets that replace, lose data or are blocked
    echo: Callable[[str], None] = print
    confirm: Callable[[str], bool] = lambda _: False
    artifacts: Path = Path(naming.ARTIFACTS_DIR)
    poll: float = 2.0
    manifest: Manifest = field(default_factory=Manifest)
    keep_versions: int | None = naming.KEEP_VERSIONS  # per function, after each deploy (versions.prune)

    def __post_init__(self) -> None:
        manifest = Manifest.read(self.out_dir, self.stage)
        if manifest is None:
            raise DeployError(f"{path_of(self.out_dir, self.stage)} not found: run `make compile STAGE={self.stage}` first")
        self.manifest = manifest
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise DeployError("deploying needs the AWS SDK, which this install lacks: "
                              "pip install 'listbackup-platformc[deploy]'") from exc

        self._session = self.session(boto3.session.Session())
        # Throttling (Rate exceeded, SlowDown) and 5xx answers: retried with exponential
        # backoff and full jitter, so parallel stacks do not retry in lockstep.
        self._config = Config(retries={"mode": "standard", "max_attempts": 10})
        self._account: str | None = None
        self._prompts = threading.Lock()  # one question (with the change set it asks about) at a time
        self.stopping = threading.Event()  # Ctrl-C: no new operation starts
        self.lifecycle = Lifecycle(self.echo, self.poll, self.stopping)
        # per stack: the change sets shown (label, resource changes) and the risks found, for
        # the machine-readable summary (`deploy --format json|github`)
        self.shown: dict[str, list[dict[str, Any]]] = {}
        self._generated: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ emulator hooks
    def session(self, default: Any) -> Any:
        """The boto3 session: the default credential chain."""
        return default

    def create_new(self, cfn: Any, stack: str, args: dict[str, Any]) -> StackResult | None:
        """Create a stack that does not exist yet by other means than a CREATE change set;
        None: take the change-set path (always, on AWS)."""
        return None

    def protect(self, cfn: Any, stack: str, enabled: bool) -> None:
        self.lifecycle.protect(cfn, self.stack_name(stack), enabled)

    def live_version(self, cfn: Any, stack: str, live: Live) -> str:
        """The version the stack published for a function: its version resource's physical id
        is the version ARN (emulator hook)."""
        detail = cfn.describe_stack_resource(StackName=self.stack_name(stack), LogicalResourceId=live.version_id)
        return str(detail["StackResourceDetail"]["PhysicalResourceId"]).rsplit(":", 1)[-1]

    def importers(self, cfn: Any, exports: list[str]) -> dict[str, list[str]]:
        """Per export, the stack ids (or names, for stacks outside the manifest) that import it now."""
        ids = {entry.name: stack for stack, entry in self.manifest.stacks.items()}
        found = {}
        for export in exports:
            try:
                pages = cfn.get_paginator("list_imports").paginate(ExportName=export)
                found[export] = sorted(ids.get(n, n) for page in pages for n in page.get("Imports", []))
            except cfn.exceptions.ClientError as exc:
                if "not imported" not in str(exc):
                    raise
                found[export] = []
        return found

    # ------------------------------------------------------------------ clients and names
    def client(self, service: str, region: str | None = None) -> Any:
        return self._session.client(service, region_name=region or self.manifest.region,
                                    endpoint_url=self.endpoint_url, config=self._config)

    @property
    def account(self) -> str:
        """The deploying account: every S3 call expects the bucket to be its own."""
        if self._account is None:
            self._account = str(self.client("sts").get_caller_identity()["Account"])
        return self._account

    def check_account(self) -> None:
        """Act only with credentials of the stage's account (platform.yaml `accounts:`): the
        stages of one account can reach each other's resources, so a stage named to its own
        account is never deployed, bootstrapped, destroyed or rolled back from another."""
        expected = self.manifest.account
        if expected is not None and self.account != expected:
            raise DeployError(f"stage {self.stage} belongs to account {expected} (platform.yaml `accounts:`), but these "
                              f"credentials are of account {self.account}: nothing was changed; use the stage's own "
                              "credentials (AWS_PROFILE, or the deploy role of that account)")

    def _owned(self) -> dict[str, str]:
        return {"Bucket": self.bucket, "ExpectedBucketOwner": self.account}

    @property
    def bucket(self) -> str:
        return naming.Naming(self.manifest.service, self.stage).deployment_bucket

    def stack_name(self, stack: str) -> str:
        return self.manifest.stacks[stack].name

    def execution_role(self) -> str | None:
        """The ARN of the role CloudFormation deploys the stage's stacks with: the bootstrap
        stack's execution role (`delivery:`), or None for a spec without one (read once)."""
        if not hasattr(self, "_execution_role"):
            self._execution_role = self._find_execution_role()
        return self._execution_role

    def generated(self, stack: str) -> dict[str, Any]:
        """generated/<stage>'s template of a stack, parsed once per run (settling aliases,
        rollback, bootstrap checks and drift all read it; deploy never changes it)."""
        if stack not in self._generated:
            self._generated[stack] = dict(json.loads(self.manifest.template_path(self.out_dir, stack).read_text()))
        return self._generated[stack]

    def _find_execution_role(self) -> str | None:
        for stack in self.manifest.bootstrap_stacks:
            template = self.generated(stack)
            for resource in template.get("Resources", {}).values():
                if (resource.get("Metadata") or {}).get("Delivery") == "execution-role":
                    region = self.manifest.region_of(stack)
                    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
                    return f"arn:{partition}:iam::{self.account}:role/{resource['Properties']['RoleName']}"
        return None

    # ------------------------------------------------------------------ artifacts
    def ensure_bucket(self) -> None:
        """The deployment bucket, proven ours before any upload. A stage with a bootstrap stack
        (`delivery:`) holds it there; a spec without one gets it created here, as safely."""
        from botocore.exceptions import ClientError

        s3 = self.client("s3")
        try:
            s3.head_bucket(**self._owned())  # 403 on AWS when another account owns the name
            exists = True
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("403", "AccessDenied", "Forbidden"):
                raise self._not_ours() from exc
            exists = False
        if not exists and self.manifest.bootstrap_stacks:
            raise DeployError(f"the deployment bucket {self.bucket} does not exist: the stage is not bootstrapped. "
                              f"An administrator runs `platformc bootstrap --stage {self.stage}` once (docs/deploy.md)")
        if not exists:
            region = self.manifest.region
            args: dict[str, Any] = {"Bucket": self.bucket}
            if region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                s3.create_bucket(**args)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise self._not_ours() if exc.response.get("Error", {}).get("Code") == "BucketAlreadyExists" else exc
        listed = s3.list_buckets(Prefix=self.bucket).get("Buckets", [])
        if self.bucket not in {b["Name"] for b in listed}:  # only the caller's own buckets are listed
            raise self._not_ours()
        if exists:
            return
        s3.put_public_access_block(
            **self._owned(),
            PublicAccessBlockConfiguration={k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")},
        )
        s3.put_bucket_encryption(
            **self._owned(),
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        )
        s3.put_bucket_versioning(**self._owned(), VersioningConfiguration={"Status": "Enabled"})
        if (self.endpoint_url or "https:").startswith("http:"):  # a plain-HTTP endpoint (the local emulator)
            self.echo(f"created deployment bucket {self.bucket} (private, encrypted, versioned; no TLS-only policy over http)")
            return
        arn = f"arn:aws:s3:::{self.bucket}"
        tls_only = {"Version": "2012-10-17", "Statement": [{
            "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
        s3.put_bucket_policy(**self._owned(), Policy=json.dumps(tls_only))
        self.echo(f"created deployment bucket {self.bucket} (private, encrypted, versioned, TLS-only)")

    def _not_ours(self) -> DeployError:
        return DeployError(
            f"the deployment bucket {self.bucket} exists but is not owned by account {self.account}: nothing was "
            "uploaded or deployed (Lambda would run code that account placed there). Bucket names are global; "
            "if the name was taken by someone else, change `service:` in platform.yaml or delete the bucket "
            "from the account that owns it")

    def upload_artifacts(self) -> None:
        """Every artifact in the bucket with the bytes `make package` made, checked by reading it back."""
        listing = self.artifacts / "artifacts.json"
        if not listing.exists():
            raise DeployError(f"{listing} not found: run `make package` first")
        s3 = self.client("s3")
        for key, digest in sorted(json.loads(listing.read_text()).items()):
            data = (self.artifacts / key).read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                raise DeployError(f"{self.artifacts / key} does not match the digest in {listing}: run `make package` again")
            if self._stored_digest(s3, key) == digest:  # content-addressed, and the bytes are ours
                continue
            s3.put_object(**self._owned(), Key=key, Body=data, ChecksumSHA256=_checksum(data))
            if self._stored_digest(s3, key) != digest:
                raise DeployError(f"s3://{self.bucket}/{key} does not hold the bytes just uploaded: nothing deployed")
            self.echo(f"uploaded s3://{self.bucket}/{key}")

    def _stored_digest(self, s3: Any, key: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            body = s3.get_object(**self._owned(), Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return hashlib.sha256(body).hexdigest()

    def template_argument(self, stack: str, body: str | None = None) -> dict[str, str]:
        """The template (generated/, or an intermediate step of it) as a change-set argument
        (emulator hook: the emulator gets the template adapted to what it models)."""
        entry = self.manifest.stacks[stack]
        final = body is None
        body = self.manifest.template_path(self.out_dir, stack).read_text() if body is None else body
        if len(body.encode()) <= 51_200 and not (final and entry.upload_required):
            return {"TemplateBody": body}
        digest = entry.sha256 if final else hashlib.sha256(body.encode()).hexdigest()
        key = f"templates/{self.stage}/{stack}-{digest[:20]}.json"
        self.client("s3").put_object(**self._owned(), Key=key, Body=body.encode(), ChecksumSHA256=_checksum(body.encode()))
        region = self.manifest.region
        base = self.endpoint_url or f"https://{self.bucket}.s3.{region}.amazonaws.com"
        url = f"{base}/{self.bucket}/{key}" if self.endpoint_url else f"{base}/{key}"
        return {"TemplateURL": url}

    # ------------------------------------------------------------------ one stack
    def parameters(self, stack: str) -> list[dict[str, str]]:
        """Cross-region values: each parameter from its producer's outputs."""
        values = []
        produced: dict[tuple[str, str], dict[str, str]] = {}  # one describe per producer stack
        for parameter, source in sorted(self.manifest.stacks[stack].parameters.items()):
            key = (source.from_stack, source.region)
            if key not in produced:
                producer = self.describe(*key)
                produced[key] = {o["OutputKey"]: o["OutputValue"] for o in (producer or {}).get("Outputs", [])}
            outputs = produced[key]
            if source.output not in outputs:
                raise DeployError(f"{stack} needs output {source.output} of {source.from_stack}, which is not deployed")
            values.append({"ParameterKey": parameter, "ParameterValue": outputs[source.output]})
        return values

    def describe(self, stack: str, region: str | None = None) -> dict[str, Any] | None:
        return self.lifecycle.describe(self.client("cloudformation", region or self.manifest.region_of(stack)), self.stack_name(stack))

    def deploy_stack(self, stack: str) -> StackResult:
        entry = self.manifest.stacks[stack]
        cfn = self.client("cloudformation", entry.region)
        name = self.stack_name(stack)
        existing = self.describe(stack)
        if existing and existing["StackStatus"].endswith("_IN_PROGRESS"):
            # e.g. left running by an interrupted deploy: CloudFormation finishes it first
            self.echo(f"{stack}: waiting for the operation in progress ({existing['StackStatus']})")
            if self.lifecycle.wait(cfn, name, stack) == INTERRUPTED:
                return self.lifecycle.interrupted(stack, cfn, name)
            existing = self.describe(stack)
        if existing and existing["StackStatus"] == "UPDATE_ROLLBACK_FAILED":
            return StackResult(stack, "failed", rollback_failed_help(name, entry.region, self.lifecycle.failed_resources(cfn, name)))
        if existing and existing["StackStatus"] == "ROLLBACK_COMPLETE":
            self.echo(f"{stack}: removing the stack left by a failed create")
            self.lifecycle.delete(cfn, name, stack)
            existing = None
        common: dict[str, Any] = {
            "StackName": name,
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "Parameters": self.parameters(stack),
            **self.template_argument(stack),
        }
        if not entry.bootstrap and (role := self.execution_role()) is not None:
            common["RoleARN"] = role  # CloudFormation acts with the stage's execution role, not the caller's
        if existing is None and (created := self.create_new(cfn, stack, common)) is not None:
            return created
        deployed = self.deployed_template(cfn, name) if existing else None
        # The body sent is what the stack will hold (on the emulator, the adapted template).
        new = json.loads(common["TemplateBody"]) if "TemplateBody" in common else self.generated(stack)
        # DynamoDB creates or deletes one index per update: such a change is applied as
        # several updates of the stack, each through its own change set (updates.stack_steps).
        steps = updates.stack_steps(deployed, new) if deployed else [new]
        for number, template in enumerate(steps, start=1):
            last = number == len(steps)
            label = stack if len(steps) == 1 else f"{stack} (step {number}/{len(steps)})"
            args = common if last else {**common, **self.template_argument(stack, json.dumps(template))}
            result = self.apply_change_set(cfn, stack, label, args, existing is not None,
                                           deployed if number == 1 else None, new)
            if result is not None:
                return result
        return self.finish(cfn, stack, "UPDATE_COMPLETE" if deployed else "CREATE_COMPLETE", "updated" if deployed else "created")

    def deployed_template(self, cfn: Any, name: str) -> dict[str, Any]:
        body = cfn.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
        return body if isinstance(body, dict) else dict(json.loads(body))

    def apply_change_set(self, cfn: Any, stack: str, label: str, args: dict[str, Any], update: bool,
                         deployed: dict[str, Any] | None, new: dict[str, Any]) -> StackResult | None:
        """One change set: create, show, check (first step only), confirm, execute, wait.
        None when it went through; a StackResult when the stack stops here."""
        name = self.stack_name(stack)
        change_set = f"platformc-{self.manifest.stacks[stack].sha256[:12]}-{int(time.time() * 1000)}"
        if self.stopping.is_set():
            return StackResult(stack, "not started")
        described = self.lifecycle.create_change_set(cfn, name, change_set, args, update)
        if described is None:
            self.echo(f"{label}: no changes")
            return StackResult(stack, "unchanged") if deployed is not None else None
        if described["Status"] == "FAILED":
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            return StackResult(stack, "failed", f"{label}: change set failed: {described.get('StatusReason', '')}")
        with self._prompts:  # parallel stacks: each summary stays next to its own question
            refused = self.review(cfn, stack, label, described, update, deployed, new)
        if refused is not None or self.stopping.is_set():
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            return refused or StackResult(stack, "not started", "its change set was deleted unexecuted")
        cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
        status = self.lifecycle.wait(cfn, name, stack)
        if status == INTERRUPTED:
            return self.lifecycle.interrupted(stack, cfn, name)
        if status == "UPDATE_ROLLBACK_FAILED":
            return StackResult(stack, "failed", rollback_failed_help(name, self.manifest.region_of(stack),
                                                                     self.lifecycle.failed_resources(cfn, name)))
        if status not in TERMINAL_OK:
            return StackResult(stack, "failed", f"{label}: {status}")
        return None

    def review(self, cfn: Any, stack: str, label: str, described: dict[str, Any], update: bool,
               deployed: dict[str, Any] | None, new: dict[str, Any]) -> StackResult | None:
        """Show the change set and its risks, ask; a StackResult when it must not run."""
        self.echo(summary(label, described))
        record: dict[str, Any] = {"label": label, "changes": [
            {"action": rc.get("Action", "?"), "logical_id": rc.get("LogicalResourceId"), "type": rc.get("ResourceType"),
             "replacement": rc.get("Replacement", "False")}
            for rc in (change.get("ResourceChange", {}) for change in described.get("Changes", []))], "risks": []}
        self.shown.setdefault(stack, []).append(record)
        if deployed is not None:
            risks = self.risks(cfn, stack, deployed, new)
            record["risks"] = risks
            for risk in risks:
                self.echo(f"  ! {risk}")
            if risks and not self.allow_risk:
                return StackResult(stack, "failed", "the change replaces, loses data or is blocked: review it with "
                                   f"`{self.diff_command()}`, then deploy with --allow-risk")
        if (deployed is not None or not update) and not self.yes and not self.confirm(f"deploy {stack}?"):
            return StackResult(stack, "skipped", "not confirmed")
        return None

    def diff_command(self) -> str:
        """The command that shows the change a refused deploy would make."""
        endpoint = f" --endpoint-url {self.endpoint_url}" if self.endpoint_url else ""
        return f"platformc diff --stage {self.stage} --against deployed{endpoint}"

    def finish(self, cfn: Any, stack: str, status: str, done: str) -> StackResult:
        if status not in TERMINAL_OK:
            return StackResult(stack, "failed", status)
        if self.manifest.stacks[stack].termination_protection:
            self.protect(cfn, stack, True)
        return StackResult(stack, done)

    def risks(self, cfn: Any, stack: str, deployed: dict[str, Any], new: dict[str, Any]) -> list[str]:
        """The review gate's verdicts for this stack, against the template deployed now and
        the stacks that import its exports now (list_imports)."""
        diff = compare(self.stage, "deployed", {stack: deployed}, {stack: new},
                       _importers_now(self.importers(cfn, _export_names(deployed))), self.manifest)
        found = []
        for change in diff.stacks:
            found += [f"{f.verdict} ({f.cause}): {f.message}" for f in change.findings if f.verdict in DESTRUCTIVE]
            found += [
                f"{r.logical_id} ({r.type}): {', '.join(v for v in r.verdicts if v in DESTRUCTIVE)}"
                for r in change.resources
                if any(v in DESTRUCTIVE for v in r.verdicts)
            ]
        return found

    # ------------------------------------------------------------------ the stage    # ------------------------------------------------------------------ the stage
    def retired(self) -> list[tuple[str, str]]:
        """(stack name, region) of this stage's platformc stacks that left the spec: named
        `<service>-<stage>-...`, described as generated by platformc, not in the manifest."""
        prefix = f"{self.manifest.service}-{self.stage}-"
        known = {entry.name for entry in self.manifest.stacks.values()}
        found = []
        for region in sorted({entry.region for entry in self.manifest.stacks.values()}):
            pages = self.client("cloudformation", region).get_paginator("describe_stacks").paginate()
            for stack in (s for page in pages for s in page["Stacks"]):
                name = stack["StackName"]
                ours = "Generated by platformc" in stack.get("Description", "")
                if name.startswith(prefix) and ours and name not in known and stack["StackStatus"] != "DELETE_COMPLETE":
                    found.append((name, region))
        return sorted(found)

    def prune(self, retired: list[tuple[str, str]]) -> list[StackResult]:
        """Delete stacks that left the spec, before any other stack is deployed: a renamed or
        split stack file releases its names and exports first (retained resources stay)."""
        results = []
        for name, region in retired:
            cfn = self.client("cloudformation", region)
            if not self.yes and not self.confirm(f"delete {name}, which left the spec?"):
                raise DeployError(f"{name} left the spec and was not deleted: nothing deployed")
            try:
                cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
            except Exception:  # noqa: BLE001 - not protected, or the emulator has no such call
                pass
            status = self.lifecycle.delete(cfn, name, name)
            results.append(StackResult(name, "deleted" if status == "DELETE_COMPLETE" else "failed", status))
            self.echo(f"{name}: {results[-1].status} (left the spec; retained resources stay)")
            if results[-1].status == "failed":
                break
        return results

    def deploy(self, only: set[str] | None = None, prune: bool = False) -> list[StackResult]:
        """Deploy the stage; on Ctrl-C, stop starting anything, let each stack's current call
        return, and raise Interrupted with where every stack stands and how to resume."""
        self.check_account()
        results: dict[str, StackResult] = {}
        try:
            self._deploy(only, prune, results)
        except KeyboardInterrupt:
            self.stopping.set()
            raise Interrupted(self.interruption_report(results, only)) from None
        return list(results.values())

    def bootstrap(self) -> list[StackResult]:
        """Deploy the stage's bootstrap stacks (the deploy roles, the execution role and the
        deployment bucket), with the caller's own (administrator) credentials."""
        stacks = self.manifest.bootstrap_stacks
        if not stacks:
            raise DeployError(f"stage {self.stage} has no bootstrap stack: declare `delivery:` in a spec file (docs/deploy.md)")
        self.check_account()
        results: dict[str, StackResult] = {}
        try:
            for stack in stacks:  # they need nothing uploaded: their templates are inline
                results[stack] = self._guarded(stack)
        except KeyboardInterrupt:
            self.stopping.set()
            raise Interrupted(self.interruption_report(results, set(stacks))) from None
        return list(results.values())

    def check_bootstrap(self, only: set[str] | None) -> None:
        """Deploy runs after `platformc bootstrap` and never changes a bootstrap stack: its
        deploy role is denied it. One that differs from generated/ is said, not deployed."""
        for stack in self.manifest.bootstrap_stacks:
            if only is not None and stack in only:
                raise DeployError(f"{stack} is the stage's bootstrap stack: an administrator deploys it with "
                                  f"`platformc bootstrap --stage {self.stage}`")
            current = self.describe(stack)
            if current is None:
                raise DeployError(f"{stack}, the stage's bootstrap stack, is not deployed: an administrator runs "
                                  f"`platformc bootstrap --stage {self.stage}` once (docs/deploy.md)")
            if self.bootstrap_differs(stack):
                self.echo(f"{stack}: the bootstrap stack differs from generated/{self.stage}: deploy leaves it as it is; "
                          f"an administrator runs `platformc bootstrap --stage {self.stage}`")

    def bootstrap_differs(self, stack: str) -> bool:
        """Whether the deployed bootstrap stack's template differs from generated/ (emulator hook)."""
        cfn = self.client("cloudformation", self.manifest.region_of(stack))
        return bool(self.deployed_template(cfn, self.stack_name(stack)) != self.generated(stack))

    def _deploy(self, only: set[str] | None, prune: bool, results: dict[str, StackResult]) -> None:
        self.check_bootstrap(only)
        retired = self.retired() if only is None else []
        if retired and not prune:
            names = ", ".join(name for name, _ in retired)
            raise DeployError(f"{names} left the spec but still run and hold their names: deploy with --prune to delete "
                              "them first (`platformc diff` shows what they hold), or restore their spec files")
        for result in self.prune(retired):
            results[result.stack] = result
        if any(r.status == "failed" for r in results.values()):
            return
        self.ensure_bucket()
        self.upload_artifacts()
        for level in self.manifest.levels:
            todo = []
            for stack in level:
                if (only is not None and stack not in only) or self.manifest.stacks[stack].bootstrap:
                    continue
                blocked = [d for d in self.manifest.stacks[stack].depends_on if results.get(d) and results[d].status in ("failed", "skipped")]
                if blocked:
                    results[stack] = StackResult(stack, "skipped", f"depends on {', '.join(blocked)}, which did not deploy")
                    self.echo(f"{stack}: skipped ({results[stack].detail})")
                else:
                    todo.append(stack)
            with ThreadPoolExecutor(max_workers=max(1, min(4, len(todo)))) as pool:
                futures = [pool.submit(self._guarded, stack) for stack in todo]
                try:
                    while wait(futures, timeout=0.2).not_done:  # the main thread wakes up for Ctrl-C
                        pass
                except KeyboardInterrupt:
                    self.stopping.set()  # each stack returns at its next poll
                    raise
                finally:
                    for future in futures:
                        result = future.result()
                        results[result.stack] = result

    def interruption_report(self, results: dict[str, StackResult], only: set[str] | None) -> str:
        wanted = [s for level in self.manifest.levels for s in level if only is None or s in only]
        finished = [f"{r.stack} ({r.status})" for r in results.values() if r.status not in ("interrupted", "not started")]
        running = [f"{r.stack}: {r.detail}" for r in results.values() if r.status == "interrupted"]
        waiting = [s for s in wanted if s not in results or results[s].status == "not started"]
        lines = ["interrupted: nothing was started after Ctrl-C"]
        lines.append(f"  finished: {', '.join(finished) or 'none'}")
        if running:
            lines.append(f"  in progress on AWS: {'; '.join(running)}")
        lines.append(f"  not started: {', '.join(waiting) or 'none'}")
        lines.append("to resume, run the same deploy again: finished stacks report no changes, a stack still in "
                     "progress is waited for, then the rest deploys in order")
        return "\n".join(lines)

    def settle_functions(self, stack: str) -> None:
        """Each function's `live` alias on the version this deploy published (versions.settle)."""
        entry = self.manifest.stacks[stack]
        cfn, lam = self.client("cloudformation", entry.region), self.client("lambda", entry.region)
        for live in versions.live_aliases(self.generated(stack)):
            versions.settle(lam, live.function, self.live_version(cfn, stack, live), self.echo, self.keep_versions)

    def rollback(self, function: str, to: str | None) -> str:
        """Point a function's `live` alias at the version before (or `to`); what was done."""
        self.check_account()
        physical = naming.Naming(self.manifest.service, self.stage).physical(function)
        for stack, entry in sorted(self.manifest.stacks.items()):
            if any(live.function == physical for live in versions.live_aliases(self.generated(stack))):
                break
        else:
            raise DeployError(f"stage {self.stage} has no function {function} (generated/{self.stage} has no {physical})")
        def approve(current: str, target: dict[str, Any]) -> bool:  # a protected stage asks unless --yes
            what = target.get("Description") or "no description"
            return self.confirm(f"stage {self.stage} is protected: point {physical}'s {versions.ALIAS} alias from "
                                f"version {current} to version {target['Version']} ({what})?")

        try:
            was, now = versions.rollback(self.client("lambda", entry.region), physical, to,
                                         approve if self.manifest.protect and not self.yes else None)
        except versions.RollbackError as exc:
            raise DeployError(str(exc)) from None
        what = now.get("Description") or "no description"
        return (f"{physical}: {versions.ALIAS} moved from version {was} to version {now['Version']} ({what}, "
                f"published {now.get('LastModified', '?')}); routes, its queue and bus rules now invoke it. "
                f"The next `platformc deploy --stage {self.stage}` moves it forward to the deployed version")

    def _guarded(self, stack: str) -> StackResult:
        try:
            result = self.deploy_stack(stack)
            if result.status in ("created", "updated", "unchanged"):
                self.settle_functions(stack)
            return result
        except DeployError as exc:
            return StackResult(stack, "failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - one stack's AWS error must not hide the others'
            return StackResult(stack, "failed", f"{type(exc).__name__}: {exc}")

    def destroy(self, force_protected: bool = False) -> list[StackResult]:
        if self.manifest.protect and not force_protected:
            raise DeployError(f"stage {self.stage} is protected: destroy it only with --i-mean-it")
        self.check_account()
        names = [self.manifest.stacks[s].name for level in reversed(self.manifest.levels) for s in level]
        question = f"delete the {len(names)} stacks of stage {self.stage} ({', '.join(names)})? retained resources stay"
        if not self.yes and not self.confirm(question):
            raise DeployError(f"destroy of stage {self.stage} not confirmed: nothing deleted")
        results = []
        for level in reversed(self.manifest.levels):
            for stack in level:
                entry = self.manifest.stacks[stack]
                cfn = self.client("cloudformation", entry.region)
                if self.describe(stack) is None:
                    continue
                if entry.termination_protection:
                    self.protect(cfn, stack, False)
                status = self.lifecycle.delete(cfn, entry.name, stack)
                results.append(StackResult(stack, "deleted" if status == "DELETE_COMPLETE" else "failed", status))
                self.echo(f"{stack}: {results[-1].status} (retained resources stay)")
        return results

    # ------------------------------------------------------------------ drift
    def expected_template(self, stack: str) -> dict[str, Any]:
        """What a deploy leaves the stack holding: generated/'s template (emulator hook)."""
        return self.generated(stack)

    def deployed_diff(self) -> Diff:
        """What deploying generated/<stage> would change in the deployed stage, judged by the
        review gate against the templates the stacks hold now and the importers of their
        exports now: the baseline deploy itself uses (`platformc diff --against deployed`)."""
        return self._judged_live()[0]

    def _judged_live(self) -> tuple[Diff, list[str]]:
        """The deployed-vs-generated diff, and the manifest's stacks that are deployed."""
        deployed: dict[str, dict[str, Any]] = {}
        expected: dict[str, dict[str, Any]] = {}
        regions = {stack: entry.region for stack, entry in self.manifest.stacks.items()}
        for stack, entry in sorted(self.manifest.stacks.items()):
            expected[stack] = self.expected_template(stack)
            if self.describe(stack) is not None:
                deployed[stack] = self.deployed_template(self.client("cloudformation", entry.region), entry.name)
        live = list(deployed)
        for name, region in self.retired():  # still running, no longer in the spec
            deployed[name] = self.deployed_template(self.client("cloudformation", region), name)
            regions[name] = region
        exports: dict[str, list[str]] = {}  # region -> export names: their importers asked once per region
        for stack, template in deployed.items():
            exports.setdefault(regions[stack], []).extend(_export_names(template))
        importers: dict[str, list[str]] = {}
        for region, names in sorted(exports.items()):
            importers.update(self.importers(self.client("cloudformation", region), sorted(names)))
        return compare(self.stage, "deployed", deployed, expected, _importers_now(importers), self.manifest), live

    def drift(self) -> DriftReport:
        """The stage against generated/: each stack's template (with the review gate's
        verdicts), then CloudFormation's resource drift detection on the deployed stacks."""
        template, live = self._judged_live()
        resources, unchecked = self.resource_drift(live)
        return DriftReport(self.stage, template, tuple(resources), unchecked)

    def resource_drift(self, stacks: list[str]) -> tuple[list[ResourceDrift], str | None]:
        """CloudFormation's drift detection on each stack: the resources changed outside it
        (emulator hook: moto has none). Returns the drifts, or why none were looked for."""
        found = []
        for stack in stacks:
            cfn = self.client("cloudformation", self.manifest.region_of(stack))
            name = self.stack_name(stack)
            detection = cfn.detect_stack_drift(StackName=name)["StackDriftDetectionId"]
            while (status := cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection))[
                    "DetectionStatus"] == "DETECTION_IN_PROGRESS":
                time.sleep(self.poll)
            if status["DetectionStatus"] == "DETECTION_FAILED":  # some resources could not be read: said
                found.append(ResourceDrift(stack, "", "", "DETECTION_FAILED", (str(status.get("DetectionStatusReason", "")),)))
            token: dict[str, str] = {}
            while True:  # botocore has no paginator for it
                page = cfn.describe_stack_resource_drifts(
                    StackName=name, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"], **token)
                for drift in page["StackResourceDrifts"]:
                    found.append(ResourceDrift(stack, drift["LogicalResourceId"], drift["ResourceType"],
                                               drift["StackResourceDriftStatus"], property_differences(drift)))
                if not page.get("NextToken"):
                    break
                token = {"NextToken": page["NextToken"]}
        return found, None

    def outputs(self, stacks: list[str] | None = None) -> dict[str, dict[str, str]]:
        """The deployed stacks' outputs (of `stacks`, default every stack of the manifest)."""
        found = {}
        for stack in self.manifest.stacks if stacks is None else stacks:
            current = self.describe(stack)
            if current:
                found[stack] = {o["OutputKey"]: o["OutputValue"] for o in current.get("Outputs", [])}
        return found


def _importers_now(importers: dict[str, list[str]]) -> Manifest:
    """The deployed side's manifest for the review gate: only each export's importers now."""
    return Manifest(exports={name: ExportEntry(importers=tuple(users)) for name, users in importers.items()})


def _export_names(template: dict[str, Any]) -> list[str]:
    names = [(o.get("Export") or {}).get("Name") for o in (template.get("Outputs") or {}).values()]
    return sorted(n for n in names if isinstance(n, str))
