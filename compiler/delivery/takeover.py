"""takeover: `platformc adopt --yes` — adopt's plan, performed, with no resource ever deleted.

For each stack that holds resources of ours (another tool's, or one of this stage's when a
resource moved between spec files), in the plan's order:

- (a) retain: an update that sets `DeletionPolicy` and `UpdateReplacePolicy` to `Retain` on the
  resources that leave it, and changes nothing else (skipped when they already are);
- (b) remove: an update that removes them and the outputs that name them. What else in that
  stack refers to them (a function's environment, a role's policy) gets the value itself
  (a table's name, a queue's ARN, read from the service), and so does an output that another
  stack imports (CloudFormation refuses to remove or change an export in use; its value
  stays the same), so the old application keeps working until its cut-over.

then, for each of our stacks that takes resources, (c) import: an `IMPORT` change set. Its
template is the stack as deployed (nothing, for a new stack) plus each imported resource
with `Retain` policies and only the properties that must match the live resource — the
create-only ones (which the plan compared), the required ones, and a table's keys and
billing mode — so that (d) converge, an ordinary deploy of generated/<stage> judged by the
review gate, sets every other property of the spec explicitly. Then (e) CloudFormation's
drift detection on the adopted resources.

State lives in CloudFormation only: each run plans again (`adopt.plan`) and does what is
left — a resource already retained skips (a), one no stack holds is imported, one already
in our stack only converges. Each step is one CloudFormation operation that either completes
or rolls back, so after a failure or Ctrl-C every resource is in exactly one stack, or
retained and in none; never deleted. Around every step the data fingerprint (items, objects,
users; live.COUNTS) is read again, and any drop stops the run.

Where it can, (r) one CloudFormation stack refactoring (`CreateStackRefactor`) does (a)-(c)
for a holding stack at once: when the destinations are deployed and nothing in the holder
refers to what leaves nor the reverse (handover.refactorable); a refactoring CloudFormation
refuses changes nothing, and (a)-(c) follow. moto has none: on the emulator every move takes
(a)-(c) (docs/adopt.md).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .. import awstypes
from . import adopt, live
from .adopt import Located
from .handover import VALUES, custom_name, detached, import_resource, refactorable, retained
from .lifecycle import TERMINAL_OK, StackResult, summary
from .stage import DeployError, Interrupted

if TYPE_CHECKING:  # deploy runs the take-over's steps for moves (Deployer.carry_moves)
    from .deploy import Deployer

T = TypeVar("T")
# A stack another tool deployed may hold IAM resources with custom names, or macros.
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


class TakeoverError(DeployError):
    """The take-over stopped; the message says where, and that the next run resumes."""


def moves(d: Deployer, retired: list[tuple[str, str]]) -> list[Located]:
    """The resources of generated/ that another of this stage's deployed stacks (or `retired`
    ones, which left the spec) holds under the same custom name, or the same stack under
    another logical id: moved in the spec, carried by deploy (the review gate's MOVE).
    Only types CloudFormation imports (awstypes.IMPORT_IDENTIFIER) with a literal name."""
    held: dict[tuple[str, str], tuple[str, str, str]] = {}  # (type, name) -> (stack name, logical id, region)
    deployed = [(entry.name, entry.region) for stack, entry in sorted(d.manifest.stacks.items()) if d.describe(stack)]
    for name, region in deployed + retired:
        for logical, resource in d.deployed_template(d.client("cloudformation", region), name).get("Resources", {}).items():
            value = custom_name(resource)
            if resource["Type"] in awstypes.IMPORT_IDENTIFIER and value is not None:
                held[(resource["Type"], value)] = (name, logical, region)
    found = []
    for stack in (s for level in d.manifest.levels for s in level):
        entry = d.manifest.stacks[stack]
        for logical, resource in sorted(d.generated(stack).get("Resources", {}).items()):
            value = custom_name(resource)
            holder = held.get((resource["Type"], value)) if value is not None else None
            if holder is None or holder[:2] == (entry.name, logical):
                continue
            cfn = d.client("cloudformation", holder[2])
            physical = cfn.describe_stack_resource(StackName=holder[0], LogicalResourceId=holder[1])
            identifier = str(physical["StackResourceDetail"]["PhysicalResourceId"])
            count = live.COUNTS.get(resource["Type"])

            def client(service: str, region: str = entry.region) -> Any:
                return d.client(service, region)

            found.append(Located(stack, logical, resource["Type"], str(value), "move", identifier, holder[0], holder[1],
                                 count=count.read(client, identifier) if count and count.checked else None))
    return found


@dataclass
class Takeover:
    """Performs the plan (module docstring). `echo` lines say each step as it starts and ends."""

    deployer: Deployer
    results: list[StackResult] = field(default_factory=list)
    _step: str = "planning"

    def run(self) -> list[Located]:
        """The whole take-over (`adopt --yes`): plan, (a)-(c), then (d) deploy and (e) drift."""
        return self._stoppable(self._run, f"run `platformc adopt --stage {self.deployer.stage} --yes` again")

    def carry(self, moving: list[Located]) -> None:
        """Steps (a)-(c) for resources that moved between this stage's stacks (deploy's moves)."""
        self._stoppable(lambda: self._carry(moving), "run the same deploy again")

    def _stoppable(self, steps: Callable[[], T], resume: str) -> T:
        """Ctrl-C: nothing new starts; Interrupted says where it stopped and how to go on."""
        try:
            return steps()
        except KeyboardInterrupt:
            self.deployer.stopping.set()
            raise Interrupted(f"interrupted during {self._step}: every resource is in one stack, or retained and in "
                              f"none (CloudFormation finishes or rolls back an operation it started); {resume}: it "
                              "goes on from where this stopped") from None

    # ------------------------------------------------------------------ the steps
    def _run(self) -> list[Located]:
        d = self.deployer
        d.check_account()
        located = adopt.plan(d)
        if blocked := [r for r in located if r.verdict]:
            raise TakeoverError("nothing was changed: the plan has BLOCKED differences (" +
                                ", ".join(f"{r.stack}/{r.logical_id}" for r in blocked) + "); keep the live values in the spec")
        taking, before = self._carry(located)
        self._step = "step (d), the deploy that converges on the spec"
        d.echo("(d) converge: deploy generated/ (the review gate judges each change set)")
        self.results = d.deploy()
        if failed := [r for r in self.results if r.status in ("failed", "skipped")]:
            raise TakeoverError("(d) stopped: " + "; ".join(f"{r.stack} {r.status}: {r.detail}" for r in failed) +
                                "; the adopted resources are in our stacks; fix the cause and run adopt --yes (or deploy) again")
        self._check(before, taking, "(d)")
        self._step = "step (e), drift detection"
        self._drift(taking)
        return located

    def _carry(self, located: list[Located]) -> tuple[list[Located], dict[tuple[str, str], int]]:
        """(a) and (b) per holding stack, (c) per stack of ours, everything checked first; the
        data checked after each. Returns what was imported and the counts before."""
        d = self.deployer
        before = {(r.stack, r.logical_id): r.count for r in located if r.count is not None and live.COUNTS[r.type].checked}
        sources: dict[str, list[Located]] = {}
        for r in located:
            if r.action in ("adopt", "move") and r.held_by:
                sources.setdefault(r.held_by, []).append(r)
        prepared = {holder: self._prepare(holder, leaving) for holder, leaving in sources.items()}  # all checked first
        taking = [r for r in located if r.action in ("adopt", "move", "import")]
        for stack in sorted({r.stack for r in taking}):
            self._import_template(stack, [r for r in taking if r.stack == stack])  # checked before any change too
        if not taking:
            d.echo("take-over: nothing to retain, remove or import")
        refactorings = self._refactorings(sources, prepared)
        moved: set[tuple[str, str]] = set()  # what a stack refactoring moved: not imported in (c)
        for holder, leaving in sources.items():
            region, template, removal = prepared[holder]
            if holder in refactorings and self._refactor(holder, region, template, leaving, refactorings[holder]):
                moved |= {(r.stack, r.logical_id) for r in leaving}
                self._check(before, leaving, "(r)")
                continue
            logical_ids = sorted(r.held_as or "" for r in leaving)
            with_retain = retained(template, logical_ids)
            self._step = f"step (a), retaining {', '.join(logical_ids)} in {holder}"
            if with_retain is None:
                d.echo(f"(a) {holder}: {', '.join(logical_ids)} already retained (an earlier run)")
            else:
                self._update(holder, region, with_retain, "(a) retain")
            self._step = f"step (b), removing {', '.join(logical_ids)} from {holder}"
            self._update(holder, region, removal, "(b) remove")
            self._check(before, leaving, "(b)")
        for stack in [s for level in d.manifest.levels for s in level]:
            mine = [r for r in taking if r.stack == stack and (r.stack, r.logical_id) not in moved]
            if mine:
                self._step = f"step (c), importing into {d.stack_name(stack)}"
                self._import(stack, mine)
                self._check(before, mine, "(c)")
        return taking, before

    def _refactorings(self, sources: dict[str, list[Located]], prepared: dict[str, tuple[str, dict[str, Any], dict[str, Any]]]
                      ) -> dict[str, dict[str, dict[str, Any]]]:
        """The holding stacks whose leaving resources one stack refactoring moves, each with
        the deployed templates of the stacks they go to (handover.refactorable says when)."""
        d = self.deployer
        if sources and (why := d.refactoring()) is not None:
            d.echo(f"stack refactoring not used: {why}; each move takes steps (a)-(c)")
            return {}
        found = {}
        for holder, leaving in sources.items():
            region, template, _ = prepared[holder]
            names = {r.stack: d.manifest.stacks[r.stack].name for r in leaving}
            why = None
            if any(d.manifest.stacks[r.stack].region != region for r in leaving):
                why = "a destination is in another region"
            else:
                cfn = d.client("cloudformation", region)
                destinations = {names[s]: d.deployed_template(cfn, names[s]) for s in sorted(names) if d.describe(s)}
                why = refactorable(template, {r.held_as or "": (names[r.stack], r.logical_id) for r in leaving}, destinations)
            if why is None:
                found[holder] = destinations
            else:
                d.echo(f"{holder}: steps (a)-(c), not one stack refactoring: {why}")
        return found

    def _refactor(self, holder: str, region: str, template: dict[str, Any], leaving: list[Located],
                  destinations: dict[str, dict[str, Any]]) -> bool:
        """(r): one stack refactoring moves `leaving` from `holder` into our stacks, each
        resource declared there exactly as `holder` declares it (step d converges it). False:
        CloudFormation refused it at creation, nothing changed, and (a)-(c) take over."""
        d = self.deployer
        cfn = d.client("cloudformation", region)
        resources = template["Resources"]
        gone = {r.held_as or "" for r in leaving}
        definitions = [{"StackName": holder, **d.template_upload(holder, json.dumps(
            {**template, "Resources": {k: v for k, v in resources.items() if k not in gone}}, indent=1, sort_keys=True))}]
        for name, deployed in sorted(destinations.items()):
            arriving = {r.logical_id: resources[r.held_as or ""] for r in leaving if d.manifest.stacks[r.stack].name == name}
            body = {**deployed, "Resources": {**deployed.get("Resources", {}), **arriving}}
            definitions.append({"StackName": name, **d.template_upload(name, json.dumps(body, indent=1, sort_keys=True))})
        mappings = [{"Source": {"StackName": holder, "LogicalResourceId": r.held_as or ""},
                     "Destination": {"StackName": d.manifest.stacks[r.stack].name, "LogicalResourceId": r.logical_id}}
                    for r in sorted(leaving, key=lambda r: r.held_as or "")]
        label = f"(r) refactor {', '.join(sorted(gone))} out of {holder}"
        self._step = f"{label} (a stack refactoring)"
        refactor = cfn.create_stack_refactor(Description=f"platformc: {', '.join(sorted(gone))} into our stacks",
                                             StackDefinitions=definitions, ResourceMappings=mappings)["StackRefactorId"]
        described = self._wait_refactor(cfn, refactor, "Status", "CREATE_IN_PROGRESS")
        if described["Status"] != "CREATE_COMPLETE":
            d.echo(f"{label}: refused ({described.get('StatusReason', described['Status'])}); nothing changed, "
                   "steps (a)-(c) move them instead")
            return False
        d.echo(f"{label}: " + ", ".join(f"{r.held_as} -> {d.manifest.stacks[r.stack].name}/{r.logical_id}"
                                         for r in sorted(leaving, key=lambda r: r.held_as or "")))
        cfn.execute_stack_refactor(StackRefactorId=refactor)
        described = self._wait_refactor(cfn, refactor, "ExecutionStatus", "AVAILABLE", "EXECUTE_IN_PROGRESS",
                                        "ROLLBACK_IN_PROGRESS")
        if described["ExecutionStatus"] != "EXECUTE_COMPLETE":
            raise TakeoverError(f"{label}: {described['ExecutionStatus']} ({described.get('ExecutionStatusReason', '')}); "
                                "CloudFormation rolled it back, so every resource is where it was before this step; fix "
                                "the cause and run again")
        d.echo(f"{label}: done")
        return True

    def _wait_refactor(self, cfn: Any, refactor: str, field_: str, *waiting: str) -> dict[str, Any]:
        d = self.deployer
        while True:
            described: dict[str, Any] = cfn.describe_stack_refactor(StackRefactorId=refactor)
            if described.get(field_) not in waiting:
                return described
            if d.stopping.is_set():
                raise KeyboardInterrupt
            time.sleep(d.poll)

    def _prepare(self, holder: str, leaving: list[Located]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(region, its template now, the template without the leaving resources): refuses
        before any change when that removal cannot be made safely."""
        d = self.deployer
        region = d.manifest.stacks[leaving[0].stack].region
        cfn = d.client("cloudformation", region)
        template = adopt._held_template(cfn, holder)
        if template is None:
            raise TakeoverError(f"nothing was changed: {holder}'s template is not JSON; convert it (CloudFormation "
                                "keeps the original as written) or move its resources by hand (docs/review.md)")
        values = {r.held_as or "": (lambda r=r: VALUES[r.type](lambda s: d.client(s, region), r.identifier or "", region))
                  for r in leaving}
        in_use = adopt.exports_in_use(d, cfn, holder, template, set(values))
        if in_use and any(r.action == "move" for r in leaving):
            users = sorted({u for _, stacks in in_use.values() for u in stacks})
            raise TakeoverError(f"nothing was changed: {', '.join(e for e, _ in in_use.values())} of {holder} "
                                f"cannot move while {', '.join(users)} import(s) it: {holder} cannot drop an export in use, "
                                "and the new stack cannot create it while it holds it (the review gate reports this move "
                                "BLOCKED); keep the resource where it is, or release the export first")
        for key, (export, stacks) in sorted(in_use.items()):
            d.echo(f"{holder}: output {key} (export {export}) stays, its value written out: {', '.join(stacks)} import it")
        removal, _, unresolved = detached(template, values, frozenset(in_use))  # type: ignore[arg-type]
        if unresolved:
            raise TakeoverError(f"nothing was changed: {holder} refers to what leaves it in ways not rewritten: "
                                f"{', '.join(unresolved)}")
        return region, template, removal

    def _import_template(self, stack: str, taking: list[Located]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Our stack as deployed (nothing, for a new stack) plus the imported resources, and the
        stack as described (None: new); refuses a resource whose properties that must match
        cannot be declared."""
        d = self.deployer
        entry = d.manifest.stacks[stack]
        existing = d.describe(stack)
        base = d.deployed_template(d.client("cloudformation", entry.region), entry.name) if existing else {
            "AWSTemplateFormatVersion": "2010-09-09", "Description": d.generated(stack).get("Description", ""), "Resources": {}}
        present = frozenset(base["Resources"]) | frozenset(base.get("Parameters") or {}) | {r.logical_id for r in taking}
        resources = dict(base["Resources"])
        for r in taking:
            declared, computed = import_resource(d.generated(stack)["Resources"][r.logical_id], entry.region, present)
            if computed:
                raise TakeoverError(f"nothing was changed: {stack}/{r.logical_id} cannot be imported: its "
                                    f"{', '.join(computed)} (must match the live resource) refers to what the import "
                                    "cannot hold")
            resources[r.logical_id] = declared
        return {**base, "Resources": resources}, existing

    def _update(self, holder: str, region: str, template: dict[str, Any], label: str) -> None:
        """One update of a stack we do not deploy: its parameters and capabilities kept."""
        d = self.deployer
        cfn = d.client("cloudformation", region)
        current = d.lifecycle.describe(cfn, holder) or {}
        args: dict[str, Any] = {"StackName": holder, "Capabilities": CAPABILITIES,
                                "Parameters": [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
                                               for p in current.get("Parameters", [])],
                                **d.template_upload(holder, json.dumps(template, indent=1, sort_keys=True))}
        self._change_set(cfn, holder, f"{label} {holder}", args, update=True)

    def _import(self, stack: str, taking: list[Located]) -> None:
        d = self.deployer
        entry = d.manifest.stacks[stack]
        cfn = d.client("cloudformation", entry.region)
        skipped = [r for r in taking if not d.importable(r.type)]
        for r in skipped:
            d.echo(f"(c) {stack}/{r.logical_id}: {d.importable_note(r.type)}")
        taking = [r for r in taking if r not in skipped]
        if not taking:
            return
        template, existing = self._import_template(stack, taking)
        args: dict[str, Any] = {
            "StackName": entry.name, "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "ResourcesToImport": [{"ResourceType": r.type, "LogicalResourceId": r.logical_id,
                                   "ResourceIdentifier": r.resource_identifier} for r in taking],
            **d.template_upload(entry.name, json.dumps(template, indent=1, sort_keys=True))}
        if existing:
            args["Parameters"] = [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in existing.get("Parameters", [])]
        if not entry.bootstrap and (role := d.execution_role()) is not None:
            args["RoleARN"] = role
        self._change_set(cfn, entry.name, f"(c) import into {entry.name}", args, update=existing is not None, kind="IMPORT")

    def _change_set(self, cfn: Any, name: str, label: str, args: dict[str, Any], update: bool, kind: str | None = None) -> None:
        d = self.deployer
        change_set = f"platformc-adopt-{int(time.time() * 1000)}"
        described = d.lifecycle.create_change_set(cfn, name, change_set, args, update, kind)
        if described is None:
            d.echo(f"{label}: no changes")
            return
        if described["Status"] == "FAILED":
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            raise TakeoverError(f"{label}: change set failed: {described.get('StatusReason', '')}; nothing of it was applied")
        d.echo(summary(label, described))
        cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
        status = d.lifecycle.wait(cfn, name, label)
        if status not in TERMINAL_OK:
            raise TakeoverError(f"{label}: {status}; CloudFormation rolled it back, so every resource is where it was "
                                "before this step; fix the cause and run adopt --yes again")
        d.echo(f"{label}: done ({status})")

    def _check(self, before: dict[tuple[str, str], int], resources: list[Located], step: str) -> None:
        """The data fingerprint again: a drop stops the run."""
        d = self.deployer
        for r in resources:
            was = before.get((r.stack, r.logical_id))
            if was is None or r.identifier is None:
                continue
            region = d.manifest.stacks[r.stack].region
            now = live.COUNTS[r.type].read(lambda s: d.client(s, region), r.identifier)
            words = live.COUNTS[r.type]
            d.echo(f"{step} data check {r.stack}/{r.logical_id}: {words.short(now)} (before: {words.short(was)})")
            if now < was:
                raise TakeoverError(f"data check after {step}: {r.name} held {words.short(was)} before the take-over and "
                                    f"{words.short(now)} now: stopped; nothing further was changed (the resource is "
                                    "where this step left it; find out what removed the data before running adopt again)")

    def _drift(self, taking: list[Located]) -> None:
        d = self.deployer
        stacks = sorted({r.stack for r in taking})
        if not stacks:
            return
        drifts, unchecked = d.resource_drift(stacks)
        if unchecked:
            d.echo(f"(e) drift: {unchecked}")
            return
        adopted = {(r.stack, r.logical_id) for r in taking}
        found = [x for x in drifts if (x.stack, x.logical_id) in adopted]
        for drift in found:
            d.echo(f"(e) drift {drift.stack}/{drift.logical_id}: {drift.status} {'; '.join(drift.differences)}")
        if not found:
            d.echo(f"(e) drift: none on the {len(adopted)} adopted resources")
