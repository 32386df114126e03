"""diff: what a change to the spec will do when deployed, and what it risks.

Compares the templates the current spec compiles to with those committed under
generated/ at a git ref (or deployed), for a whole stage at once, and gives each change
findings: a verdict, its cause, what happens, and the fix in words.

- REPLACE: a property cannot change in place (awstypes: provider schemas plus known
  cases; updates: key attribute types, index definitions), the type changed, or a
  resource it depends on is replaced and the new id reaches a create-only property.
- DATA LOSS / RETAINED: a resource that holds data (awstypes.STATEFUL) is deleted or
  replaced; RETAINED when its policy is Retain (the old one stays, outside the stack).
- BLOCKED: the deploy is certain to fail: an identity (custom name, or a value unique
  inside a parent) still held when CloudFormation creates the new resource (it creates
  before it deletes), an immutable user pool schema, an export in use removed, moved or
  changed, a stack removed while others import from it.
- BROADENS: access widens (compiler/review/access.py): a role, trust policy, resource policy or
  Lambda permission allows what it did not, a route or authorizer checks less, access held in
  settings widens; or a new role reaches an admin or destructive level (principals.py). A review
  risk (exit 4, a reviewer's approval of the commit lets it through the gate), not a deploy hazard: deploy executes it.
- STEPS: not a risk: the change needs several updates of one stack (DynamoDB creates or
  deletes one index per update), which `platformc deploy` applies one after another.
- MOVE without a verdict: not a risk: a resource of a type CloudFormation imports keeps its
  custom name in another place; deploy carries it across with its data (retain, remove,
  import: delivery/takeover.py), so its removal from the old place is no deletion.

Deploy order matters for moves between stacks, so compare takes the stage's levels from
the new manifest. Pure comparison over JSON; the only I/O is `committed()`, which asks git.

Why one module of this length: its passes (cascades, changes, moves, exports) read and
write one context, `_Stage` (both sides, their exports, what is replaced, what is carried),
in an order where each pass needs the one before; the property comparison, the update
steps and access already live apart (properties, updates, access).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from . import access, principals, settings, updates
from ..awstypes import IMPORT_IDENTIFIER, STATEFUL, create_only, facts, update_fails
from ..manifest import Manifest
from .committed import committed, committed_stages, resolve_ref
from .findings import BLOCKED, BROADENS, CASCADE, CREATE_ONLY, DATA, DATA_LOSS, DESTRUCTIVE, Diff, EXPORT_IN_USE, Finding, IMMUTABLE_SCHEMA, INDEX_RULE, KEY_TYPE, MOVE, NAME_COLLISION, PRODUCER_REMOVED, PropertyChange, REPLACE, RETAINED, RISKS, ResourceChange, STACK_LEFT, STEPS, StackChange, TYPE_CHANGE, UNIQUE_IN_PARENT, UPDATE_FAILS
from .properties import at_path, property_changes, references

# The review gate's one entry point: compare (here) and what it returns (findings), the
# property comparison (properties) and the committed templates (committed).
__all__ = ['BLOCKED', 'BROADENS', 'CASCADE', 'CREATE_ONLY', 'DATA', 'DATA_LOSS', 'DESTRUCTIVE', 'Diff', 'EXPORT_IN_USE', 'Finding', 'IMMUTABLE_SCHEMA', 'INDEX_RULE', 'KEY_TYPE', 'MOVE', 'NAME_COLLISION', 'PRODUCER_REMOVED', 'PropertyChange', 'REPLACE', 'RETAINED', 'RISKS', 'ResourceChange', 'STACK_LEFT', 'STEPS', 'StackChange', 'TYPE_CHANGE', 'UNIQUE_IN_PARENT', 'UPDATE_FAILS', 'committed', 'committed_stages', 'compare', 'property_changes', 'resolve_ref']

IMPORT_STEPS = (
    "carry it across with resource import: (1) deploy the old stack with the resource removed and "
    "DeletionPolicy Retain (protected stages already retain it), (2) create the new stack's change set with "
    "ChangeSetType IMPORT and ResourcesToImport naming it, (3) deploy the rest of the new stack "
    "(docs/review.md, 'Moving a resource between stacks')"
)


# ------------------------------------------------------------------------------------ the stage


@dataclass
class _Stage:
    """Everything compare needs about both sides of one stage."""

    old: Mapping[str, dict[str, Any]]
    new: Mapping[str, dict[str, Any]]
    old_manifest: Manifest
    new_manifest: Manifest
    replaced: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # (stack, logical) -> (cause, why)
    # Replaced resources that get a new id: all but those that keep their custom name (whose
    # Ref and ARN stay the same; their replacement is BLOCKED anyway).
    fresh: set[tuple[str, str]] = field(default_factory=set)
    _exports: dict[str, dict[str, tuple[str, Any]]] = field(default_factory=dict)
    # (stack, logical) of the old side that deploy carries to a new place (retain, remove, import)
    carried: set[tuple[str, str]] = field(default_factory=set)

    def resources(self, side: str, stack: str) -> dict[str, dict[str, Any]]:
        template = (self.old if side == "old" else self.new).get(stack) or {}
        return dict(template.get("Resources") or {})

    def exports(self, side: str) -> dict[str, tuple[str, Any]]:
        """export name -> (producer stack, value); the templates do not change, so once per side."""
        if side in self._exports:
            return self._exports[side]
        found: dict[str, tuple[str, Any]] = {}
        for stack, template in (self.old if side == "old" else self.new).items():
            for output in (template.get("Outputs") or {}).values():
                name = (output.get("Export") or {}).get("Name")
                if isinstance(name, str):
                    found[name] = (stack, output.get("Value"))
        self._exports[side] = found
        return found

    def importers(self, name: str) -> list[str]:
        return sorted(self.old_manifest.importers(name))

    def level(self, stack: str) -> int | None:
        return self.new_manifest.level_of(stack)

    def changed_exports(self) -> set[str]:
        """Exports whose value changes because what they point at is replaced."""
        old_exports = self.exports("old")
        return {
            name
            for name, (stack, value) in old_exports.items()
            if any(kind == "local" and (stack, ref) in self.fresh for kind, ref in references(value))
        }

    def touches_replaced(self, stack: str, value: Any) -> str | None:
        """The replaced resource (or changed export) a value refers to, if any."""
        changed = self.changed_exports()
        for kind, ref in references(value):
            if kind == "local" and (stack, ref) in self.fresh:
                return ref
            if kind == "import" and ref in changed:
                return f"export {ref}"
        return None


def _direct_replacement(old: dict[str, Any], new: dict[str, Any], region: str) -> tuple[str, str] | None:
    """(cause, why) when a change of this resource's own properties replaces it."""
    if old["Type"] != new["Type"]:
        return TYPE_CHANGE, f"the type changes ({old['Type']} -> {new['Type']})"
    before, after = old.get("Properties") or {}, new.get("Properties") or {}
    immutable = sorted(p for p in create_only(old["Type"], region) if before.get(p) != after.get(p))
    if immutable:
        return CREATE_ONLY, f"{', '.join(immutable)} cannot change in place"
    if old["Type"] == updates.TABLE and (keys := updates.key_type_changes(before, after)):
        return KEY_TYPE, f"a key attribute changes type ({', '.join(keys)})"
    return None


def _cascade(stage: _Stage, region: str) -> None:
    """Replacements from property changes, then those that follow from them: a new id that
    reaches a create-only property of a dependent (in the stack or through an export)."""
    for stack in sorted(set(stage.old) & set(stage.new)):
        before, after = stage.resources("old", stack), stage.resources("new", stack)
        for logical in sorted(set(before) & set(after)):
            if judged := _direct_replacement(before[logical], after[logical], region):
                _replace(stage, stack, logical, *judged)
    _moved_anew(stage)
    grew = True
    while grew:
        grew = False
        for stack in sorted(set(stage.old) & set(stage.new)):
            before, after = stage.resources("old", stack), stage.resources("new", stack)
            for logical in sorted(set(before) & set(after)):
                if (stack, logical) in stage.replaced or before[logical]["Type"] != after[logical]["Type"]:
                    continue
                props = after[logical].get("Properties") or {}
                for prop in sorted(create_only(after[logical]["Type"], region)):
                    if prop in props and (cause := stage.touches_replaced(stack, props[prop])):
                        _replace(stage, stack, logical, CASCADE, f"{prop} takes a new value: {cause} is replaced")
                        grew = True
                        break


def _moved_anew(stage: _Stage) -> None:
    """A resource with no custom name that moves to another stack (its file renamed or split)
    is created anew there, with a new physical id: what imports its exports gets a new value,
    and the cascade follows that into the importers' create-only properties."""
    for stack in sorted(stage.old):
        after_here = stage.resources("new", stack)
        for logical, resource in sorted(stage.resources("old", stack).items()):
            if logical in after_here or facts(resource["Type"]).name:
                continue
            if any((stage.resources("new", other).get(logical) or {}).get("Type") == resource["Type"]
                   for other in stage.new if other != stack):
                stage.fresh.add((stack, logical))


def _replace(stage: _Stage, stack: str, logical: str, cause: str, why: str) -> None:
    stage.replaced[(stack, logical)] = (cause, why)
    name = facts(stage.resources("old", stack)[logical]["Type"]).name
    old_props = stage.resources("old", stack)[logical].get("Properties") or {}
    new_props = stage.resources("new", stack)[logical].get("Properties") or {}
    if not (name and at_path(old_props, name) is not None and at_path(old_props, name) == at_path(new_props, name)):
        stage.fresh.add((stack, logical))


def _identities(stage: _Stage, side: str, stack: str, logical: str, resource: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(kind, key, label) triples that must be unique: custom names and values unique inside a parent.

    A parent given by reference is canonicalised to the resource it names (through exports),
    so a route moved from an importing stack to the API's own stack keeps its identity; a
    reference to a replaced resource gets a fresh parent (the new one has a new id)."""
    props = resource.get("Properties") or {}
    info = facts(resource["Type"])
    found: list[tuple[str, str, str]] = []
    if info.name:
        value = at_path(props, info.name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                found.append((NAME_COLLISION, json.dumps([resource["Type"], item]), f"custom name ({info.name} {item})"))
    if info.unique_in:
        parent_prop, key_props = info.unique_in
        parent = _canonical(stage, side, stack, props.get(parent_prop))
        keys = [str(props.get(k)) for k in key_props if isinstance(props.get(k), str)]
        if parent is not None and len(keys) == len(key_props):
            label = " ".join(["+".join(key_props) or resource["Type"], *keys, f"within its {parent_prop}"])
            found.append((UNIQUE_IN_PARENT, json.dumps([resource["Type"], parent, keys], sort_keys=True), label))
    return found


def _canonical(stage: _Stage, side: str, stack: str, value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Fn::ImportValue" and isinstance(arg, str):
            producer = stage.exports(side).get(arg)
            return _canonical(stage, side, producer[0], producer[1]) if producer else ["import", arg]
        if fn in ("Ref", "Fn::GetAtt"):
            logical = arg if fn == "Ref" else arg[0]
            fresh = side == "new" and (stack, logical) in stage.fresh
            return [fn, stack, logical, "new" if fresh else ""] if fn == "Ref" else [fn, stack, *arg, "new" if fresh else ""]
    if isinstance(value, dict):
        return {k: _canonical(stage, side, stack, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(stage, side, stack, v) for v in value]
    return value


def _data_findings(resource: dict[str, Any], policy: str, what: str) -> list[Finding]:
    kind = resource["Type"]
    if kind not in STATEFUL:
        return []
    info = facts(kind)
    if resource.get(policy) == "Retain":
        return [Finding(RETAINED, DATA, f"{policy} Retain: the old {kind} stays, with {info.data}, outside the stack, when {what}",
                        "delete it by hand once it is no longer needed, or import it into a stack")]
    message = f"the {kind} is deleted, with {info.data}, when {what}"
    if info.delete == "fails if not empty":
        message = (f"the {kind} is deleted when {what} if it is empty; if it holds {info.data}, the delete fails and "
                   "CloudFormation leaves it outside the stack, its name still taken")
    elif info.delete == "scheduled":
        message = f"the {kind} is scheduled for deletion when {what}, with {info.data}; its name stays taken meanwhile"
    return [Finding(DATA_LOSS, DATA, message, "copy the data first, or keep the resource (retain: true)")]


def _modify(stage: _Stage, stack: str, logical: str, old: dict[str, Any], new: dict[str, Any], region: str) -> ResourceChange | None:
    source = ((new.get("Metadata") or {}).get("Source"))
    cause, replaced_why = stage.replaced.get((stack, logical), ("", ""))
    immutable = create_only(old["Type"], region)
    changes = [
        PropertyChange(path, before, after, bool(replaced_why) and re.split(r"[.#\[]", path)[0] in immutable)
        for path, before, after in property_changes(old.get("Properties", {}), new.get("Properties", {}))
    ]
    changes += [PropertyChange(k, old.get(k), new.get(k)) for k in ("DeletionPolicy", "UpdateReplacePolicy") if old.get(k) != new.get(k)]
    findings: list[Finding] = []
    if replaced_why:
        findings.append(Finding(REPLACE, cause, f"{replaced_why}: CloudFormation replaces the resource"))
        findings += _data_findings(old, "UpdateReplacePolicy", "replaced")
        kept = {key for _, key, _ in _identities(stage, "new", stack, logical, new)}
        for kind, _, label in [i for i in _identities(stage, "old", stack, logical, old) if i[1] in kept][:1]:
            findings.append(Finding(
                BLOCKED, kind,
                f"the replacement keeps its {label}: CloudFormation creates the new resource before it deletes the old "
                "one, and the create fails",
                "give it a new name in the spec (the new resource is created beside the old one; move the data, then "
                "remove the old one), or remove it in one change and add it back in the next (losing its data)",
            ))
    elif via := stage.touches_replaced(stack, new.get("Properties")):
        findings.append(Finding("", CASCADE, f"updated in place: {via} is replaced and this resource refers to it"))
    if old["Type"] == new["Type"] == updates.TABLE and not replaced_why:
        findings += _index_findings(old.get("Properties", {}), new.get("Properties", {}))
    if old["Type"] == new["Type"]:
        before, after = old.get("Properties") or {}, new.get("Properties") or {}
        findings += [
            Finding(BLOCKED, UPDATE_FAILS, f"{prop} cannot be updated: CloudFormation fails the update (it does not "
                    f"replace a {new['Type']} for it): {json.dumps(before.get(prop))} -> {json.dumps(after.get(prop))}",
                    "keep the value; to change it, declare a new resource under a new name beside this one and move "
                    "to it")
            for prop in sorted(update_fails(new["Type"])) if before.get(prop) != after.get(prop)
        ]
    if old["Type"] == new["Type"] == updates.USER_POOL:
        findings += [
            Finding(BLOCKED, IMMUTABLE_SCHEMA, f"{problem}: the update fails",
                    "keep the attribute as it was; add an optional custom attribute instead, or create a new pool and "
                    "migrate the users")
            for problem in updates.schema_problems(old.get("Properties", {}), new.get("Properties", {}))
        ]
    users = access.role_users(stage.resources("new", stack), logical) if new["Type"] == access.ROLE else []
    findings += [Finding(BROADENS, w.cause, w.message, w.advice)
                 for w in access.widening(old, new, users) + settings.widening(old, new)]
    if not changes and not findings:
        return None
    return ResourceChange(logical, new["Type"], "modify", source, tuple(changes), tuple(findings))


# Shown for an added resource besides its name, create-only properties and access: what a
# reviewer checks first (the rest is in the template diff).
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::Lambda::Function": ("Runtime", "Handler", "MemorySize", "Timeout", "ReservedConcurrentExecutions",
                              "Environment.Variables"),
    "AWS::DynamoDB::Table": ("BillingMode", "GlobalSecondaryIndexes", "PointInTimeRecoverySpecification", "SSESpecification",
                             "StreamSpecification"),
    "AWS::SQS::Queue": ("RedrivePolicy", "VisibilityTimeout", "MessageRetentionPeriod", "KmsMasterKeyId", "SqsManagedSseEnabled"),
    "AWS::S3::Bucket": ("PublicAccessBlockConfiguration", "BucketEncryption", "VersioningConfiguration", "OwnershipControls",
                        "LoggingConfiguration"),
    "AWS::CloudWatch::Alarm": ("Namespace", "MetricName", "Statistic", "ComparisonOperator", "Threshold", "EvaluationPeriods"),
    "AWS::Events::Rule": ("EventPattern", "Targets"),
    "AWS::Lambda::EventSourceMapping": ("EventSourceArn", "BatchSize"),
    "AWS::Logs::LogGroup": ("RetentionInDays",),
}


def _leaves(path: str, value: Any) -> list[tuple[str, Any]]:
    """A mapping as its leaves (`Environment.Variables.TABLE`), intrinsics shown as `${...}`."""
    if isinstance(value, dict) and value and not any(k == "Ref" or k.startswith("Fn::") for k in value):
        return [leaf for key in sorted(value) for leaf in _leaves(f"{path}.{key}", value[key])]
    return [(path, access.show(value) if isinstance(value, dict) else value)]


def _added(logical: str, resource: dict[str, Any], region: str) -> ResourceChange:
    """An added resource with what a reviewer needs without opening the template: its name,
    create-only and key properties, and its access in full."""
    kind, props = resource["Type"], resource.get("Properties") or {}
    paths = [p for p in (facts(kind).name,) if p] + sorted(create_only(kind, region)) + list(KEY_PROPERTIES.get(kind, ()))
    shown = tuple(leaf for p in dict.fromkeys(paths) if at_path(props, p) is not None for leaf in _leaves(p, at_path(props, p)))
    shown += tuple((k, resource[k]) for k in ("DeletionPolicy",) if k in resource)
    policies = tuple(access.policy_lines(resource)) if kind in access.ACCESS_TYPES else ()
    return ResourceChange(logical, kind, "add", (resource.get("Metadata") or {}).get("Source"), properties=shown, access=policies)


def _index_findings(old: dict[str, Any], new: dict[str, Any]) -> list[Finding]:
    plan = updates.index_plan(old, new)
    findings = [
        Finding(REPLACE, INDEX_RULE,
                f"index {name} changes its key schema or projection: DynamoDB cannot change an index in place, so deploy "
                "deletes it and creates it again in separate updates; queries on it fail until it is backfilled",
                f"to keep it available, add the new definition under a new name, move the readers, then remove {name}")
        for name in plan.redefined
    ]
    if plan.operations > 1:
        findings.append(Finding(
            STEPS, INDEX_RULE,
            f"{plan.operations} index operations ({_plan_text(plan)}): CloudFormation creates or deletes one global "
            f"secondary index per update, so `platformc deploy` applies them as {plan.operations} updates of this stack",
            "nothing to do with platformc deploy; elsewhere, deploy one index change at a time",
        ))
    return findings


def _plan_text(plan: updates.IndexPlan) -> str:
    parts = [f"delete {n}" for n in plan.removed] + [f"rebuild {n}" for n in plan.redefined] + [f"create {n}" for n in plan.added]
    return ", ".join(parts)


def _moves(stage: _Stage, changes: dict[str, dict[str, ResourceChange]], region: str) -> None:
    """Identities that leave one place and appear in another: renames within a stack, moves
    between stacks, stacks renamed or split. CloudFormation creates before it deletes."""
    held: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for stack in sorted(stage.old):
        for logical, resource in sorted(stage.resources("old", stack).items()):
            for _, key, _ in _identities(stage, "old", stack, logical, resource):
                held[key] = (stack, logical, resource)
    for stack in sorted(stage.new):
        for logical, resource in sorted(stage.resources("new", stack).items()):
            if logical in stage.resources("old", stack):
                continue  # same place: a replacement, judged in _modify
            for kind, key, label in _identities(stage, "new", stack, logical, resource):
                if key not in held:
                    continue
                old_stack, old_logical, old_resource = held[key]
                if kind == NAME_COLLISION and old_resource["Type"] == resource["Type"] in IMPORT_IDENTIFIER:
                    _carry(stage, changes, stack, logical, resource, old_stack, old_logical, label, region)
                    break
                finding = _move_finding(stage, kind, label, stack, logical, old_stack, old_logical, old_resource)
                if finding:
                    _add(changes, stack, logical, resource, finding, region)
                break


def _carry(stage: _Stage, changes: dict[str, dict[str, ResourceChange]], stack: str, logical: str, resource: dict[str, Any],
           old_stack: str, old_logical: str, label: str, region: str) -> None:
    """A resource of a type CloudFormation imports, under the same custom name in a new place:
    deploy carries it across with its data (delivery/takeover.py: retained, removed from the
    old stack, imported into the new one), so the move is no risk and its removal no deletion."""
    stage.carried.add((old_stack, old_logical))
    where = f"{old_stack}/{old_logical}"
    _add(changes, stack, logical, resource, Finding("", MOVE, (
        f"moves from {where} ({label}): deploy carries it across with its data (one stack refactoring where "
        f"CloudFormation allows it, else retained, removed from {old_stack} and imported into {stack}); nothing is "
        "deleted"), ""), region)
    gone = changes.get(old_stack, {}).get(old_logical)
    if gone is not None and gone.action == "remove":
        kept = tuple(f for f in gone.findings if f.cause != DATA)
        changes[old_stack][old_logical] = replace(gone, findings=(*kept, Finding("", MOVE, (
            f"moves to {stack}/{logical}: retained and removed here, imported there (not deleted)"), "")))


def _move_finding(stage: _Stage, kind: str, label: str, stack: str, logical: str, old_stack: str, old_logical: str,
                  old: dict[str, Any]) -> Finding | None:
    what = label
    stateful = old["Type"] in STATEFUL
    fix = IMPORT_STEPS if stateful else "remove it in one deploy and add it in the next (a short gap), or keep its old place"
    if old_stack == stack:
        return Finding(BLOCKED, kind,
                       f"its {label} is still held by {old_logical}, which this stack deletes only after it creates {logical}",
                       f"keep the old spec key; to move the data: {IMPORT_STEPS}" if stateful
                       else "keep the old spec key, or remove it in one deploy and add it in the next (a short gap)")
    if old_stack not in stage.new:
        retained = old.get("DeletionPolicy") == "Retain"
        if retained:
            return Finding(BLOCKED, MOVE,
                           f"moves from {old_stack} (which left the spec) to {stack}: {old_stack} retains {old_logical} "
                           f"when it is deleted, and the retained resource keeps the {what}", IMPORT_STEPS)
        return Finding(DATA_LOSS if stateful else "", MOVE,
                       f"moves from {old_stack} (which left the spec) to {stack}: `platformc deploy --prune` deletes "
                       f"{old_stack} first{', with the data' if stateful else ''}, then {stack} creates it",
                       IMPORT_STEPS if stateful else "")
    if old.get("DeletionPolicy") == "Retain":
        return Finding(BLOCKED, MOVE,
                       f"moves from {old_stack} to {stack}: {old_stack} retains {old_logical} (DeletionPolicy Retain), "
                       f"and the retained resource keeps the {what}", IMPORT_STEPS)
    old_level, new_level = stage.level(old_stack), stage.level(stack)
    if old_level is not None and new_level is not None and old_level < new_level:
        return Finding(DATA_LOSS if stateful else "", MOVE,
                       f"moves from {old_stack} to {stack}: {old_stack} deploys first and deletes it"
                       f"{' with its data' if stateful else ''}, then {stack} creates it", IMPORT_STEPS if stateful else "")
    order = "in the same deploy level as" if old_level == new_level else "before"
    return Finding(BLOCKED, MOVE,
                   f"moves from {old_stack} to {stack}: {stack} deploys {order} {old_stack}, so it creates the resource "
                   f"while {old_stack} still holds the {what}", fix)


def _add(changes: dict[str, dict[str, ResourceChange]], stack: str, logical: str, resource: dict[str, Any], finding: Finding,
         region: str) -> None:
    current = changes.setdefault(stack, {}).get(logical) or _added(logical, resource, region)
    changes[stack][logical] = replace(current, findings=(*current.findings, finding))


def _principals(stage: _Stage, changes: dict[str, dict[str, ResourceChange]]) -> None:
    """New roles: renamed ones (a note), and those reaching an admin or destructive level
    (BROADENS: principals.py)."""
    def roles(kind: str) -> dict[tuple[str, str], dict[str, Any]]:
        side = "new" if kind == "add" else "old"
        return {(stack, logical): stage.resources(side, stack)[logical] for stack, held in changes.items()
                for logical, change in held.items() if change.action == kind and change.type == access.ROLE}

    judged = principals.judge(roles("add"), roles("remove"), dict(stage.new), dict(stage.old))
    for (stack, logical), finding in judged.items():
        change = changes[stack][logical]
        changes[stack][logical] = replace(change, findings=(*change.findings, finding))


def _export_findings(stage: _Stage) -> dict[str, list[Finding]]:
    """Exports that deployed stacks import, and what the change does to them."""
    found: dict[str, list[Finding]] = {}
    old_exports, new_exports = stage.exports("old"), stage.exports("new")
    changed = stage.changed_exports()
    for name in sorted(old_exports):
        stack, _ = old_exports[name]
        importers = [s for s in stage.importers(name) if s != stack]
        moved_to = new_exports.get(name, (None, None))[0]
        if moved_to not in (None, stack) and not importers:
            old_level, new_level = stage.level(stack), stage.level(moved_to or "")
            carried = any(kind == "local" and (stack, ref) in stage.carried for kind, ref in references(old_exports[name][1]))
            if carried:
                continue  # deploy removes it from the old stack (with the resource) before the new one deploys
            if stack in stage.new and (old_level is None or new_level is None or old_level >= new_level):
                found.setdefault(stack, []).append(Finding(
                    BLOCKED, MOVE, f"export {name} moves from {stack} to {moved_to}, which deploys before or with {stack} "
                    "and cannot create an export another stack still holds", "keep the resource in its stack, or move it "
                    "in two changes: remove it from the old stack first"))
            continue
        if not importers:
            continue
        users = ", ".join(importers)
        if name not in new_exports:
            if stack in stage.new:
                found.setdefault(stack, []).append(Finding(
                    BLOCKED, EXPORT_IN_USE, f"export {name} is removed while {users} still import(s) it: CloudFormation refuses",
                    f"Deploy {users} first (without the import), then {stack}"))
            else:
                found.setdefault(stack, []).append(Finding(
                    BLOCKED, PRODUCER_REMOVED, f"stack {stack} is removed while {users} still import(s) {name}",
                    f"deploy {users} first so they release it, then delete {stack}"))
        elif moved_to != stack:
            found.setdefault(stack, []).append(Finding(
                BLOCKED, MOVE, f"export {name} moves from {stack} to {moved_to} while {users} import(s) it: {stack} cannot "
                f"drop it while it is imported, and {moved_to} cannot create it while {stack} holds it",
                f"keep the resource in {stack}; or release it in steps: point {users} at something else, deploy, move, "
                "then point them back"))
        elif name in changed:
            found.setdefault(stack, []).append(Finding(
                BLOCKED, EXPORT_IN_USE, f"export {name} changes value (its resource is replaced) while {users} import(s) it: "
                "CloudFormation refuses to update an export in use, and the importers would be replaced or updated too",
                f"avoid the replacement; or deploy {users} without the import first, then {stack}, then add the import back"))
    return found


def compare(
    stage: str,
    against: str,
    old: Mapping[str, dict[str, Any]],
    new: Mapping[str, dict[str, Any]],
    old_manifest: Manifest | None,
    new_manifest: Manifest | None,
) -> Diff:
    """`old`/`new`: stack id -> template of one stage. The manifests carry exports, their
    importers (old: the deployed side) and the deploy levels (new)."""
    region = (new_manifest or old_manifest or Manifest()).region
    ctx = _Stage(old, new, old_manifest or Manifest(), new_manifest or Manifest())
    _cascade(ctx, region)
    changes: dict[str, dict[str, ResourceChange]] = {}
    for stack in sorted(set(old) | set(new)):
        before, after = ctx.resources("old", stack), ctx.resources("new", stack)
        for logical in sorted(set(before) | set(after)):
            change: ResourceChange | None
            if logical not in before:
                change = _added(logical, after[logical], region)
            elif logical not in after:
                gone = before[logical]
                what = "the stack is pruned" if stack not in new else "removed"
                change = ResourceChange(logical, gone["Type"], "remove", (gone.get("Metadata") or {}).get("Source"),
                                        findings=tuple(_data_findings(gone, "DeletionPolicy", what)))
            else:
                change = _modify(ctx, stack, logical, before[logical], after[logical], region)
            if change is not None:
                changes.setdefault(stack, {})[logical] = change
    _moves(ctx, changes, region)
    _principals(ctx, changes)
    exports = _export_findings(ctx)
    stacks = []
    for stack in sorted(set(old) | set(new)):
        resources = tuple(changes.get(stack, {})[k] for k in sorted(changes.get(stack, {})))
        findings = list(exports.get(stack, []))
        if stack not in new:
            findings.insert(0, Finding("", STACK_LEFT,
                                       f"{stack} left the spec: `platformc deploy` refuses to run while it is deployed, and "
                                       "`platformc deploy --prune` deletes it before the other stacks",
                                       "if it was renamed or split, check the moves below"))
            stacks.append(StackChange(stack, "remove", resources, tuple(findings)))
        elif stack not in old:
            stacks.append(StackChange(stack, "add", resources, tuple(findings)))
        else:
            steps = len(updates.stack_steps(old[stack], new[stack]))
            if resources or findings or old[stack].get("Outputs") != new[stack].get("Outputs"):
                stacks.append(StackChange(stack, "modify", resources, tuple(findings), steps))
    return Diff(stage, against, tuple(stacks))


