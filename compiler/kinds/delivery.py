"""delivery: who may deploy a stage, and with what — the stage's bootstrap stack.

One `delivery:` resource per stage makes:
- GitHub's OIDC identity provider (`oidc_provider: create`; one per account, so stages that
  share an account say `existing` in all but one, which must be bootstrapped first);
- the deploy role `<service>-<stage>-<name>-deploy`, assumable only through that provider by
  the platform's repository (`repository:` in platform.yaml) from the stage's GitHub
  environment (`sub` = `repo:<owner>/<repo>:environment:<stage>`, `aud` = sts.amazonaws.com).
  It may run change sets on the stage's stacks (`<service>-<stage>-*`) but never on the
  bootstrap stack itself, use the deployment bucket, move and prune function versions, and
  pass exactly one role: the execution role, to CloudFormation;
- the read-only review role `...-review` for pull requests and the scheduled drift check
  (`sub` = `repo:<owner>/<repo>:pull_request` or the main branch): templates, stack state,
  drift detection, and the read calls drift detection makes on the stage's resources;
- the CloudFormation execution role `...-cloudformation` that deploys every other stack: the
  service permissions of exactly the kinds the stage declares, on `<service>-<stage>-*`
  names wherever the service allows it (awstypes.WILDCARD_REASONS lists every `*` with its
  reason), and an explicit deny on the three delivery roles (no stack can widen its own
  deployer); it writes roles only with the stage's permissions boundary on them;
- the permissions boundary `<service>-<stage>-boundary`, a managed policy every role the
  stage's stacks create carries: the union of what the declared kinds' roles can ever need
  (`_bounds`), and nothing in IAM or STS;
- the deployment bucket `<service>-<stage>-deployment` (a `buckets:` resource of fixed
  settings: versioned, SSE-S3, TLS-only, public access blocked, always retained): uploaded
  templates expire after `templates_expire_days`, replaced artifact versions after
  `noncurrent_days`; current artifacts stay (a failed update's rollback re-reads the
  previous zip).

Deploy never changes the stack holding this (the deploy role is denied it): an
administrator's `platformc bootstrap --stage S` does, once and after each change to it.

Why one module of this length: a kind is one vertical slice (kinds/queue.py's model); the
three delivery roles, the boundary and the per-kind permissions are that slice.
"""

from __future__ import annotations

from typing import Any, Literal

from awacs.aws import (Action, Allow, ArnLike, Condition, Deny, Null, PolicyDocument, Principal, Statement, StringEquals,
                       StringLike, StringNotEquals)
from pydantic import Field
from troposphere import GetAtt, Ref, Sub, iam

from .. import naming
from .cfn import MANAGED_POLICY_CHARS, policy_chars
from ..model import ResourceSpec, StageSettings
from . import bucket
from .base import ACCOUNT, ARN, STAGE_KEYS, STAGE_TAGGED, Attr, Context, Kind, Permission, PhysicalName, Resource, SpecProblem

GITHUB_ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
ROLES = ("deploy", "review", "cloudformation")


class Spec(ResourceSpec):
    oidc_provider: Literal["create", "existing"] = Field(
        "create", description="create GitHub's OIDC provider, or use the one another stage of the account made")
    templates_expire_days: int = Field(30, ge=1, description="uploaded templates (read only while a change set is made) expire")
    noncurrent_days: int = Field(30, ge=1, description="replaced versions of artifacts expire")
    export: list[str] = Field(default_factory=lambda: ["deploy_role_arn", "review_role_arn"],
                              description="attributes exported (the workflow's role ARNs)")

    def checkov_skips(self) -> dict[str, tuple[str, str | None]]:
        skips = super().checkov_skips()
        skips.setdefault("CKV_AWS_18", (
            "the deployment bucket is in the bootstrap stack, which is deployed first and alone and so cannot log into "
            "the stage's access-log bucket; CloudTrail records who changes it (delivery kind)", "AWS::S3::Bucket"))
        return skips


A = ARN
ACCT = ACCOUNT
BOUNDARY = f"{A}:iam::{ACCT}:policy/{{boundary}}"  # the stage's permissions boundary
BOUNDED = ("StringEquals", "iam:PermissionsBoundary", BOUNDARY)


def _wild(action: str) -> Permission:
    """An action AWS lets act on `*` only (awstypes.WILDCARD_REASONS says why, per action)."""
    return Permission("Any" + action.split(":")[1], (action,), ("*",))


# What CloudFormation needs to manage each kind's resources. Names carry the stage prefix
# wherever the service scopes by name; ids AWS picks (user pools, certificates,
# distributions, HTTP APIs, backup plans) are scoped to the account.
SERVICES: dict[str, tuple[Permission, ...]] = {
    "tables": (Permission("Tables", (
        "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
        "dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeTimeToLive",
        "dynamodb:UpdateTimeToLive", "dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:ListTagsOfResource",
        "dynamodb:DescribeContributorInsights", "dynamodb:UpdateContributorInsights", "dynamodb:DescribeKinesisStreamingDestination"),
        (f"{A}:dynamodb:*:{ACCT}:table/{{p}}*",)),),
    "queues": (Permission("Queues", (
        "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:GetQueueUrl",
        "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags"), (f"{A}:sqs:*:{ACCT}:{{p}}*",)),),
    "buckets": (Permission("Buckets", (
        "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucket*", "s3:PutBucket*", "s3:DeleteBucketPolicy",
        "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration", "s3:GetLifecycleConfiguration",
        "s3:PutLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:PutReplicationConfiguration",
        "s3:GetIntelligentTieringConfiguration", "s3:PutIntelligentTieringConfiguration"), (f"{A}:s3:::{{p}}*",)),
        Permission("PassReplicationRoles", ("iam:PassRole",), (f"{A}:iam::{ACCT}:role/{{p}}*",),
                   (("StringEquals", "iam:PassedToService", "s3.amazonaws.com"),))),
    "buses": (Permission("Buses", (
        "events:CreateEventBus", "events:DeleteEventBus", "events:DescribeEventBus", "events:PutRule", "events:DeleteRule",
        "events:DescribeRule", "events:EnableRule", "events:DisableRule", "events:PutTargets", "events:RemoveTargets",
        "events:ListTargetsByRule", "events:CreateArchive", "events:DeleteArchive", "events:DescribeArchive",
        "events:UpdateArchive", "events:TagResource", "events:UntagResource", "events:ListTagsForResource"),
        (f"{A}:events:*:{ACCT}:event-bus/{{p}}*", f"{A}:events:*:{ACCT}:rule/{{p}}*", f"{A}:events:*:{ACCT}:archive/{{p}}*")),
        Permission("SchemaDiscovery", ("schemas:DeleteDiscoverer", "schemas:DescribeDiscoverer", "schemas:UpdateDiscoverer",
                                       "schemas:TagResource", "schemas:UntagResource"),
                   (f"{A}:schemas:*:{ACCT}:discoverer/*",)),
        _wild("schemas:CreateDiscoverer")),
    "functions": (
        Permission("Functions", (
            "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
            "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:PublishVersion",
            "lambda:ListVersionsByFunction", "lambda:CreateAlias", "lambda:UpdateAlias", "lambda:DeleteAlias",
            "lambda:GetAlias", "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy", "lambda:TagResource",
            "lambda:UntagResource", "lambda:ListTags", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency",
            "lambda:PutProvisionedConcurrencyConfig", "lambda:DeleteProvisionedConcurrencyConfig",
            "lambda:GetProvisionedConcurrencyConfig", "lambda:GetRuntimeManagementConfig"),
            (f"{A}:lambda:*:{ACCT}:function:{{p}}*",)),
        Permission("EventSourceMappings", ("lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping",
                                           "lambda:DeleteEventSourceMapping"), (f"{A}:lambda:*:{ACCT}:event-source-mapping:*",),
                   (("ArnLike", "lambda:FunctionArn", f"{A}:lambda:*:{ACCT}:function:{{p}}*"),)),
        Permission("CreateEventSourceMapping", ("lambda:CreateEventSourceMapping",), ("*",),
                   (("ArnLike", "lambda:FunctionArn", f"{A}:lambda:*:{ACCT}:function:{{p}}*"),)),
        Permission("FunctionCode", ("s3:GetObject", "s3:GetObjectVersion"), (f"{A}:s3:::{{p}}deployment/handlers/*",)),
        Permission("PassFunctionRoles", ("iam:PassRole",), (f"{A}:iam::{ACCT}:role/{{p}}*",),
                   (("StringEquals", "iam:PassedToService", "lambda.amazonaws.com"),)),
    ),
    "apis": (
        Permission("HttpApis", ("apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"),
                   (f"{A}:apigateway:*::/apis", f"{A}:apigateway:*::/apis/*", f"{A}:apigateway:*::/tags/*",
                    f"{A}:apigateway:*::/domainnames", f"{A}:apigateway:*::/domainnames/*")),
        Permission("AccessLogDelivery", ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                                         "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                                         "logs:DescribeResourcePolicies"), ("*",)),
    ),
    "user_pools": (
        Permission("UserPools", ("cognito-idp:DeleteUserPool", "cognito-idp:DescribeUserPool", "cognito-idp:UpdateUserPool",
                                 "cognito-idp:SetUserPoolMfaConfig", "cognito-idp:GetUserPoolMfaConfig",
                                 "cognito-idp:CreateUserPoolClient", "cognito-idp:DeleteUserPoolClient",
                                 "cognito-idp:DescribeUserPoolClient", "cognito-idp:UpdateUserPoolClient",
                                 "cognito-idp:CreateGroup", "cognito-idp:DeleteGroup", "cognito-idp:GetGroup",
                                 "cognito-idp:UpdateGroup", "cognito-idp:TagResource", "cognito-idp:UntagResource",
                                 "cognito-idp:ListTagsForResource"), (f"{A}:cognito-idp:*:{ACCT}:userpool/*",)),
        _wild("cognito-idp:CreateUserPool"),
    ),
    "secrets": (
        Permission("Secrets", ("secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret",
                               "secretsmanager:UpdateSecret", "secretsmanager:TagResource", "secretsmanager:UntagResource",
                               "secretsmanager:GetSecretValue", "secretsmanager:RotateSecret",
                               "secretsmanager:CancelRotateSecret"),
                   (f"{A}:secretsmanager:*:{ACCT}:secret:{{p}}*",)),
        _wild("secretsmanager:GetRandomPassword"),
    ),
    "topics": (Permission("Topics", (
        "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe",
        "sns:ListSubscriptionsByTopic", "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource"),
        (f"{A}:sns:*:{ACCT}:{{p}}*",)),
        _wild("sns:Unsubscribe"), _wild("sns:GetSubscriptionAttributes")),
    "dashboards": (Permission("Dashboards", ("cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"),
                              (f"{A}:cloudwatch::{ACCT}:dashboard/{{p}}*",)),),
    "certificates": (
        Permission("Certificates", ("acm:DescribeCertificate", "acm:DeleteCertificate", "acm:AddTagsToCertificate",
                                    "acm:RemoveTagsFromCertificate", "acm:ListTagsForCertificate"),
                   (f"{A}:acm:*:{ACCT}:certificate/*",)),
        _wild("acm:RequestCertificate"),
    ),
    "distributions": (
        _wild("cloudfront:CreateDistribution"),
        Permission("Distributions", ("cloudfront:GetDistribution",
                                     "cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution",
                                     "cloudfront:DeleteDistribution", "cloudfront:TagResource", "cloudfront:UntagResource",
                                     "cloudfront:ListTagsForResource"),
                   (f"{A}:cloudfront::{ACCT}:distribution/*",)),
        Permission("OriginAccessControls", ("cloudfront:GetOriginAccessControl", "cloudfront:UpdateOriginAccessControl",
                                            "cloudfront:DeleteOriginAccessControl"),
                   (f"{A}:cloudfront::{ACCT}:origin-access-control/*",)),
        _wild("cloudfront:CreateOriginAccessControl"),
        Permission("UseWebAcl", ("wafv2:GetWebACL",), (f"{A}:wafv2:us-east-1:{ACCT}:global/webacl/{{p}}*",)),
    ),
    "web_acls": (Permission("WebAcls", ("wafv2:CreateWebACL", "wafv2:DeleteWebACL", "wafv2:GetWebACL", "wafv2:UpdateWebACL",
                                        "wafv2:TagResource", "wafv2:UntagResource", "wafv2:ListTagsForResource"),
                            (f"{A}:wafv2:*:{ACCT}:global/webacl/{{p}}*", f"{A}:wafv2:*:{ACCT}:regional/webacl/{{p}}*",
                             f"{A}:wafv2:*:{ACCT}:global/managedruleset/*", f"{A}:wafv2:*:{ACCT}:regional/managedruleset/*")),),
    "backup_plans": (
        Permission("BackupVaults", ("backup:CreateBackupVault", "backup:DeleteBackupVault", "backup:DescribeBackupVault",
                                    "backup:TagResource", "backup:UntagResource", "backup:ListTags"),
                   (f"{A}:backup:*:{ACCT}:backup-vault:{{p}}*",)),
        Permission("BackupPlans", ("backup:DeleteBackupPlan", "backup:GetBackupPlan", "backup:UpdateBackupPlan",
                                   "backup:CreateBackupSelection", "backup:DeleteBackupSelection", "backup:GetBackupSelection",
                                   "backup:TagResource", "backup:UntagResource", "backup:ListTags"),
                   (f"{A}:backup:*:{ACCT}:backup-plan:*",)),
        _wild("backup:CreateBackupPlan"),
        _wild("backup-storage:MountCapsule"),
        Permission("PassBackupRoles", ("iam:PassRole",), (f"{A}:iam::{ACCT}:role/{{p}}*",),
                   (("StringEquals", "iam:PassedToService", "backup.amazonaws.com"),)),
        Permission("BackupManagedPolicies", ("iam:AttachRolePolicy", "iam:DetachRolePolicy"), (f"{A}:iam::{ACCT}:role/{{p}}*",),
                   (("ArnLike", "iam:PolicyARN", f"{A}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyFor*"),
                    BOUNDED)),
    ),
}
ALARMS = Permission("Alarms", ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
                               "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"),
                    (f"{A}:cloudwatch:*:{ACCT}:alarm:{{p}}*",))
LOG_GROUPS = Permission("LogGroups", ("logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
                                      "logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource",
                                      "logs:ListTagsForResource", "logs:TagLogGroup", "logs:UntagLogGroup"),
                        (f"{A}:logs:*:{ACCT}:log-group:/aws/lambda/{{p}}*", f"{A}:logs:*:{ACCT}:log-group:/aws/http-api/{{p}}*"))
ROLES_OF_STAGE = f"{A}:iam::{ACCT}:role/{{p}}*"
# Every action that writes what a role may do, or who may take it on: each needs the stage's
# permissions boundary on the role (the `iam:PermissionsBoundary` condition key, which the IAM
# service authorization reference lists for each of them), so no change set can make or widen
# a role past what the kinds' roles can ever need. AttachRolePolicy/DetachRolePolicy carry the
# same condition where a kind needs them (BackupManagedPolicies).
ROLE_WRITES = ("iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:UpdateRole",
               "iam:UpdateAssumeRolePolicy", "iam:PutRolePermissionsBoundary")
ROLE_MANAGEMENT = (
    Permission("Roles", ("iam:DeleteRole", "iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies",
                         "iam:ListAttachedRolePolicies", "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags"), (ROLES_OF_STAGE,)),
    Permission("BoundedRoles", ROLE_WRITES, (ROLES_OF_STAGE,), (BOUNDED,)),
)
LIST_LOG_GROUPS = _wild("logs:DescribeLogGroups")
HOSTED_ZONE = ("route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:GetHostedZone")
# Kinds whose resources include roles, log groups, alarms or DNS records.
WITH_ROLES = {"functions", "buckets", "backup_plans"}
WITH_LOGS = {"functions", "apis"}
WITH_DNS = {"certificates", "distributions", "apis"}  # apis: an origin domain's alias record
MAX_MANAGED_POLICIES = 10  # IAM's default quota of managed policies attached to one role
READ_VERBS = ("Describe", "Get", "List", "GET")
# Reads of data (or of code) rather than of configuration: never granted to the review role.
# A distribution's config carries its origins' custom headers resolved, the API's origin
# secret among them; drift detection reads the distribution without it (DetectStackDrift).
NOT_READ = {"secretsmanager:GetSecretValue", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "lambda:GetFunction",
            "cloudfront:GetDistributionConfig"}
POLICY_WRITES = ("iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion",
                 "iam:SetDefaultPolicyVersion", "iam:TagPolicy", "iam:UntagPolicy")
# Refused to the execution role whatever else allows it: a role written without the stage's
# boundary, the boundary taken off a role, the boundary policy itself changed, and the three
# delivery roles (no stack can widen its own deployer).
DENIES = (
    Permission("OnlyBoundedRoles", (*ROLE_WRITES, "iam:AttachRolePolicy", "iam:DetachRolePolicy"), (f"{A}:iam::{ACCT}:role/*",),
               (("StringNotEquals", "iam:PermissionsBoundary", BOUNDARY),)),
    Permission("BoundaryStaysOn", ("iam:DeleteRolePermissionsBoundary",), (f"{A}:iam::{ACCT}:role/*",)),
    Permission("BoundaryIsFixed", POLICY_WRITES, (BOUNDARY,)),
)


OPERATORS: dict[str, type[Any]] = {"StringEquals": StringEquals, "StringNotEquals": StringNotEquals, "StringLike": StringLike,
             "ArnLike": ArnLike, "Null": Null}


def _statement(permission: Permission, ctx: Context, effect: Any = Allow, actions: tuple[str, ...] | None = None) -> Statement:
    def fill(text: str) -> Any:
        text = text.replace("{p}", ctx.naming.physical("")).replace("{stage}", ctx.stage)
        return Sub(text.replace("{boundary}", ctx.naming.boundary)) if "${" in text else text

    props: dict[str, Any] = {
        "Sid": permission.sid,
        "Effect": effect,
        "Action": [Action(*a.split(":", 1)) for a in sorted(actions or permission.actions)],
        "Resource": [fill(r) for r in permission.resources],
    }
    if permission.conditions:
        props["Condition"] = Condition([OPERATORS[operator](key, fill(value) if isinstance(value, str) else value)
                                        for operator, key, value in permission.conditions])
    return Statement(**props)


def pack_statements(statements: list[Statement], limit: int = MANAGED_POLICY_CHARS) -> list[list[Statement]]:
    """The statements in order, in documents of at most `limit` characters each as IAM
    counts them (cfn.policy_chars), each filled before the next starts. A document's count
    is its empty document's plus each statement's plus a comma between two: the compact
    JSON of a list is its items' joined by commas, and what policy_chars substitutes lies
    inside one statement. So each statement is measured once, not once per pack it is
    tried in."""
    empty = policy_chars(PolicyDocument(Version="2012-10-17", Statement=[]))
    found: list[list[Statement]] = [[]]
    size = empty
    for statement in statements:
        own = policy_chars(statement)
        if found[-1] and size + 1 + own > limit:
            found.append([])
            size = empty
        size += own + (1 if found[-1] else 0)
        found[-1].append(statement)
    return found


def _packed(statements: list[Statement], resource: Resource, ctx: Context) -> list[iam.ManagedPolicy]:
    """The statements as managed policies of at most IAM's 6,144 characters each (as
    deployed, cfn.policy_chars), filled in order."""
    packs = pack_statements(statements)
    if len(packs) > MAX_MANAGED_POLICIES:
        raise SpecProblem((), f"the execution role's grants need {len(packs)} managed policies; IAM attaches at most "
                              f"{MAX_MANAGED_POLICIES} to a role: split the stage's kinds across accounts or raise the quota")
    # unnamed: CloudFormation names each `<bootstrap stack>-<logical id>-<suffix>` (how many
    # there are depends on the stage's kinds, which a name declared in advance cannot know)
    return [iam.ManagedPolicy(
        f"{resource.logical_id}ExecutionPolicy{i}",
        Description=f"What CloudFormation may do in {ctx.naming.stack('')}* stacks, part {i} of {len(packs)} (platformc)",
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=pack)) for i, pack in enumerate(packs, 1)]


def _permissions(ctx: Context) -> list[Permission]:
    """What the execution role needs for the kinds this stage declares (less the bootstrap's own)."""
    sections = {r.kind.section for stack in ctx.stacks() for r in stack.resources if r.kind.section != KIND.section}
    found: list[Permission] = []
    for section in sorted(sections):
        found += SERVICES.get(section, ())
    for resource in (r for stack in ctx.stacks() for r in stack.resources):
        if needs := resource.kind.deploy_needs:
            found += [need for need in needs(resource.spec) if need not in found]
    if sections & WITH_ROLES:
        found += ROLE_MANAGEMENT
    if sections & WITH_LOGS:
        found += [LOG_GROUPS, LIST_LOG_GROUPS]
    if ctx.settings.alarms.enabled or "alarms" in sections:
        found.append(ALARMS)
    if "keys" in sections:
        found += _key_permissions(ctx)
    zone = ctx.settings.hosted_zone_id
    if sections & WITH_DNS and zone:
        found.append(Permission("HostedZone", HOSTED_ZONE, (f"{A}:route53:::hostedzone/{zone}",)))
        found.append(Permission("DnsChanges", ("route53:GetChange",), (f"{A}:route53:::change/*",)))
        found.append(_wild("route53:ListHostedZones"))
    return found


def _bounds(ctx: Context) -> list[Permission]:
    """The stage's permissions boundary: what any role the stage's stacks create may ever do.

    The union, over the kinds the stage declares, of every access level's actions on the ARNs
    the stage's resources of that kind can have (SERVICES: the execution role's own scope;
    where AWS picks the id, the resource must carry the stage's tag), what the kinds' roles
    need for themselves (`Kind.role_needs`), and the stage's keys for data they encrypt.
    Nothing in it touches IAM, STS or another stage's resources.
    """
    kinds = {r.kind.section: r.kind for stack in ctx.stacks() for r in stack.resources}
    found: list[Permission] = []
    keys: set[str] = set()
    for section, kind in sorted(kinds.items()):
        grants = [grant for level in kind.access.values() for grant in level]
        if grants:
            scope = SERVICES[section][0].resources
            found.append(Permission("Access" + naming.camel(section), tuple(sorted({a for g in grants for a in g.actions})),
                                    scope, () if any("{p}" in r for r in scope) else STAGE_TAGGED))
            keys.update(a for g in grants for a in g.key)
    for section, kind in sorted(kinds.items()):
        found += [need for need in kind.role_needs if need not in found]
    if keys:
        found.append(Permission("AccessStageKey", tuple(sorted(keys)), (STAGE_KEYS,), STAGE_TAGGED))
    return found


def _key_permissions(ctx: Context) -> list[Permission]:
    """KMS keys have no name to scope by: the stage's keys are those tagged with its stage
    (every resource carries Stage), new ones are created with that tag, aliases carry the
    stage prefix. With a stage key, CloudFormation also uses it, through the services,
    to create what it encrypts (tables, queues, functions, secrets, vaults make grants)."""
    tagged = STAGE_TAGGED
    keys = (STAGE_KEYS,)
    found = [
        Permission("KeyManagement", ("kms:DescribeKey", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
                                     "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
                                     "kms:ListResourceTags", "kms:ScheduleKeyDeletion", "kms:TagResource",
                                     "kms:UntagResource",
                                     "kms:UpdateKeyDescription", "kms:EnableKey", "kms:DisableKey", "kms:CreateAlias",
                                     "kms:DeleteAlias", "kms:UpdateAlias"), keys, tagged),
        # a new key is tagged as it is created: its Stage tag is in the request, not on it yet;
        # a key that already has a Stage tag is never re-tagged into this stage (another
        # stage's key would then be this stage's to manage)
        Permission("NewKeyTags", ("kms:TagResource",), keys, (("StringEquals", "aws:RequestTag/Stage", "{stage}"),
                                                              ("Null", "aws:ResourceTag/Stage", "true"))),
        Permission("KeyAliases", ("kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"), (f"{A}:kms:*:{ACCT}:alias/{{p}}*",)),
        _wild("kms:CreateKey"),
        _wild("kms:ListAliases"),
    ]
    if ctx.settings.kms:
        found.append(Permission("UseStageKey", ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt",
                                                "kms:GenerateDataKey", "kms:RetireGrant"), keys, tagged))
    return found


def _role_arn(ctx: Context, resource: Resource, role: str) -> Sub:
    return Sub(f"{A}:iam::{ACCT}:role/{ctx.name(resource, '-' + role)}")


def _federated_trust(provider: Any, subjects: list[str]) -> PolicyDocument:
    return PolicyDocument(Version="2012-10-17", Statement=[Statement(
        Effect=Allow,
        Principal=Principal("Federated", provider),
        Action=[Action("sts", "AssumeRoleWithWebIdentity")],
        Condition=Condition(StringEquals({
            f"{GITHUB_ISSUER}:aud": AUDIENCE,
            f"{GITHUB_ISSUER}:sub": subjects if len(subjects) > 1 else subjects[0],
        })),
    )])


def _stack_arn(ctx: Context, name: str) -> Sub:
    return Sub(f"{A}:cloudformation:*:{ACCT}:stack/{name}/*")


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    if ctx.repository is None:
        raise SpecProblem((), "delivery needs the GitHub repository whose workflow deploys: set `repository: owner/name` "
                              "in platform.yaml")
    prefix = ctx.naming.physical("")  # "<service>-<stage>-"
    repo = f"repo:{ctx.repository}"
    out: list[object] = []
    if spec.oidc_provider == "create":
        provider = iam.OIDCProvider(resource.logical_id + "GithubOidc", Url=f"https://{GITHUB_ISSUER}",
                                    ClientIdList=[AUDIENCE], Tags=ctx.tags(resource))
        out.append(provider)
        provider_arn: Any = Ref(provider)
    else:
        provider_arn = Sub(f"{A}:iam::{ACCT}:oidc-provider/{GITHUB_ISSUER}")

    deployment = Resource(bucket.KIND, naming.DEPLOYMENT_BUCKET, bucket.Spec(
        versioning=True, retain=True, tags=dict(spec.tags), access_logs=False,
        lifecycle={
            "templates": bucket.LifecycleRule(prefix="templates/", expire_after_days=spec.templates_expire_days,
                                              noncurrent_expire_after_days=1, abort_incomplete_uploads_after_days=1),
            "artifacts": bucket.LifecycleRule(prefix="handlers/", noncurrent_expire_after_days=spec.noncurrent_days,
                                              abort_incomplete_uploads_after_days=1),
        }), resource.stack, resource.logical_id + "DeploymentBucket", resource.where)
    out += bucket.synthesize(deployment, ctx)
    bucket_arn = Sub(f"{A}:s3:::{ctx.naming.deployment_bucket}")
    objects = Sub(f"{A}:s3:::{ctx.naming.deployment_bucket}/*")
    delivery_roles = [_role_arn(ctx, resource, role) for role in ROLES]

    permissions = _permissions(ctx)
    boundary = iam.ManagedPolicy(
        resource.logical_id + "Boundary",
        ManagedPolicyName=ctx.naming.boundary,
        Description=f"The permissions boundary of every role the {prefix}* stacks create (platformc)",
        PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[_statement(p, ctx) for p in _bounds(ctx)]),
    )
    execution_name = ctx.name(resource, "-cloudformation")
    grants = _packed([_statement(p, ctx) for p in permissions], resource, ctx)
    own_policies = Permission("ItsPoliciesAreFixed", POLICY_WRITES,
                              (f"{A}:iam::{ACCT}:policy/{ctx.naming.stack(resource.stack)}-*",))
    execution = iam.Role(
        resource.logical_id + "ExecutionRole",
        RoleName=execution_name,
        Description=f"CloudFormation deploys {prefix}* stacks with this role (platformc)",
        AssumeRolePolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[Statement(
            Effect=Allow, Principal=Principal("Service", "cloudformation.amazonaws.com"),
            Action=[Action("sts", "AssumeRole")],
            Condition=Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))))]),
        # its grants: managed policies (a role's inline policies hold 10,240 characters in all);
        # inline, the denies, which no change to those policies can lift
        ManagedPolicyArns=[Ref(policy) for policy in grants],
        Policies=[iam.Policy(PolicyName="never", PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[
            *(_statement(p, ctx, Deny) for p in (*DENIES, own_policies)),
            Statement(Sid="NeverTheDeliveryRoles", Effect=Deny, Action=[Action("iam", "*")], Resource=delivery_roles),
        ]))],
        Tags=ctx.tags(resource),
    )
    bootstrap_stack = _stack_arn(ctx, ctx.naming.stack(resource.stack))
    stage_stacks = _stack_arn(ctx, f"{prefix}*")
    change_sets = Sub(f"{A}:cloudformation:*:{ACCT}:changeSet/platformc-*/*")
    deploy = iam.Role(
        resource.logical_id + "DeployRole",
        RoleName=ctx.name(resource, "-deploy"),
        Description=f"{ctx.repository} deploys stage {ctx.stage} from its GitHub environment (platformc)",
        MaxSessionDuration=3600,
        AssumeRolePolicyDocument=_federated_trust(provider_arn, [f"{repo}:environment:{ctx.stage}"]),
        Policies=[iam.Policy(PolicyName="deploy", PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[
            Statement(Sid="StageStacks", Effect=Allow, Action=[Action("cloudformation", a) for a in (
                "CreateChangeSet", "DeleteChangeSet", "DeleteStack", "DescribeChangeSet", "DescribeStackEvents",
                "DescribeStackResource", "DescribeStackResourceDrifts", "DescribeStackResources", "DetectStackDrift",
                "DetectStackResourceDrift", "ExecuteChangeSet", "GetTemplate", "GetTemplateSummary", "ListChangeSets",
                "ListStackResources", "UpdateTerminationProtection")], Resource=[stage_stacks, change_sets]),
            Statement(Sid="NotTheBootstrapStack", Effect=Deny, Action=[Action("cloudformation", a) for a in (
                "CreateChangeSet", "DeleteStack", "ExecuteChangeSet", "UpdateStack", "UpdateTerminationProtection")],
                Resource=[bootstrap_stack]),
            Statement(Sid="ListStacksAndExports", Effect=Allow, Action=[Action("cloudformation", a) for a in (
                "DescribeStackDriftDetectionStatus", "DescribeStacks", "ListExports", "ListImports")], Resource=["*"]),
            Statement(Sid="PassOnlyTheExecutionRole", Effect=Allow, Action=[Action("iam", "PassRole")],
                      Resource=[GetAtt(execution, "Arn")],
                      Condition=Condition(StringEquals("iam:PassedToService", "cloudformation.amazonaws.com"))),
            Statement(Sid="DeploymentBucket", Effect=Allow, Action=[Action("s3", "GetBucketLocation"), Action("s3", "ListBucket")],
                      Resource=[bucket_arn]),
            Statement(Sid="Artifacts", Effect=Allow, Action=[Action("s3", "GetObject"), Action("s3", "PutObject")],
                      Resource=[objects]),
            Statement(Sid="ProveBucketOwnership", Effect=Allow, Action=[Action("s3", "ListAllMyBuckets")], Resource=["*"]),
            Statement(Sid="FunctionVersions", Effect=Allow, Action=[Action("lambda", a) for a in (
                "DeleteFunction", "GetAlias", "GetFunctionConfiguration", "ListAliases", "ListVersionsByFunction",
                "UpdateAlias")], Resource=[Sub(f"{A}:lambda:*:{ACCT}:function:{prefix}*")]),
        ]))],
        Tags=ctx.tags(resource),
    )
    reads = [Permission(p.sid, tuple(a for a in p.actions if a.split(":")[1].startswith(READ_VERBS) and a not in NOT_READ),
                        p.resources, p.conditions) for p in permissions]
    review = iam.Role(
        resource.logical_id + "ReviewRole",
        RoleName=ctx.name(resource, "-review"),
        Description=f"{ctx.repository}'s pull requests and drift checks read stage {ctx.stage} (platformc)",
        MaxSessionDuration=3600,
        AssumeRolePolicyDocument=_federated_trust(provider_arn, [f"{repo}:pull_request", f"{repo}:ref:refs/heads/main"]),
        Policies=[iam.Policy(PolicyName="read", PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[
            Statement(Sid="StageStacks", Effect=Allow, Action=[Action("cloudformation", a) for a in (
                "DescribeStackEvents", "DescribeStackResource", "DescribeStackResourceDrifts", "DescribeStackResources",
                "DetectStackDrift", "DetectStackResourceDrift", "GetTemplate", "ListStackResources")],
                Resource=[stage_stacks]),
            Statement(Sid="ListStacksAndExports", Effect=Allow, Action=[Action("cloudformation", a) for a in (
                "DescribeStackDriftDetectionStatus", "DescribeStacks", "ListExports", "ListImports")], Resource=["*"]),
            *(_statement(p, ctx) for p in reads if p.actions),
        ]))],
        Tags=ctx.tags(resource),
    )
    for role, marker in ((execution, "execution-role"), (deploy, "deploy-role"), (review, "review-role")):
        role.Metadata = {"Delivery": marker}
    return [*out, boundary, *grants, execution, deploy, review]


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    return [
        PhysicalName("s3-bucket", naming_.deployment_bucket, naming.BUCKET),
        PhysicalName("iam-policy", naming_.boundary, naming.IAM_POLICY),
        *(PhysicalName("iam-role", naming_.physical(name, "-" + role), naming.IAM_ROLE) for role in ROLES),
    ]


KIND = Kind(
    section="delivery",
    ref="delivery",
    spec=Spec,
    id_suffix="Delivery",
    attributes={
        "deploy_role_arn": Attr("Arn", "DeployRole", "the role the deploy workflow assumes"),
        "review_role_arn": Attr("Arn", "ReviewRole", "the role pull requests and drift checks assume"),
        "execution_role_arn": Attr("Arn", "ExecutionRole", "the role CloudFormation deploys the other stacks with"),
        "bucket": Attr(None, "DeploymentBucket", "the deployment bucket's name"),
    },
    names=names,
    synthesize=synthesize,
    bootstrap=True,
)
