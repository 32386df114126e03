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
from .handover import custom_name, naming, references
from .stage import StageAccess

# What CloudFormation imports each adoptable type by (awstypes.IMPORT_IDENTIFIER).
IDENTIFIER = awstypes.IMPORT_IDENTIFIER
# Resources found inside a parent (type -> the property naming the parent, the name property):
# a group or an app client exists only in its user pool, located first.
CHILDREN = {"AWS::Cognito::UserPoolGroup": ("UserPoolId", "GroupName"),
            "AWS::Cognito::UserPoolClient": ("UserPoolId", "ClientName")}
# Resources with no name of their own, found through the one that names them (type -> the
# naming type, its property referring to them): a KMS key through its alias.
NAMED_BY = {"AWS::KMS::Key": ("AWS::KMS::Alias", "TargetKeyId")}


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


def _table(client: Callable[[str], Any], name: str) -> str | None:
    ddb = client("dynamodb")
    try:
        return str(ddb.describe_table(TableName=name)["Table"]["TableName"])
    except ddb.exceptions.ResourceNotFoundException:
        return None


def _bucket(client: Callable[[str], Any], name: str) -> str | None:
    s3 = client("s3")
    owned = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}  # only the caller's own buckets
    return name if name in owned else None


def _queue(client: Callable[[str], Any], name: str) -> str | None:
    sqs = client("sqs")
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        return None


def pool_id(idp: Any, name: str) -> str | None:
    """The id of the user pool named `name` (AWS picks pool ids; names are ours), or None."""
    found = [p["Id"] for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60)
             for p in page["UserPools"] if p["Name"] == name]
    return str(found[0]) if found else None


def _user_pool(client: Callable[[str], Any], name: str) -> str | None:
    return pool_id(client("cognito-idp"), name)


def _secret(client: Callable[[str], Any], name: str) -> str | None:
    sm = client("secretsmanager")
    try:
        return str(sm.describe_secret(SecretId=name)["ARN"])
    except sm.exceptions.ResourceNotFoundException:
        return None


def _log_group(client: Callable[[str], Any], name: str) -> str | None:
    logs = client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    return name if any(g["logGroupName"] == name for g in groups) else None


def _bus(client: Callable[[str], Any], name: str) -> str | None:
    events = client("events")
    try:
        return str(events.describe_event_bus(Name=name)["Name"])
    except events.exceptions.ResourceNotFoundException:
        return None


def _archive(client: Callable[[str], Any], name: str) -> str | None:
    events = client("events")
    try:
        return str(events.describe_archive(ArchiveName=name)["ArchiveName"])
    except events.exceptions.ResourceNotFoundException:
        return None


def _vault(client: Callable[[str], Any], name: str) -> str | None:
    backup = client("backup")
    try:
        return str(backup.describe_backup_vault(BackupVaultName=name)["BackupVaultName"])
    except (backup.exceptions.ResourceNotFoundException, backup.exceptions.AccessDeniedException):
        return None


def _alias(client: Callable[[str], Any], name: str) -> str | None:
    kms = client("kms")
    found = {a["AliasName"] for page in kms.get_paginator("list_aliases").paginate() for a in page["Aliases"]}
    return name if name in found else None


def _key(client: Callable[[str], Any], alias: str) -> str | None:
    """The id of the key an alias names, or None."""
    kms = client("kms")
    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"])
    except kms.exceptions.NotFoundException:
        return None


def _group(client: Callable[[str], Any], name: str, pool: str) -> str | None:
    """`<pool id>|<group name>` of a group of a user pool that exists, or None."""
    idp = client("cognito-idp")
    try:
        idp.get_group(UserPoolId=pool, GroupName=name)
    except idp.exceptions.ResourceNotFoundException:
        return None
    return f"{pool}|{name}"


def _app_client(client: Callable[[str], Any], name: str, pool: str) -> str | None:
    """`<pool id>|<client id>` of the app client of that name in a user pool, or None (the
    first, if the name repeats: Cognito lets it)."""
    idp = client("cognito-idp")
    found = [c["ClientId"] for page in idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool, MaxResults=60)
             for c in page["UserPoolClients"] if c["ClientName"] == name]
    return f"{pool}|{found[0]}" if found else None


CHILD_FINDERS: dict[str, Callable[[Callable[[str], Any], str, str], str | None]] = {
    "AWS::Cognito::UserPoolGroup": _group,
    "AWS::Cognito::UserPoolClient": _app_client,
}


FINDERS: dict[str, Callable[[Callable[[str], Any], str], str | None]] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::SQS::Queue": _queue,
    "AWS::Cognito::UserPool": _user_pool,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Events::EventBus": _bus,
    "AWS::Events::Archive": _archive,
    "AWS::Backup::BackupVault": _vault,
    "AWS::KMS::Alias": _alias,
    "AWS::KMS::Key": _key,  # by the name of the alias that names it (NAMED_BY)
}


def _table_live(client: Callable[[str], Any], name: str) -> dict[str, Any]:
    """A table's import-relevant configuration as DynamoDB describes it."""
    table = client("dynamodb").describe_table(TableName=name)["Table"]
    keys = {k["AttributeName"] for k in table["KeySchema"]}
    return {"KeySchema": table["KeySchema"],
            "AttributeDefinitions": [a for a in table["AttributeDefinitions"] if a["AttributeName"] in keys]}


def _count_items(client: Callable[[str], Any], identifier: str) -> int:
    return int(client("dynamodb").describe_table(TableName=identifier)["Table"].get("ItemCount", 0))


def _count_objects(client: Callable[[str], Any], identifier: str) -> int:
    s3, count = client("s3"), 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=identifier, PaginationConfig={"MaxItems": OBJECTS_COUNTED}):
        count += page.get("KeyCount", 0)
    return count


def _count_messages(client: Callable[[str], Any], identifier: str) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=identifier, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))


def _count_users(client: Callable[[str], Any], identifier: str) -> int:
    return int(client("cognito-idp").describe_user_pool(UserPoolId=identifier)["UserPool"].get("EstimatedNumberOfUsers", 0))


OBJECTS_COUNTED = 10_000  # a bucket's objects are counted up to this many


@dataclass(frozen=True)
class Count:
    """How a data resource's fingerprint is read and worded, and whether a drop stops a take-over."""

    read: Callable[[Callable[[str], Any], str], int]
    unit: str
    approximate: bool = False
    note: str = ""
    checked: bool = True

    def short(self, n: int) -> str:
        if self.read is _count_objects and n >= OBJECTS_COUNTED:
            return f"at least {OBJECTS_COUNTED} {self.unit} (counting stopped)"
        return f"{'about ' if self.approximate else ''}{n} {self.unit}"

    def text(self, n: int) -> str:
        return self.short(n) + (f" ({self.note})" if self.note else "")


# What a data resource holds, counted cheaply (approximate where AWS only approximates). A
# queue's messages are shown, not checked: the running application consumes them meanwhile.
COUNTS: dict[str, Count] = {
    "AWS::DynamoDB::Table": Count(_count_items, "items", True, "DynamoDB updates ItemCount about every 6 hours"),
    "AWS::S3::Bucket": Count(_count_objects, "objects"),
    "AWS::SQS::Queue": Count(_count_messages, "messages", True, checked=False),
    "AWS::Cognito::UserPool": Count(_count_users, "users", True),
}


def _queue_live(client: Callable[[str], Any], identifier: str) -> dict[str, Any]:
    attributes = client("sqs").get_queue_attributes(QueueUrl=identifier, AttributeNames=["All"])["Attributes"]
    live: dict[str, Any] = {k: int(attributes[k]) for k in (
        "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
        "ReceiveMessageWaitTimeSeconds") if k in attributes}
    for flag in ("FifoQueue", "ContentBasedDeduplication"):
        if flag in attributes:
            live[flag] = attributes[flag] == "true"
    return live


def _bucket_live(client: Callable[[str], Any], identifier: str) -> dict[str, Any]:
    status = client("s3").get_bucket_versioning(Bucket=identifier).get("Status")
    return {"VersioningConfiguration": {"Status": status}} if status else {}


def _log_group_live(client: Callable[[str], Any], identifier: str) -> dict[str, Any]:
    groups = client("logs").describe_log_groups(logGroupNamePrefix=identifier)["logGroups"]
    days = next((g.get("retentionInDays") for g in groups if g["logGroupName"] == identifier), None)
    return {"RetentionInDays": days} if days else {}


def _key_live(client: Callable[[str], Any], identifier: str) -> dict[str, Any]:
    kms = client("kms")
    key = kms.describe_key(KeyId=identifier)["KeyMetadata"]
    live = {k: key[k] for k in ("KeySpec", "KeyUsage", "MultiRegion", "Origin", "Enabled", "Description") if k in key}
    if key.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT":  # rotation exists for symmetric keys only
        live["EnableKeyRotation"] = bool(kms.get_key_rotation_status(KeyId=identifier)["KeyRotationEnabled"])
    return live


def _pool_live(client: Callable[[str], Any], identifier: str) -> dict[str, Any]:
    """A user pool's sign-in settings (locked at creation: a difference is BLOCKED) and MFA."""
    pool = client("cognito-idp").describe_user_pool(UserPoolId=identifier)["UserPool"]
    found = {k: pool[k] for k in ("UsernameConfiguration", "MfaConfiguration", "DeletionProtection") if k in pool}
    return {"UsernameAttributes": pool.get("UsernameAttributes", []), "AliasAttributes": pool.get("AliasAttributes", []),
            **found}


def _archive_live(client: Callable[[str], Any], identifier: str) -> dict[str, Any]:
    archive = client("events").describe_archive(ArchiveName=identifier)
    return {"RetentionDays": archive["RetentionDays"]} if "RetentionDays" in archive else {}


def _secret_live(client: Callable[[str], Any], identifier: str) -> dict[str, Any]:
    secret = client("secretsmanager").describe_secret(SecretId=identifier)
    return {"Description": secret["Description"]} if "Description" in secret else {}


# Unmanaged resources have no template to compare with: what their service says, per type,
# compared on the properties both sides set (DEFAULTS: what a template leaves out means).
LIVE: dict[str, Callable[[Callable[[str], Any], str], dict[str, Any]]] = {
    "AWS::DynamoDB::Table": _table_live, "AWS::SQS::Queue": _queue_live, "AWS::S3::Bucket": _bucket_live,
    "AWS::Logs::LogGroup": _log_group_live, "AWS::KMS::Key": _key_live, "AWS::Cognito::UserPool": _pool_live,
    "AWS::Events::Archive": _archive_live, "AWS::SecretsManager::Secret": _secret_live,
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "AWS::KMS::Key": {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "MultiRegion": False,
                      "Origin": "AWS_KMS", "Enabled": True, "EnableKeyRotation": False},
    "AWS::SQS::Queue": {"FifoQueue": False, "ContentBasedDeduplication": False},
    "AWS::Cognito::UserPool": {"UsernameAttributes": [], "AliasAttributes": [], "MfaConfiguration": "OFF",
                               "DeletionProtection": "INACTIVE"},
}


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
    fails = frozenset(awstypes.facts(type_).fails)
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
    if type_ in NAMED_BY:
        naming_type, property_ = NAMED_BY[type_]
        names = [custom_name(r) for _, r in sorted(resources.items())
                 if r["Type"] == naming_type and (r.get("Properties") or {}).get(property_) == {"Ref": logical}]
        name = names[0] if names else None
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
