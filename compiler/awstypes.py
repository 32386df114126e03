"""awstypes: what CloudFormation does with each resource type the compiler emits.

Facts about AWS, one table, each row with its source, so that the review gate (diff), the
policy rules and deploy read the same facts instead of keeping their own:

- **create-only properties**: a change replaces the resource. The provider schemas that
  cfn-lint ships (`createOnlyProperties`), then CloudFormation's resource reference
  ("Update requires: Replacement", data/cfn_update_reference.json), plus the immutable cases
  neither lists.
- **properties that cannot be updated at all** (`update_fails`): the update fails rather
  than replacing (a KMS key's spec, usage, origin and multi-Region flag; a user pool's
  sign-in attributes): from the reference's own words, plus known cases.
- **identity**: what must be unique, and where. A custom physical name (`name`) is
  unique in the account and region (S3 bucket names globally); some values are unique
  only inside a parent (`unique_in`: a route key within its API, a group name within its
  user pool). When a replacement or a changed logical id keeps the identity,
  CloudFormation creates the new resource before it deletes the old one, and the create
  collides.
- **data**: what a resource holds that is lost with it, and how its delete behaves.

Conditional update rules that a table row cannot express (DynamoDB's one-index-per-update
rule, a user pool's immutable schema) live in `compiler/review/updates.py`, beside their sources.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CFN_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference"


@dataclass(frozen=True)
class Facts:
    """What CloudFormation does with one resource type (see the module docstring)."""

    name: str | None = None  # dotted property path of the custom physical name
    unique_in: tuple[str, tuple[str, ...]] | None = None  # (parent property, key properties)
    create_only: tuple[str, ...] = ()  # immutable properties neither the schema nor the reference lists
    # properties whose change fails the update outright, whatever UpdateReplacePolicy says,
    # that the reference does not say so of: BLOCKED, never REPLACE
    fails: tuple[str, ...] = ()
    data: str | None = None  # what is lost when the resource is deleted
    delete: str = "deleted"  # "deleted" | "fails if not empty" | "scheduled"
    source: str = ""


FACTS: dict[str, Facts] = {
    "AWS::DynamoDB::Table": Facts(
        name="TableName",
        # LSIs cannot change after the table is created (the reference says "No interruption",
        # DynamoDB refuses): a replacement; KeySchema is the reference's; key attribute *types*
        # are handled in updates.py (they sit in AttributeDefinitions).
        create_only=("LocalSecondaryIndexes",),
        data="its items",
        source=f"{CFN_DOCS}/aws-resource-dynamodb-table.html",
    ),
    "AWS::S3::Bucket": Facts(
        name="BucketName",
        data="its objects",
        delete="fails if not empty",  # CloudFormation never empties a bucket
        source=f"{CFN_DOCS}/aws-resource-s3-bucket.html",
    ),
    "AWS::SQS::Queue": Facts(name="QueueName", data="its messages", source=f"{CFN_DOCS}/aws-resource-sqs-queue.html"),
    "AWS::Cognito::UserPool": Facts(
        # Settings locked at creation (Cognito developer guide, "Settings you can't change"):
        # sign-in attributes and case sensitivity cannot be updated (the reference: "This user
        # pool property cannot be updated", "immutable once it has been set"): the update
        # fails, CloudFormation does not replace the pool; the schema is in updates.py.
        data="its users, with their passwords and MFA devices",
        source="https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pool-updating.html",
    ),
    "AWS::SecretsManager::Secret": Facts(
        name="Name",
        data="its value (recoverable for the 7-30 day recovery window, then gone)",
        delete="scheduled",  # the name stays taken until the window ends
        source=f"{CFN_DOCS}/aws-resource-secretsmanager-secret.html",
    ),
    "AWS::Logs::LogGroup": Facts(name="LogGroupName", data="its logs", source=f"{CFN_DOCS}/aws-resource-logs-loggroup.html"),
    "AWS::Events::Archive": Facts(
        name="ArchiveName", data="its archived events (nothing left to replay)", source=f"{CFN_DOCS}/aws-resource-events-archive.html"
    ),
    "AWS::Backup::BackupVault": Facts(
        name="BackupVaultName",
        data="its recovery points",
        delete="fails if not empty",  # a vault with recovery points cannot be deleted
        source=f"{CFN_DOCS}/aws-resource-backup-backupvault.html",
    ),
    "AWS::KMS::Key": Facts(
        # KeySpec, KeyUsage, MultiRegion, Origin cannot change: the update fails (the reference)
        data="access to everything encrypted with it (tables, queues, logs, secrets, recovery points)",
        delete="scheduled",  # 7-30 days of PendingDeletion, then gone
        source=f"{CFN_DOCS}/aws-resource-kms-key.html",
    ),
    "AWS::KMS::Alias": Facts(name="AliasName"),
    "AWS::Lambda::Function": Facts(name="FunctionName"),
    "AWS::IAM::Role": Facts(name="RoleName"),
    "AWS::IAM::ManagedPolicy": Facts(name="ManagedPolicyName"),
    "AWS::Events::EventBus": Facts(name="Name"),
    "AWS::Events::Rule": Facts(unique_in=("EventBusName", ("Name",))),
    "AWS::CloudWatch::Alarm": Facts(name="AlarmName"),
    # put-dashboard and create-topic succeed on an existing name (they adopt it); deleting
    # the old resource afterwards then deletes the one the new resource points at.
    "AWS::CloudWatch::Dashboard": Facts(name="DashboardName"),
    "AWS::SNS::Topic": Facts(name="TopicName"),
    "AWS::WAFv2::WebACL": Facts(unique_in=("Scope", ("Name",))),
    "AWS::CloudFront::OriginAccessControl": Facts(name="OriginAccessControlConfig.Name"),
    "AWS::CloudFront::Distribution": Facts(name="DistributionConfig.Aliases"),  # a CNAME serves one distribution
    "AWS::ApiGatewayV2::Route": Facts(unique_in=("ApiId", ("RouteKey",))),
    "AWS::ApiGatewayV2::Stage": Facts(unique_in=("ApiId", ("StageName",))),
    "AWS::Cognito::UserPoolGroup": Facts(unique_in=("UserPoolId", ("GroupName",))),
    "AWS::Lambda::Alias": Facts(unique_in=("FunctionName", ("Name",))),
    "AWS::Lambda::EventSourceMapping": Facts(unique_in=("FunctionName", ("EventSourceArn",))),
    # One policy per bucket: a second one overwrites, and the old one's delete removes it.
    "AWS::S3::BucketPolicy": Facts(unique_in=("Bucket", ())),
    "AWS::Route53::RecordSet": Facts(unique_in=("HostedZoneId", ("Name", "Type"))),
}

# Names that are not unique account-wide (AWS lets them repeat, or scopes them to a parent),
# which the compiler sets and keeps unique in a stage: with `name` above, every name a
# template sets, for synth's names-once check.
LABELS: dict[str, str] = {
    "AWS::Cognito::UserPool": "UserPoolName",
    "AWS::Cognito::UserPoolClient": "ClientName",
    "AWS::ApiGatewayV2::Api": "Name",
    "AWS::Backup::BackupPlan": "BackupPlan.BackupPlanName",
    "AWS::Events::Rule": "Name",  # unique per bus (`unique_in`); kinds declare them per bus
    "AWS::WAFv2::WebACL": "Name",  # unique per scope and region
}

STATEFUL: frozenset[str] = frozenset(t for t, f in FACTS.items() if f.data)

# The types a take-over (delivery/takeover.py) carries between stacks with resource import, and
# the property CloudFormation imports each by (the resource provider schemas'
# primaryIdentifier; "A|B" when compound). A move of one of these is performed by deploy.
IMPORT_IDENTIFIER: dict[str, str] = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueUrl",
    "AWS::Cognito::UserPool": "UserPoolId",
    "AWS::Cognito::UserPoolGroup": "UserPoolId|GroupName",
    "AWS::SecretsManager::Secret": "Id",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::CloudWatch::Alarm": "AlarmName",  # no data, but a custom name: moved with its resource
    "AWS::KMS::Key": "KeyId",  # found through the alias that names it (keys have no name)
    "AWS::KMS::Alias": "AliasName",
    "AWS::Cognito::UserPoolClient": "UserPoolId|ClientId",  # found by its name in its pool
}

# Actions AWS offers no resource-level permission for (or that act on no resource yet):
# `*` is the only valid resource. Every one with its reason; policy rule P005 refuses a `*`
# resource for any other action, in every role the compiler emits.
WILDCARD_REASONS: dict[str, str] = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions (functions with tracing)",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions (functions with tracing)",
    "s3:ListAllMyBuckets": "deploy proves the deployment bucket is the account's own: ListBuckets lists only the caller's buckets",
    "cloudformation:DescribeStacks": "deploy lists the stage's stacks to find those that left the spec; a listing names no stack",
    "cloudformation:ListExports": "exports are listed account-wide; the call names no stack",
    "cloudformation:ListImports": "the importers of an export: the call names an export, not a stack",
    "cloudformation:DescribeStackDriftDetectionStatus": "a drift detection id is not a resource IAM can scope",
    "cognito-idp:CreateUserPool": "a user pool's id (and so its ARN) exists only after it is created",
    "acm:RequestCertificate": "a certificate's ARN exists only after it is requested",
    "cloudfront:CreateOriginAccessControl": "CloudFront has no resource-level permission for creating an origin access control",
    "lambda:CreateEventSourceMapping": "a mapping's id exists only after it is created (scoped by the lambda:FunctionArn condition)",
    "logs:DescribeLogGroups": "CloudWatch Logs lists log groups account-wide",
    "logs:CreateLogDelivery": "HTTP API access logging: CloudWatch Logs vended-log deliveries have no resource-level permissions",
    "logs:GetLogDelivery": "HTTP API access logging (vended-log deliveries have no resource-level permissions)",
    "logs:UpdateLogDelivery": "HTTP API access logging (vended-log deliveries have no resource-level permissions)",
    "logs:DeleteLogDelivery": "HTTP API access logging (vended-log deliveries have no resource-level permissions)",
    "logs:ListLogDeliveries": "HTTP API access logging (vended-log deliveries have no resource-level permissions)",
    "logs:PutResourcePolicy": "HTTP API access logging: the log-delivery resource policy is account-wide",
    "logs:DescribeResourcePolicies": "HTTP API access logging: the log-delivery resource policy is account-wide",
    "secretsmanager:GetRandomPassword": "a generated secret value: the call acts on no secret",
    "route53:ListHostedZones": "Route 53 lists hosted zones account-wide",
    "backup:CreateBackupPlan": "a backup plan's id (and so its ARN) exists only after it is created",
    "backup-storage:MountCapsule": "AWS Backup's storage action has no resource-level permissions (creating a vault)",
    "schemas:CreateDiscoverer": "a discoverer's id exists only after it is created",
    "kms:CreateKey": "a key's id (and so its ARN) exists only after it is created",
    "kms:ListAliases": "KMS lists aliases account-wide; the call names no key",
    "sns:Unsubscribe": "the authorization reference lists no resource type for it: a statement scoped to a topic never matches",
    "sns:GetSubscriptionAttributes": "the authorization reference lists no resource type for it (a subscription is no IAM resource)",
    "cloudfront:CreateDistribution": "the authorization reference lists no resource type for it: a distribution ARN never matches",
    "tag:GetResources": "the tagging API has no resource-level permissions (AWS Backup selects the stage's resources by tag)",
}
WILDCARD_ALLOWED = frozenset(WILDCARD_REASONS)
TRACING_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")


def facts(resource_type: str) -> Facts:
    return FACTS.get(resource_type, Facts())


def name_paths(resource_type: str) -> tuple[str, ...]:
    """Dotted paths of every name property the compiler sets on this type."""
    found = facts(resource_type)
    paths = [found.name] if found.name else []
    if resource_type in LABELS:
        paths.append(LABELS[resource_type])
    return tuple(paths)


def _schemas() -> Path:
    import cfnlint.data.schemas

    return Path(cfnlint.data.schemas.__file__).parent


@functools.cache
def _schema_index(region: str) -> dict[str, str]:
    """Resource type -> schema file digest, for one region (the files cfn-lint ships)."""
    return dict(json.loads((_schemas() / "providers" / f"{region}.json").read_text()))


@functools.cache
def _schema(resource_type: str, region: str) -> dict[str, Any]:
    """The resource provider schema of a type ({} for a type the region does not list)."""
    digest = _schema_index(region).get(resource_type)
    return dict(json.loads((_schemas() / "resources" / f"{digest}.json").read_text())) if digest else {}


def schema_create_only(resource_type: str, region: str = "us-east-1") -> frozenset[str]:
    """Top-level createOnlyProperties of the provider schema alone."""
    schema = _schema(resource_type, region)
    return frozenset(p.split("/")[2] for p in schema.get("createOnlyProperties", []) if p.startswith("/properties/"))


def required(resource_type: str, region: str = "us-east-1") -> frozenset[str]:
    """Top-level properties the provider schema requires."""
    return frozenset(_schema(resource_type, region).get("required", []))


@functools.cache
def reference(resource_type: str) -> dict[str, Any]:
    """What CloudFormation's resource reference says of a type beyond its provider schema:
    `replacement` (property -> the reference's "Update requires: Replacement" line) and
    `fails` (property -> the sentence saying it cannot be updated at all), from
    data/cfn_update_reference.json (tests/test_awstypes.py extracts it, quotes kept)."""
    return dict(_reference()["types"].get(resource_type) or {})


@functools.cache
def _reference() -> dict[str, Any]:
    return dict(json.loads((Path(__file__).parent / "data" / "cfn_update_reference.json").read_text()))


@functools.cache
def update_fails(resource_type: str) -> frozenset[str]:
    """Top-level properties whose change fails the update outright (CloudFormation neither
    updates nor replaces the resource for them): BLOCKED, never REPLACE."""
    return frozenset(facts(resource_type).fails) | frozenset(reference(resource_type).get("fails") or {})


@functools.cache
def create_only(resource_type: str, region: str = "us-east-1") -> frozenset[str]:
    """Top-level property names that force replacement when they change: the provider
    schema's, the reference's "Update requires: Replacement" and the known cases, less those
    whose change fails the update instead."""
    return (schema_create_only(resource_type, region) | frozenset(facts(resource_type).create_only)
            | frozenset(reference(resource_type).get("replacement") or {})) - update_fails(resource_type)
