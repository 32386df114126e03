"""adopt: which of a stage's resources already exist, and who holds them — the plan of a take-over.

ListBackup.ai runs on stacks another tool deployed, under the physical names our specs
declare; a first deploy would fail at the first name that exists. This module finds, for
every resource of generated/<stage> that holds data or carries a custom name, the live
resource of that name (through its service's API, in the stack's region) and the stack that
holds it (`DescribeStackResources` by physical id), and says what a take-over does with it:

- `create`: nothing of that name exists: deploy creates it;
- `ours`: our stack of the same name already holds it at the same logical id;
- `move`: another of this stage's stacks holds it (a resource moved between spec files);
- `adopt`: another tool's stack holds it: retained, removed from that stack, imported into ours;
- `import`: it exists and no stack holds it: imported into ours.

This step plans only: it reads, and changes nothing (docs/adopt.md says what executes the
plan and what is still to build). CloudFormation imports a resource by its identifier, which
is not always its name: a queue by its URL, a user pool by the id AWS gave it (found by name),
a secret by its ARN, a KMS key by its id (found through the alias that names it);
`Located.identifier` is that value.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Callable

from .. import awstypes
from ..manifest import Manifest
from ..review.findings import BLOCKED
from ..review.properties import property_changes
from .handover import NAMED_BY, named_by, naming, references
from .live import CHILD_FINDERS, COUNTS, DEFAULTS, FINDERS, LIVE
from .stage import StageAccess

# What CloudFormation imports each adoptable type by (awstypes.IMPORT_IDENTIFIER).
IDENTIFIER = awstypes.IMPORT_IDENTIFIER
# Resources found inside a parent (type -> the property naming the parent, the name property):
# a group or an app client exists only in its user pool, located first.
CHILDREN = {"AWS::Cognito::UserPoolGroup": ("UserPoolId", "GroupName"),
            "AWS::Cognito::UserPoolClient": ("UserPoolId", "ClientName")}


@dataclass(frozen=True)
class Located:
    """One declared resource and what exists of it."""

    stack: str  # our stack id
    logical_id: str
    type: str
    name: str  # the physical name the template declares
    action: str  # create | ours | move | adopt | import
    identifier: str | None = None  # what CloudFormation imports it by (None: nothing exists)
    held_by: str | None = None  # the stack that holds it now
    held_as: str | None = None  # its logical id there
    # how it differs from our template, path: old -> new (as the holder's template or the
    # service declares it): `replaces` would replace it on the update after the import
    # (create-only properties: BLOCKED), `updates` that update applies in place
    replaces: tuple[str, ...] = ()
    updates: tuple[str, ...] = ()
    compared: str = ""  # what it was compared with, or why it was not
    count: int | None = None  # a cheap count of what it holds (the fingerprint the take-over checks)
    # what leaving its stack touches there: the resources that refer to it (step b writes its
    # values in), and its exports other stacks import ("<export> by <stack, ...>")
    referred_by: tuple[str, ...] = ()
    imported: tuple[str, ...] = ()

    @property
    def data(self) -> str | None:
        return COUNTS[self.type].text(self.count) if self.count is not None else None

    @property
    def verdict(self) -> str | None:
        """BLOCKED: the update after the import would replace it (or fail: a property AWS
        cannot change), or it moves between our
        stacks with an export in use (neither stack could hold the export during the move)."""
        return BLOCKED if self.replaces or (self.action == "move" and self.imported) else None

    @property
    def key(self) -> str:
        """The property CloudFormation imports it by."""
        return IDENTIFIER[self.type]

    @property
    def resource_identifier(self) -> dict[str, str]:
        """The identifier as an IMPORT change set names it (property -> value)."""
        return dict(zip(self.key.split("|"), (self.identifier or "").split("|")))

    @property
    def where(self) -> str:
        if self.identifier is None:
            return "nothing of that name"
        return f"{self.held_by}/{self.held_as}" if self.held_by else "no stack (unmanaged)"


def _held_template(cfn: Any, stack: str) -> dict[str, Any] | None:
    body = cfn.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    if isinstance(body, dict):
        return body
    try:
        return dict(json.loads(body))
    except ValueError:
        return None  # a YAML template (intrinsics as tags): not compared here


def _compare(old: dict[str, Any], new: dict[str, Any], type_: str, region: str,
             only: frozenset[str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(replacing, in-place) differences from `old` to `new` properties; `only`: the properties
    `old` knows (a service's description is partial)."""
    fails = awstypes.update_fails(type_)
    replacing = awstypes.create_only(type_, region) | fails
    found = property_changes({k: v for k, v in old.items() if only is None or k in only},
                             {k: v for k, v in new.items() if only is None or k in only})
    shown = [(path, f"{path}: {json.dumps(a, sort_keys=True)} -> {json.dumps(b, sort_keys=True)}"
                    + (" (cannot be changed: the update fails)" if path in fails else "")) for path, a, b in found]
    top = [(path.split(".")[0].split("[")[0].split("#")[0], text) for path, text in shown]
    return tuple(t for p, t in top if p in replacing), tuple(t for p, t in top if p not in replacing)


def _by_name(value: Any, template: dict[str, Any]) -> Any:
    """`value` with each Ref and GetAtt target that has a custom name written as that name, so
    that two templates naming one resource under different logical ids compare equal."""
    if isinstance(value, list):
        return [_by_name(v, template) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) in ({"Ref"}, {"Fn::GetAtt"}):
        target = value.get("Ref") or value["Fn::GetAtt"]
        logical = target if isinstance(target, str) and "Ref" in value else (
            target.split(".")[0] if isinstance(target, str) else target[0])
        resource = (template.get("Resources") or {}).get(logical) or {}
        paths = awstypes.name_paths(resource.get("Type", ""))
        name = (resource.get("Properties") or {}).get(paths[0]) if paths else None
        if isinstance(name, str):
            label = f"<{resource['Type']} {name}>"
            if "Ref" in value:
                return {"Ref": label}
            attribute = target.split(".", 1)[1] if isinstance(target, str) else target[1]
            return {"Fn::GetAtt": [label, attribute]}
        return value
    return {k: _by_name(v, template) for k, v in value.items()}


def exports_in_use(access: StageAccess, cfn: Any, holder: str, template: dict[str, Any], logicals: set[str]) -> dict[
        str, tuple[str, list[str]]]:
    """The outputs of `holder` that name any of `logicals` and whose exports other stacks
    import now: output key -> (export name, importers)."""
    outputs = set(naming(template, logicals))
    described = access.lifecycle.describe(cfn, holder) or {}
    exported = {o["OutputKey"]: o["ExportName"] for o in described.get("Outputs", [])
                if o.get("ExportName") and o["OutputKey"] in outputs}
    users = access.importers(cfn, sorted(exported.values())) if exported else {}
    return {key: (export, users[export]) for key, export in sorted(exported.items()) if users.get(export)}


def _touched(access: StageAccess, cfn: Any, holder: str, logical: str, template: dict[str, Any]) -> tuple[
        tuple[str, ...], tuple[str, ...]]:
    """What leaving `holder` touches there: the resources that refer to `logical`, and its
    exports that other stacks import ("<export> by <stacks>"), as the review gate judges them."""
    referred = tuple(sorted(other for other, resource in (template.get("Resources") or {}).items()
                            if other != logical and logical in references(resource)))
    in_use = exports_in_use(access, cfn, holder, template, {logical})
    return referred, tuple(f"{export} by {', '.join(stacks)}" for export, stacks in sorted(in_use.values()))


def _find(client: Callable[[str], Any], resources: dict[str, Any], logical: str, resource: dict[str, Any],
          found: dict[str, str]) -> tuple[str | None, str | None]:
    """(the name a resource is found by, its import identifier or None when nothing of that
    name exists); (None, None) for a resource that is not found by name. `found`: the
    identifiers of what was located before (a child's parent)."""
    type_, props = resource["Type"], resource.get("Properties", {})
    if type_ in CHILDREN:
        parent, name_property = CHILDREN[type_]
        name, reference = props.get(name_property), props.get(parent)
        pool = found.get(reference.get("Ref", "")) if isinstance(reference, dict) else reference
        if not isinstance(name, str):
            return None, None
        return name, CHILD_FINDERS[type_](client, name, pool) if isinstance(pool, str) else None
    if type_ in NAMED_BY:  # a key, found through its alias
        name = named_by({"Resources": resources}, logical)
    else:
        paths = awstypes.name_paths(type_)  # a user pool's name is a label: AWS lets names repeat
        name = props.get(paths[0]) if paths else None
    if type_ not in FINDERS or not isinstance(name, str):
        return None, None
    return name, FINDERS[type_](client, name)


def plan(access: StageAccess) -> list[Located]:
    """Every adoptable resource of the stage's templates, located; in deploy order."""
    manifest: Manifest = access.manifest
    ours = {entry.name: stack for stack, entry in manifest.stacks.items()}
    located = []
    for stack in (s for level in manifest.levels for s in level):
        entry = manifest.stacks[stack]
        region = entry.region

        def client(service: str, region: str = region) -> Any:
            return access.client(service, region)

        cfn = access.client("cloudformation", region)
        found: dict[str, str] = {}  # logical id -> identifier, for the children's parents
        resources = access.generated(stack).get("Resources", {})
        for logical, resource in sorted(resources.items(), key=lambda item: (item[1]["Type"] in CHILDREN, item[0])):
            name, identifier = _find(client, resources, logical, resource, found)
            if name is None:
                continue
            if identifier is None:
                located.append(Located(stack, logical, resource["Type"], name, "create"))
                continue
            found[logical] = identifier
            # a stack's physical id is the import identifier (a child's: its own part, as Ref gives it)
            holder = access.holder(cfn, identifier.split("|")[-1])
            if holder is None:
                action = "import"
            elif holder == (entry.name, logical):
                action = "ours"
            elif holder[0] in ours:
                action = "move"
            else:
                action = "adopt"
            new = resource.get("Properties", {})
            replaces: tuple[str, ...] = ()
            updates: tuple[str, ...] = ()
            compared = ""
            referred: tuple[str, ...] = ()
            imported: tuple[str, ...] = ()
            if holder is not None and action != "ours":
                held = _held_template(cfn, holder[0])
                old = ((held or {}).get("Resources", {}).get(holder[1]) or {}).get("Properties") if held else None
                if old is None:
                    compared = f"{holder[0]}'s template could not be read as JSON"
                else:
                    replaces, updates = _compare(_by_name(old, held or {}), _by_name(new, access.generated(stack)),
                                                 resource["Type"], region)
                    compared = f"{holder[0]}'s template"
                    referred, imported = _touched(access, cfn, holder[0], holder[1], held or {})
            elif holder is None and resource["Type"] in LIVE:
                live = LIVE[resource["Type"]](client, identifier)
                declared = {**DEFAULTS.get(resource["Type"], {}), **new}
                replaces, updates = _compare(live, _by_name(declared, access.generated(stack)), resource["Type"], region,
                                             frozenset(live) & frozenset(declared))
                compared = "its live configuration (" + ", ".join(sorted(live)) + ")"
            elif holder is None:
                compared = "not compared: its live configuration is not read for this type yet"
            located.append(Located(stack, logical, resource["Type"], name, action, identifier,
                                   holder[0] if holder else None, holder[1] if holder else None,
                                   replaces, updates, compared,
                                   COUNTS[resource["Type"]].read(client, identifier) if resource["Type"] in COUNTS else None,
                                   referred, imported))
    return located


def render(located: list[Located], stage: str, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps({"stage": stage, "resources": [{**asdict(r), "key": r.key, "verdict": r.verdict, "data": r.data}
                                                         for r in located]},
                          indent=2, sort_keys=True) + "\n"
    counts = {action: sum(1 for r in located if r.action == action) for action in ("adopt", "import", "move", "ours", "create")}
    summary = ", ".join(f"{n} {action}" for action, n in counts.items() if n)
    if fmt == "markdown":
        return _markdown(located, stage, summary)
    lines = [f"adopt plan for stage {stage} (nothing is changed): {summary}"]
    for r in located:
        held = f" ({r.key} {r.identifier})" if r.identifier and r.identifier != r.name else ""
        holds = f"; holds {r.data}" if r.data else ""
        lines.append(f"  {r.action:<6} {r.stack}/{r.logical_id} {r.type} {r.name}{held}: now {r.where}{holds}")
        for change in r.replaces:
            lines.append(f"      {BLOCKED}: {change}: the update after the import would replace it "
                         f"(keep the live value in the spec)")
        for change in r.updates:
            lines.append(f"      update in place: {change}")
        if r.referred_by:
            lines.append(f"      referred to in {r.held_by} by {', '.join(r.referred_by)}: step (b) writes its values there")
        for export in r.imported:
            lines.append(f"      {BLOCKED}: export {export}: it cannot move while imported (release it first)" if r.action == "move"
                         else f"      export {export}: stays in {r.held_by}, its value written out")
    return "\n".join(lines) + "\n"


def _markdown(located: list[Located], stage: str, summary: str) -> str:
    """The plan as a pull request comment or a change ticket shows it."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    blocked = sum(1 for r in located if r.verdict)
    lines = [f"### Take-over plan for `{stage}`: {summary}", ""]
    if blocked:
        lines += [f"**{blocked} BLOCKED**: `platformc adopt --yes` changes nothing until the spec keeps the live values.", ""]
    lines += ["| action | resource | type | name | now | holds | differences |", "|---|---|---|---|---|---|---|"]
    for r in located:
        notes = [f"**{BLOCKED}** {c}" for c in r.replaces] + [f"update: {c}" for c in r.updates]
        notes += [f"referred to by {', '.join(r.referred_by)}"] if r.referred_by else []
        notes += [(f"**{BLOCKED}** " if r.action == "move" else "") + f"export {e}" for e in r.imported]
        lines.append(f"| {r.action} | `{r.stack}/{r.logical_id}` | `{r.type}` | `{cell(r.name)}` | {cell(r.where)} | "
                     f"{cell(r.data or '')} | {cell('<br>'.join(notes))} |")
    return "\n".join(lines) + "\n"
