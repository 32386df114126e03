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

import json
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from .. import naming
from ..review import updates
from . import versions
from .lifecycle import INTERRUPTED, TERMINAL_OK, StackResult, rollback_failed_help, summary
from ..review.diff import DESTRUCTIVE, Diff, compare
from .drift import DriftReport, ResourceDrift, property_differences
from ..manifest import ExportEntry, Manifest

__all__ = ["DeployError", "Deployer", "Interrupted", "StackResult"]


from .errors import aws_user_error
from .stage import DeployError, Interrupted, StageAccess
from .takeover import Takeover, moves

class Deployer(StageAccess):
    """A stage's stacks deployed in order through change sets (the module docstring)."""

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
        if only is None:
            self.carry_moves(retired)
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

    def carry_moves(self, retired: list[tuple[str, str]]) -> None:
        """Resources moved between the stage's stacks in the spec (the review gate's MOVE) are
        carried across before any stack deploys, with their data: retained and removed where
        they are, imported where the spec puts them (delivery/takeover.py)."""
        found = moves(self, retired)
        for r in found:
            self.echo(f"{r.stack}/{r.logical_id}: moves from {r.held_by}/{r.held_as}; carried across with its data")
        if found:
            Takeover(self).carry(found)

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
            return StackResult(stack, "failed", aws_user_error(exc) or f"{type(exc).__name__}: {exc}")

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
