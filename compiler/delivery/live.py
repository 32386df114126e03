"""live: what the services say of a stage's resources — the reads a take-over makes.

- **finders** (`FINDERS`, `CHILD_FINDERS`): whether a resource of a name exists, and the
  identifier CloudFormation imports it by (a queue's URL, a pool's id found by its name, a
  secret's ARN, a key's id found through its alias, a group or app client inside its pool);
- **counts** (`COUNTS`): what a data resource holds, read cheaply (approximate where AWS
  only approximates): the fingerprint a take-over compares around each step;
- **live settings** (`LIVE`, `DEFAULTS`): an unmanaged resource's configuration as its
  service describes it, for the plan to compare with our template.

Read-only calls, each through `client(service)` in the resource's region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


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
