"""stage: a stage's AWS as deploy sees it — clients with retries in the stage's account,
its stack names and execution role, the templates of generated/, the deployment bucket (owned
by this account, every call naming the owner) and its artifacts checked by digest, and the
hooks the emulator overrides (local.emulator.LocalDeployer). deploy builds on it."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import naming
from .lifecycle import Lifecycle, StackResult
from ..manifest import Manifest, path_of
from .versions import Live

__all__ = ["DeployError", "Interrupted", "StackResult", "StageAccess"]


class DeployError(Exception):
    """The deploy could not run at all (no manifest, no credentials, a refused destroy)."""


class Interrupted(Exception):
    """Ctrl-C: no new operation was started after it; the message says where the stage is."""


def _checksum(data: bytes) -> str:
    """S3's ChecksumSHA256 of a body: S3 refuses the upload if the bytes arrive otherwise."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class StageAccess:
    """The stage's AWS (see the module docstring); Deployer adds the steps and the orchestration."""

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

    def holder(self, cfn: Any, physical_id: str) -> tuple[str, str] | None:
        """(stack name, logical id) of the stack that holds a physical resource, or None
        (emulator hook: DescribeStackResources by physical id)."""
        try:
            found = cfn.describe_stack_resources(PhysicalResourceId=physical_id).get("StackResources", [])
        except cfn.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        live = [r for r in found if r.get("ResourceStatus") != "DELETE_COMPLETE"]
        return (str(live[0]["StackName"]), str(live[0]["LogicalResourceId"])) if live else None

    def importable(self, resource_type: str) -> bool:
        """Whether a take-over imports resources of this type through an IMPORT change set
        (every adoptable type, on AWS; emulator hook)."""
        return True

    def importable_note(self, resource_type: str) -> str:
        """What happens instead to a resource that is not importable (emulator hook)."""
        return ""

    def refactoring(self) -> str | None:
        """None when CloudFormation's stack refactoring (CreateStackRefactor) is there to move
        resources between stacks in one operation, else why not (emulator hook)."""
        return None

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
        return self._put_template(f"templates/{self.stage}/{stack}-{digest[:20]}.json", body)

    def template_upload(self, stack_name: str, body: str) -> dict[str, str]:
        """A template for a change set on any stack (a take-over's steps): inline up to
        CloudFormation's 51,200 bytes, else through the deployment bucket (emulator hook)."""
        if len(body.encode()) <= 51_200:
            return {"TemplateBody": body}
        self.ensure_bucket()
        digest = hashlib.sha256(body.encode()).hexdigest()
        return self._put_template(f"templates/{self.stage}/adopt/{stack_name}-{digest[:20]}.json", body)

    def _put_template(self, key: str, body: str) -> dict[str, str]:
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

