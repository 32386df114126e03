"""diff: what a change to the spec will do when deployed, and what it risks.

Compares the templates the current spec compiles to with those committed under
generated/ at a git ref, stack by stack and resource by resource, and gives each change
its verdicts:

- REPLACE: a changed property cannot be updated in place (the provider schema's
  createOnlyProperties shipped inside cfn-lint, plus immutable cases it misses such as
  a table's key schema), or the resource type changed.
- DATA LOSS: a stateful resource is removed or replaced and its policy is not Retain.
  (With Retain the old resource is kept outside the stack: RETAINED, not a risk of loss.)
- BLOCKED: the deploy is certain to fail: replacing a resource with a custom name (every
  name here is custom), removing or changing an export another stack still imports, or
  removing a stack others import from.

Pure comparison over JSON; the only I/O is `committed()`, which asks git.
"""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .rules.retain import STATEFUL

REPLACE, DATA_LOSS, BLOCKED, RETAINED = "REPLACE", "DATA LOSS", "BLOCKED", "RETAINED"
RISKS = (REPLACE, DATA_LOSS, BLOCKED)

# Immutable properties the provider schemas do not list as createOnly.
EXTRA_CREATE_ONLY: dict[str, tuple[str, ...]] = {
    "AWS::DynamoDB::Table": ("KeySchema", "LocalSecondaryIndexes"),
    "AWS::Cognito::UserPool": ("UsernameAttributes", "AliasAttributes"),
}
# The property that gives a resource a custom physical name: CloudFormation refuses to
# replace such a resource ("cannot update a stack when a custom-named resource requires
# replacing"), since the new one would need the old one's name while it still exists.
NAME_PROPERTY: dict[str, str] = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::CloudWatch::Alarm": "AlarmName",
}
LIST_KEYS = ("IndexName", "AttributeName", "Key", "Id", "Sid", "PolicyName", "Name", "GroupName")


def _schemas() -> Path:
    import cfnlint.data.schemas

    return Path(cfnlint.data.schemas.__file__).parent


@functools.cache
def _schema_index(region: str) -> dict[str, str]:
    """Resource type -> schema file digest, for one region (the files cfn-lint ships)."""
    return dict(json.loads((_schemas() / "providers" / f"{region}.json").read_text()))


@functools.cache
def create_only(resource_type: str, region: str = "us-east-1") -> frozenset[str]:
    """Top-level property names that force replacement when they change."""
    names = set(EXTRA_CREATE_ONLY.get(resource_type, ()))
    digest = _schema_index(region).get(resource_type)
    if digest:
        schema = json.loads((_schemas() / "resources" / f"{digest}.json").read_text())
        names.update(p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.startswith("/properties/"))
    return frozenset(names)


@dataclass(frozen=True)
class PropertyChange:
    path: str
    old: Any
    new: Any
    replaces: bool = False


@dataclass(frozen=True)
class ResourceChange:
    logical_id: str
    type: str
    action: str  # "add", "remove", "modify"
    source: str | None
    changes: tuple[PropertyChange, ...] = ()
    verdicts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackChange:
    stack: str
    action: str  # "add", "remove", "modify"
    resources: tuple[ResourceChange, ...] = ()
    verdicts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


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

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "against": self.against, "verdicts": self.verdicts, **asdict(self)}


# ------------------------------------------------------------------------------------ compare


def _keyed(items: list[Any]) -> str | None:
    """The field that names the items of a list of mappings, if one does."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in LIST_KEYS:
        values = [i.get(key) for i in items]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return key
    return None


def property_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Changed leaves between two property trees; named list items are matched by name."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
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
    return [] if old == new else [(path, old, new)]


def _resource(
    logical: str, old: dict[str, Any] | None, new: dict[str, Any] | None, region: str
) -> ResourceChange | None:
    meta = (new or old or {}).get("Metadata") or {}
    source = meta.get("Source")
    if old is None and new is not None:
        return ResourceChange(logical, new["Type"], "add", source)
    if new is None and old is not None:
        lost, why = _loss(old, "DeletionPolicy", "removed")
        return ResourceChange(logical, old["Type"], "remove", source, verdicts=tuple(lost), notes=tuple(why))
    assert old is not None and new is not None
    type_changed = old["Type"] != new["Type"]
    immutable = create_only(old["Type"], region)
    changes = tuple(
        PropertyChange(path, before, after, type_changed or path.split(".")[0] in immutable)
        for path, before, after in property_changes(old.get("Properties", {}), new.get("Properties", {}))
    )
    policies = {k: (old.get(k), new.get(k)) for k in ("DeletionPolicy", "UpdateReplacePolicy") if old.get(k) != new.get(k)}
    changes += tuple(PropertyChange(k, before, after) for k, (before, after) in sorted(policies.items()))
    if not changes and not type_changed:
        return None
    verdicts: list[str] = []
    notes: list[str] = []
    if type_changed or any(c.replaces for c in changes):
        verdicts.append(REPLACE)
        why = sorted({c.path.split(".")[0] for c in changes if c.replaces}) or ["Type"]
        notes.append(f"{', '.join(why)} cannot change in place: CloudFormation replaces the resource")
        loss, loss_notes = _loss(old, "UpdateReplacePolicy", "replaced")
        verdicts += loss
        notes += loss_notes
        name_property = NAME_PROPERTY.get(old["Type"])
        if name_property and name_property in old.get("Properties", {}):
            verdicts.append(BLOCKED)
            notes.append(
                f"CloudFormation cannot replace a resource with a custom name ({name_property}): the update fails. "
                "Either give it a new name in the spec (a new resource is created beside the old one; move the data, "
                "then remove the old one), or remove it in one change and add it back in the next (losing its data)"
            )
    return ResourceChange(logical, new["Type"], "modify", source, changes, tuple(verdicts), tuple(notes))


def _loss(old: dict[str, Any], policy: str, what: str) -> tuple[list[str], list[str]]:
    if old["Type"] not in STATEFUL:
        return [], []
    if old.get(policy) == "Retain":
        return [RETAINED], [f"{policy} Retain: the old {old['Type']} is kept (outside the stack) when {what}"]
    return [DATA_LOSS], [f"the {old['Type']} and its data are deleted when {what}"]


def _imports(manifest: Mapping[str, Any] | None) -> dict[str, list[str]]:
    return {name: list(e.get("importers", [])) for name, e in ((manifest or {}).get("exports") or {}).items()}


def compare(
    stage: str,
    against: str,
    old: Mapping[str, dict[str, Any]],
    new: Mapping[str, dict[str, Any]],
    old_manifest: Mapping[str, Any] | None,
    new_manifest: Mapping[str, Any] | None,
) -> Diff:
    """`old`/`new`: stack id -> template. The manifests carry exports and importers."""
    region = str((new_manifest or old_manifest or {}).get("region", "us-east-1"))
    old_imports, new_imports = _imports(old_manifest), _imports(new_manifest)
    stacks = []
    for stack in sorted(set(old) | set(new)):
        before = (old.get(stack) or {}).get("Resources", {})
        after = (new.get(stack) or {}).get("Resources", {})
        changes = [
            change
            for logical in sorted(set(before) | set(after))
            if (change := _resource(logical, before.get(logical), after.get(logical), region)) is not None
        ]
        verdicts, notes = _export_risks(stack, old.get(stack), new.get(stack), old_imports, new_imports, changes)
        verdicts = list(dict.fromkeys(verdicts))  # one badge per kind; the notes keep every case
        if stack not in new:
            stacks.append(StackChange(stack, "remove", tuple(changes), tuple(verdicts), tuple(notes)))
        elif stack not in old:
            stacks.append(StackChange(stack, "add", tuple(changes)))
        elif changes or verdicts or old[stack].get("Outputs") != new[stack].get("Outputs"):
            stacks.append(StackChange(stack, "modify", tuple(changes), tuple(verdicts), tuple(notes)))
    return Diff(stage, against, tuple(stacks))


def _export_risks(
    stack: str,
    old: dict[str, Any] | None,
    new: dict[str, Any] | None,
    old_imports: dict[str, list[str]],
    new_imports: dict[str, list[str]],
    changes: list[ResourceChange],
) -> tuple[list[str], list[str]]:
    """Exports of this stack that deployed stacks still import, and which it would drop or change."""
    verdicts: list[str] = []
    notes: list[str] = []
    # A replaced resource with a custom name keeps its name and ARN (and its replacement is
    # BLOCKED anyway); any other replacement gets a new id, so exports of it change value.
    replaced = {c.logical_id for c in changes if REPLACE in c.verdicts and BLOCKED not in c.verdicts}
    for output in sorted(((old or {}).get("Outputs") or {}).values(), key=lambda o: json.dumps(o, sort_keys=True)):
        name = (output.get("Export") or {}).get("Name")
        if not isinstance(name, str):
            continue
        importers = [s for s in old_imports.get(name, []) if s != stack]
        if not importers:
            continue
        kept = name in new_imports
        producer = json.dumps(output.get("Value"))
        if not kept:
            verdicts.append(BLOCKED)
            notes.append(
                f"export {name} is removed while {', '.join(importers)} still import(s) it: CloudFormation refuses. "
                f"Deploy {', '.join(importers)} first (without the import), then {stack}"
                if new is not None
                else f"stack {stack} is removed while {', '.join(importers)} still import(s) {name}: deploy "
                f"{', '.join(importers)} first so they release it, then delete {stack}"
            )
        elif any(f'"{logical}"' in producer for logical in replaced):
            verdicts.append(BLOCKED)
            notes.append(
                f"export {name} changes value (its resource is replaced) while {', '.join(importers)} import(s) it: "
                "CloudFormation refuses to update an export in use"
            )
    return verdicts, notes


# ------------------------------------------------------------------------------------ git


def committed(out_dir: Path, stage: str, ref: str) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    """The manifest and templates of `out_dir/<stage>` as committed at `ref` (nothing if absent)."""
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=out_dir.parent, capture_output=True, text=True, check=True
    ).stdout.strip()
    prefix = out_dir.resolve().relative_to(Path(top).resolve()).as_posix()

    def show(path: str) -> str | None:
        proc = subprocess.run(["git", "show", f"{ref}:{prefix}/{stage}/{path}"], cwd=top, capture_output=True, text=True)
        return proc.stdout if proc.returncode == 0 else None

    text = show("manifest.json")
    if text is None:
        return None, {}
    manifest = json.loads(text)
    templates = {}
    for stack in manifest.get("stacks", {}):
        if (body := show(f"{stack}.json")) is not None:
            templates[stack] = json.loads(body)
    return manifest, templates


def resolve_ref(repo: Path, ref: str) -> str:
    """Fail early, with git's own message, on a ref that does not exist."""
    proc = subprocess.run(["git", "rev-parse", "--short", "--verify", f"{ref}^{{commit}}"], cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ValueError(f"unknown git ref '{ref}': {proc.stderr.strip()}")
    return proc.stdout.strip()
