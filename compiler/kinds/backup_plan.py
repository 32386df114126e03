"""backup_plans: AWS Backup plans (vault, schedule, retention, selection).

The plan selects the stage's resources of the given kinds by the tags the compiler puts on
everything (`Service` and `Stage`), so a table added to any spec file is backed up without
being listed, and a plan never reaches into another stage. The vault holds the recovery
points: it is retained in protected stages like any stateful resource.
"""

from __future__ import annotations

from typing import Annotated, Literal

from awacs.aws import Action, Allow, PolicyDocument, Statement
from pydantic import Field
from troposphere import GetAtt, Ref, Sub, backup, iam

from .. import naming
from .cfn import bounded, trust_policy
from ..model import Duration, StageSettings, StatefulSpec, matching
from .base import ACCOUNT, ARN, STAGE_KEYS, STAGE_TAGGED, Attr, Context, Kind, Permission, PhysicalName, Resource


# What AWS Backup may back up, as resource ARN patterns in this account and region.
SELECTABLE = {
    "table": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*",
    "bucket": "arn:${AWS::Partition}:s3:::*",
}
Selectable = Literal["table", "bucket"]
DEFAULT_KINDS: tuple[Selectable, ...] = ("table",)
MANAGED_POLICIES = (
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
)


class Spec(StatefulSpec):
    schedule: Annotated[str, matching(r"(cron|rate)\(.+\)", "a schedule expression such as cron(0 3 * * ? *)")] = Field(
        "cron(0 3 * * ? *)", description="when backups run (a cron or rate expression)"
    )
    retention_days: int = Field(30, ge=1, le=36500, description="days each recovery point is kept")
    kinds: list[Selectable] = Field(default_factory=lambda: list(DEFAULT_KINDS), min_length=1, description="which kinds of resource are backed up: table, bucket")
    start_window: Duration = Field(3600, ge=3600, description="how late a backup may start")
    completion_window: Duration = Field(8 * 3600, ge=3600, description="how long a backup may run before it is cancelled")
    enabled: bool = Field(True, description="false: no plan in this stage (e.g. dev)")
    vault_key: Literal["stage", "aws"] | None = Field(
        None, description="the vault's key, fixed when it is created: default the stage's key (`kms:`) when it has one; "
                          "aws (AWS Backup's own) is an unsafe choice where the stage has a key")

    UNSAFE = {"vault_key": lambda v: v == "aws", **StatefulSpec.UNSAFE}
    CHECKOV = {"vault_key": (("CKV_AWS_166", "AWS::Backup::BackupVault"),)}


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    if not spec.enabled:
        return []
    physical = naming_.physical(name)
    return [
        PhysicalName("backup-vault", physical, naming.BACKUP_VAULT),
        PhysicalName("backup-plan", physical, naming.BACKUP_VAULT),
        PhysicalName("iam-role", naming_.physical(name, "-backup"), naming.IAM_ROLE),
    ]


# What the backup role may ever need (the stage's permissions boundary): the DynamoDB, vault and
# tagging actions of the two AWS managed policies it carries (MANAGED_POLICIES), on the stage's
# tables and vaults only; a restore writes a table of the stage's prefix.
ROLE_NEEDS = (
    Permission("BackupTables", (
        "dynamodb:BatchWriteItem", "dynamodb:CreateBackup", "dynamodb:DeleteBackup", "dynamodb:DeleteItem",
        "dynamodb:DescribeBackup", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:ListTagsOfResource",
        "dynamodb:PutItem", "dynamodb:Query", "dynamodb:RestoreTableFromAwsBackup", "dynamodb:RestoreTableFromBackup",
        "dynamodb:Scan", "dynamodb:StartAwsBackupJob", "dynamodb:UpdateItem"),
        (f"{ARN}:dynamodb:*:{ACCOUNT}:table/{{p}}*",)),
    Permission("BackupVaults", ("backup:CopyIntoBackupVault", "backup:DescribeBackupVault"),
               (f"{ARN}:backup:*:{ACCOUNT}:backup-vault:{{p}}*",)),
    Permission("BackupRecoveryPoints", ("backup:TagResource",), (f"{ARN}:backup:*:{ACCOUNT}:recovery-point:*",)),
    Permission("BackupSelection", ("tag:GetResources",), ("*",)),
    Permission("BackupStageKey", tuple(f"kms:{a}" for a in ("CreateGrant", "Decrypt", "DescribeKey", "GenerateDataKey")),
               (STAGE_KEYS,), STAGE_TAGGED),
)

# With the stage's key: reading what it backs up (tables encrypted with it) and writing the
# vault's recovery points (when the vault is encrypted with it too).
BACKUP_KEY = ("CreateGrant", "Decrypt", "DescribeKey", "GenerateDataKey")


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    if not spec.enabled:
        return []
    name = ctx.name(resource)
    stage_key = ctx.stage_key()
    key = stage_key if spec.vault_key != "aws" else None
    vault = backup.BackupVault(
        resource.logical_id + "Vault",
        BackupVaultName=name,
        BackupVaultTags=ctx.tag_map(resource),
        **({"EncryptionKeyArn": key} if key is not None else {}),
        **ctx.deletion_policies(resource),
    )
    plan = backup.BackupPlan(
        resource.logical_id,
        BackupPlan=backup.BackupPlanResourceType(
            BackupPlanName=name,
            BackupPlanRule=[
                backup.BackupRuleResourceType(
                    RuleName=resource.name,
                    TargetBackupVault=Ref(vault),
                    ScheduleExpression=spec.schedule,
                    StartWindowMinutes=spec.start_window // 60,
                    CompletionWindowMinutes=spec.completion_window // 60,
                    Lifecycle=backup.LifecycleResourceType(DeleteAfterDays=spec.retention_days),
                    RecoveryPointTags=ctx.tag_map(resource),
                )
            ],
        ),
        BackupPlanTags=ctx.tag_map(resource),
    )
    role = iam.Role(
        resource.logical_id + "Role",
        RoleName=ctx.name(resource, "-backup"),
        AssumeRolePolicyDocument=trust_policy("backup.amazonaws.com"),
        ManagedPolicyArns=[Sub(arn) for arn in MANAGED_POLICIES],
        Tags=ctx.tags(resource),
        **bounded(ctx.boundary()),
        **({"Policies": [iam.Policy(PolicyName="stage-key", PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=[
            Statement(Sid="StageKey", Effect=Allow, Action=[Action("kms", a) for a in BACKUP_KEY], Resource=[stage_key])]))]}
           if stage_key is not None else {}),
    )
    tags = ctx.stage_tags()
    selection = backup.BackupSelection(
        resource.logical_id + "Selection",
        BackupPlanId=Ref(plan),
        BackupSelection=backup.BackupSelectionResourceType(
            SelectionName=f"{name}-{'-'.join(spec.kinds)}",
            IamRoleArn=GetAtt(role, "Arn"),
            Resources=[Sub(SELECTABLE[kind]) for kind in spec.kinds],
            Conditions=backup.Conditions(
                StringEquals=[
                    backup.ConditionParameter(ConditionKey=f"aws:ResourceTag/{tag}", ConditionValue=value)
                    for tag, value in sorted(tags.items())
                ]
            ),
        ),
    )
    return [plan, vault, role, selection]


KIND = Kind(
    section="backup_plans",
    ref="backup-plan",
    spec=Spec,
    id_suffix="BackupPlan",
    attributes={"id": Attr("BackupPlanId", description="backup plan id"), "vault_arn": Attr("BackupVaultArn", part="Vault")},
    names=names,
    synthesize=synthesize,
    encrypts=True,
    role_needs=ROLE_NEEDS,
)
