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
  Lambda permission allows what it did not, a route or authorizer checks less. A review
  risk (exit 4, a reviewer's approval of the commit lets it through the gate), not a deploy hazard: deploy executes it.
- STEPS: not a risk: the change needs several updates of one stack (DynamoDB creates or
  deletes one index per update), which `platformc deploy` applies one after another.

Deploy order matters for moves between stacks, so compare takes the stage's levels from
the new manifest. Pure comparison over JSON; the only I/O is `committed()`, which asks git.
"""

from __future__ import annotations

import difflib
import json
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Mapping

from . import access, updates
from ..awstypes import STATEFUL, create_only, facts
from ..manifest import FILE as MANIFEST
from ..manifest import Manifest, template_file

REPLACE, DATA_LOSS, BLOCKED, RETAINED, STEPS = "REPLACE", "DATA LOSS", "BLOCKED", "RETAINED", "STEPS"
BROADENS = "BROADENS"
DESTRUCTIVE = (REPLACE, DATA_LOSS, BLOCKED)  # what deploy refuses without --allow-risk
RISKS = (*DESTRUCTIVE, BROADENS)  # what the review gate stops on (exit 4)

# Causes: stable words, listed with their fixes in docs/review.md.
CREATE_ONLY = "create-only property"
TYPE_CHANGE = "type change"
KEY_TYPE = "key attribute type"
CASCADE = "cascade"
INDEX_RULE = "index update rule"
NAME_COLLISION = "name collision"
UNIQUE_IN_PARENT = "unique-in-parent collision"
IMMUTABLE_SCHEMA = "immutable schema"
EXPORT_IN_USE = "export in use"
PRODUCER_REMOVED = "producer removed"
MOVE = "move between stacks"
STACK_LEFT = "stack left the spec"
DATA = "data"

LIST_KEYS = ("IndexName", "AttributeName", "Key", "Id", "Sid", "PolicyName", "Name", "GroupName")
IMPORT_STEPS = (
    "carry it across with resource import: (1) deploy the old stack with the resource removed and "
    "DeletionPolicy Retain (protected stages already retain it), (2) create the new stack's change set with "
    "ChangeSetType IMPORT and ResourcesToImport naming it, (3) deploy the rest of the new stack "
    "(docs/review.md, 'Moving a resource between stacks')"
)


@dataclass(frozen=True)
class Finding:
    verdict: str
    cause: str
    message: str
    fix: str = ""

    @property
    def note(self) -> str:
        return f"{self.message}. Fix: {self.fix}" if self.fix else self.message


@dataclass(frozen=True)
class PropertyChange:
    path: str
    old: Any
    new: Any
    replaces: bool = False


class _Judged:
    """Verdicts (one badge each, in finding order) and notes of a record with findings."""

    findings: tuple[Finding, ...]

    @property
    def verdicts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.verdict for f in self.findings if f.verdict))

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f.note for f in self.findings)


@dataclass(frozen=True)
class ResourceChange(_Judged):
    logical_id: str
    type: str
    action: str  # "add", "remove", "modify"
    source: str | None
    changes: tuple[PropertyChange, ...] = ()
    findings: tuple[Finding, ...] = ()
    properties: tuple[tuple[str, Any], ...] = ()  # an added resource's key properties
    access: tuple[str, ...] = ()  # an added resource's policies, in full


@dataclass(frozen=True)
class StackChange(_Judged):
    stack: str
    action: str  # "add", "remove", "modify"
    resources: tuple[ResourceChange, ...] = ()
    findings: tuple[Finding, ...] = ()
    steps: int = 1  # updates deploy applies to this stack


@dataclass(frozen=True)
class Diff:
    stage: str
    against: str
    stacks: tuple[StackChange, ...] = field(default=())

    @property
    def verdicts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for stack in self.stacks:
            for verdict in [*stack.verdicts, *(v for r in stack.resources for v in r.verdicts)]:
                counts[verdict] = counts.get(verdict, 0) + 1
        return counts

    @property
    def risky(self) -> bool:
        return any(v in RISKS for v in self.verdicts)

    def findings(self) -> Iterator[tuple[str, str | None, Finding]]:
        """(stack, logical id or None, finding) for every finding of the stage."""
        for stack in self.stacks:
            yield from ((stack.stack, None, f) for f in stack.findings)
            yield from ((stack.stack, r.logical_id, f) for r in stack.resources for f in r.findings)

    def to_json(self) -> dict[str, Any]:
        def finding(f: Finding) -> dict[str, str]:
            return {"verdict": f.verdict, "cause": f.cause, "message": f.message, "fix": f.fix}

        def resource(r: ResourceChange) -> dict[str, Any]:
            return {
                "logical_id": r.logical_id, "type": r.type, "action": r.action, "source": r.source,
                "changes": [vars(c) for c in r.changes], "verdicts": list(r.verdicts), "notes": list(r.notes),
                "findings": [finding(f) for f in r.findings],
                "properties": dict(r.properties), "access": list(r.access),
            }

        stacks = [
            {
                "stack": s.stack, "action": s.action, "steps": s.steps, "verdicts": list(s.verdicts), "notes": list(s.notes),
                "findings": [finding(f) for f in s.findings], "resources": [resource(r) for r in s.resources],
            }
            for s in self.stacks
        ]
        return {"stage": self.stage, "against": self.against, "verdicts": self.verdicts, "stacks": stacks}


# ------------------------------------------------------------------------------------ properties


def _keyed(items: list[Any]) -> str | None:
    """The field that names the items of a list of mappings, if one does."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in LIST_KEYS:
        values = [i.get(key) for i in items]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return key
    return None


def _join(path: str, key: str) -> str:
    return f"{path}{key}" if path.endswith("#") else f"{path}.{key}" if path else key


def property_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Changed leaves between two property trees; named list items are matched by name,
    other lists of mappings as sequences, and JSON held in a string (a dashboard body,
    an event pattern) is compared as JSON: `DashboardBody#widgets[3].properties.title`."""
    if old != new and _holds_text(old) and _holds_text(new) and (before := _embedded_json(old)) is not None and (
            after := _embedded_json(new)) is not None:
        return property_changes(before, after, f"{path}#")
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            sub = _join(path, key)
            if key not in old:
                out.append((sub, None, new[key]))
            elif key not in new:
                out.append((sub, old[key], None))
            else:
                out += property_changes(old[key], new[key], sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and old != new:
        key = _keyed(old)
        key = key if key == _keyed(new) else None
        if key:
            by_old = {i[key]: i for i in old}
            by_new = {i[key]: i for i in new}
            return property_changes(by_old, by_new, path) if set(by_old) | set(by_new) else []
        if any(isinstance(i, (dict, list)) for i in [*old, *new]):
            return _sequence_changes(old, new, path)
    return [] if old == new else [(path, old, new)]


def _holds_text(value: Any) -> bool:
    return isinstance(value, str) or isinstance(value, dict) and len(value) == 1 and ("Fn::Join" in value or "Fn::Sub" in value)


def _sequence_changes(old: list[Any], new: list[Any], path: str) -> list[tuple[str, Any, Any]]:
    """Items inserted, removed or changed in place, by position (new positions)."""
    canon = [json.dumps(i, sort_keys=True) for i in old], [json.dumps(i, sort_keys=True) for i in new]
    out: list[tuple[str, Any, Any]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, *canon, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                out += property_changes(old[i1 + k], new[j1 + k], f"{path}[{j1 + k}]")
            continue
        out += [(f"{path}[{i}]", old[i], None) for i in range(i1, i2)]
        out += [(f"{path}[{j}]", None, new[j]) for j in range(j1, j2)]
    return out


def _embedded_json(value: Any) -> Any:
    """The JSON object or array a string holds (a Join or Sub shown with `${...}` for its
    intrinsics), or None."""
    text = value if isinstance(value, str) else access.show(value)
    if not text or text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def _refs(value: Any) -> Iterator[tuple[str, str]]:
    """("local", logical id) and ("import", export name) referenced anywhere in a value."""
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            yield "local", value["Ref"]
        elif "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            yield "local", str(value["Fn::GetAtt"][0])
        elif "Fn::ImportValue" in value and isinstance(value["Fn::ImportValue"], str):
            yield "import", value["Fn::ImportValue"]
        elif "Fn::Sub" in value:
            text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            for part in str(text).split("${")[1:]:
                yield "local", part.split("}")[0].split(".")[0]
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _get(props: dict[str, Any], dotted: str) -> Any:
    value: Any = props
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


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
            if any(kind == "local" and (stack, ref) in self.fresh for kind, ref in _refs(value))
        }

    def touches_replaced(self, stack: str, value: Any) -> str | None:
        """The replaced resource (or changed export) a value refers to, if any."""
        changed = self.changed_exports()
        for kind, ref in _refs(value):
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


def _replace(stage: _Stage, stack: str, logical: str, cause: str, why: str) -> None:
    stage.replaced[(stack, logical)] = (cause, why)
    name = facts(stage.resources("old", stack)[logical]["Type"]).name
    old_props = stage.resources("old", stack)[logical].get("Properties") or {}
    new_props = stage.resources("new", stack)[logical].get("Properties") or {}
    if not (name and _get(old_props, name) is not None and _get(old_props, name) == _get(new_props, name)):
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
        value = _get(props, info.name)
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
    if old["Type"] == new["Type"] == updates.USER_POOL:
        findings += [
            Finding(BLOCKED, IMMUTABLE_SCHEMA, f"{problem}: the update fails",
                    "keep the attribute as it was; add an optional custom attribute instead, or create a new pool and "
                    "migrate the users")
            for problem in updates.schema_problems(old.get("Properties", {}), new.get("Properties", {}))
        ]
    users = access.role_users(stage.resources("new", stack), logical) if new["Type"] == access.ROLE else []
    findings += [Finding(BROADENS, w.cause, w.message, w.advice) for w in access.widening(old, new, users)]
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
    shown = tuple(leaf for p in dict.fromkeys(paths) if _get(props, p) is not None for leaf in _leaves(p, _get(props, p)))
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
                finding = _move_finding(stage, kind, label, stack, logical, old_stack, old_logical, old_resource)
                if finding:
                    _add(changes, stack, logical, resource, finding, region)
                break


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


# ------------------------------------------------------------------------------------ git


def committed(out_dir: Path, stage: str, ref: str) -> tuple[Manifest | None, dict[str, dict[str, Any]]]:
    """The manifest and templates of `out_dir/<stage>` as committed at `ref` (nothing if absent)."""
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=out_dir.parent, capture_output=True, text=True, check=True
    ).stdout.strip()
    prefix = out_dir.resolve().relative_to(Path(top).resolve()).as_posix()

    def show(path: str) -> str | None:
        proc = subprocess.run(["git", "show", f"{ref}:{prefix}/{stage}/{path}"], cwd=top, capture_output=True, text=True)
        return proc.stdout if proc.returncode == 0 else None

    text = show(MANIFEST)
    if text is None:
        return None, {}
    manifest = Manifest.from_json(text)
    templates = {}
    for stack in manifest.stacks:
        if (body := show(template_file(stack))) is not None:
            templates[stack] = json.loads(body)
    return manifest, templates


def committed_stages(out_dir: Path, ref: str) -> list[str]:
    """The stage folders of `out_dir` at `ref` that hold a manifest, sorted."""
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=out_dir.parent, capture_output=True, text=True, check=True
    ).stdout.strip()
    prefix = out_dir.resolve().relative_to(Path(top).resolve()).as_posix()
    proc = subprocess.run(["git", "ls-tree", "-r", "--name-only", ref, "--", f"{prefix}/"], cwd=top,
                          capture_output=True, text=True)
    names = proc.stdout.splitlines() if proc.returncode == 0 else []
    return sorted({n.split("/")[-2] for n in names if n.endswith(f"/{MANIFEST}") and n.count("/") == prefix.count("/") + 2})


def resolve_ref(repo: Path, ref: str) -> str:
    """Fail early, with git's own message, on a ref that does not exist."""
    proc = subprocess.run(["git", "rev-parse", "--short", "--verify", f"{ref}^{{commit}}"], cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ValueError(f"unknown git ref '{ref}': {proc.stderr.strip()}")
    return proc.stdout.strip()
