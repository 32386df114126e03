"""keys: customer-managed KMS keys (AWS::KMS::Key with an alias), one of which a stage may
name as its key (`kms: NAME` in platform.yaml) to encrypt its data at rest.

With a stage key, the compiler encrypts with it everything that holds the stage's data:
tables, queues (and their DLQs), secrets, the alarm topic, the backup vault, log groups and
function environments; every function role gets exactly the KMS actions its access needs
(reading a table: Decrypt; sending to a queue: GenerateDataKey and Decrypt...), the
backup role what AWS Backup needs. Without one, each service's AWS managed key is used.

The key policy grants exactly:
- the account (its root, i.e. IAM administrators) the key's administration, never its use:
  without this statement nobody could manage the key again (KMS's lock-out rule);
- the stage's own roles (`arn:...:role/<service>-<stage>-*`, so never another stage's),
  its use through the services the stage stores data in (`kms:ViaService`), never directly;
- CloudWatch Logs, for the stage's log groups only (the encryption context names them);
- EventBridge and CloudWatch alarms, when the stage has bus rules feeding queues or an alarm
  topic, for this account's sources only.
Roles are named by pattern because a key policy may name only principals that exist, and
the roles are created after the key.

Rotation is yearly and on by default (`rotation: false` is an unsafe choice). A key is
never deleted at once: KMS schedules it (7-30 days, `deletion_window_days`), and everything
encrypted with it becomes unreadable; it is retained in protected stages.
"""

from __future__ import annotations

from typing import Any

from awacs.aws import Action, Allow, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
from pydantic import Field
from troposphere import AccountId, Ref, Sub, kms

from .. import naming
from ..model import StageSettings, StatefulSpec
from .base import Attr, Context, Kind, PhysicalName, Resource

ADMINISTER = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
    "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags", "kms:PutKeyPolicy",
    "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
# What services do with the key on behalf of the stage's roles (creating tables, queues,
# functions and vaults with it: grants; reading and writing data: the rest).
USE = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
       "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:RetireGrant")
LOGS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom", "kms:ReEncryptTo")
PUBLISH = ("kms:Decrypt", "kms:GenerateDataKey")  # a service putting messages into an encrypted queue or topic
# section of a kind whose data the key encrypts -> the service that calls KMS for it
VIA = {"tables": "dynamodb", "queues": "sqs", "secrets": "secretsmanager", "topics": "sns", "functions": "lambda",
       "backup_plans": "backup"}


class Spec(StatefulSpec):
    enabled: bool = Field(True, description="false: no key in this stage (`stages: {dev: {enabled: false}}`)")
    description: str | None = Field(None, max_length=8192, description="what the key protects")
    rotation: bool = Field(True, description="rotate the key material every year; false is an unsafe choice")
    deletion_window_days: int = Field(30, ge=7, le=30, description="days KMS waits before it deletes the key")

    UNSAFE = {"rotation": lambda v: v is False, **StatefulSpec.UNSAFE}
    CHECKOV = {"rotation": (("CKV_AWS_7", "AWS::KMS::Key"),)}


def alias(naming_: naming.Naming, name: str) -> str:
    return "alias/" + naming_.physical(name)


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    if not spec.enabled:
        return []
    return [PhysicalName("kms-alias", alias(naming_, name), naming.KMS_ALIAS)]


def _actions(names: tuple[str, ...]) -> list[Action]:
    return [Action(*n.split(":", 1)) for n in sorted(names)]


def _account_root() -> Principal:
    return Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"))


def policy(ctx: Context) -> PolicyDocument:
    declared = {r.kind.section: r for stack in ctx.stacks() for r in stack.resources}
    roles = Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{ctx.naming.physical('')}*")
    services = [Sub(f"{VIA[s]}.${{AWS::Region}}.amazonaws.com") for s in sorted(VIA, key=VIA.__getitem__) if s in declared]
    statements = [
        Statement(Sid="AccountAdministers", Effect=Allow, Principal=_account_root(), Action=_actions(ADMINISTER),
                  Resource=["*"]),
        Statement(Sid="StageRolesUseThroughServices", Effect=Allow, Principal=_account_root(), Action=_actions(USE),
                  Resource=["*"], Condition=Condition([
                      StringEquals({"kms:CallerAccount": AccountId, "kms:ViaService": services}),
                      ArnLike("aws:PrincipalArn", roles)])),
    ]
    if "functions" in declared or "apis" in declared:
        groups = [Sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/{kind}/"
                      f"{ctx.naming.physical('')}*") for kind in ("http-api", "lambda")]
        statements.append(Statement(
            Sid="StageLogGroups", Effect=Allow, Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
            Action=_actions(LOGS), Resource=["*"],
            Condition=Condition(ArnLike("kms:EncryptionContext:aws:logs:arn", groups))))
    feeds = any(getattr(rule, "targets", None) for stack in ctx.stacks() for r in stack.resources
                if r.kind.section == "buses" for rule in r.spec.rules.values())
    if feeds:
        statements.append(_service_publishes("EventBridgeRulesToQueues", "events.amazonaws.com"))
    if ctx.settings.alarms.enabled and ctx.settings.alarms.topic:
        statements.append(_service_publishes("CloudWatchAlarmsToTopic", "cloudwatch.amazonaws.com"))
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def _service_publishes(sid: str, service: str) -> Statement:
    return Statement(Sid=sid, Effect=Allow, Principal=Principal("Service", service), Action=_actions(PUBLISH),
                     Resource=["*"], Condition=Condition(StringEquals("aws:SourceAccount", AccountId)))


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    if not spec.enabled:
        return []
    props: dict[str, Any] = {
        "EnableKeyRotation": spec.rotation,
        "PendingWindowInDays": spec.deletion_window_days,
        "KeyPolicy": policy(ctx),
        "Tags": ctx.tags(resource),
    }
    if spec.description:
        props["Description"] = spec.description
    key = kms.Key(resource.logical_id, **props, **ctx.deletion_policies(resource))
    return [key, kms.Alias(resource.logical_id + "Alias", AliasName=alias(ctx.naming, resource.name), TargetKeyId=Ref(key))]


KIND = Kind(
    section="keys",
    ref="key",
    spec=Spec,
    id_suffix="Key",
    attributes={"arn": Attr("Arn", description="key ARN"), "id": Attr(description="key id"),
                "alias": Attr(part="Alias", description="alias name")},
    names=names,
    synthesize=synthesize,
)
