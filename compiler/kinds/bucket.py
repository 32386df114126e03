"""buckets: S3 buckets (AWS::S3::Bucket) with their TLS-only bucket policy.

Safe by default: public access blocked, object ownership enforced (no ACLs), encryption,
versioning, a policy that denies any request not made over TLS, and incomplete multipart
uploads aborted after 7 days. Public read is possible only with `public: read` and a
reason, and even then ACLs stay blocked.
"""

from __future__ import annotations

from typing import Annotated, Literal

from awacs import s3 as s3_actions
from awacs.aws import Allow, ArnLike, Bool, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from pydantic import Field
from troposphere import AccountId, GetAtt, Join, Ref, Sub, iam, s3

from .. import naming
from .cfn import bounded, trust_policy
from ..diagnostics import KeyPath
from ..model import Ref as SpecRef
from ..model import RefTo, SpecModel, StageSettings, StatefulSpec, matching
from .base import ARN, Attr, CheckEnv, Context, Grant, Kind, Permission, PhysicalName, Resource, SpecProblem


StorageClass = Literal["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]
RuleId = Annotated[str, matching(r"[A-Za-z0-9._-]{1,255}", "a rule id: letters, digits, '.', '_', '-'")]
# S3 refuses transitions to the infrequent-access classes before 30 days.
MIN_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30}


class Transition(SpecModel):
    after_days: int = Field(ge=0)
    storage_class: StorageClass


class LifecycleRule(SpecModel):
    prefix: str | None = Field(None, description="only objects under this key prefix; default: all")
    transitions: list[Transition] = Field(default=[])
    expire_after_days: int | None = Field(None, ge=1)
    noncurrent_transitions: list[Transition] = Field(default=[])
    noncurrent_expire_after_days: int | None = Field(None, ge=1)
    abort_incomplete_uploads_after_days: int = Field(7, ge=1)


class IntelligentTiering(SpecModel):
    archive_after_days: int | None = Field(None, ge=90, le=730)
    deep_archive_after_days: int | None = Field(None, ge=180, le=730)


class Spec(StatefulSpec):
    versioning: bool = Field(True, description="keep every version of every object")
    encryption: Literal["s3", "kms"] = Field("s3", description="s3: SSE-S3; kms: the AWS-managed aws/s3 key")
    public: Literal["none", "read"] = Field("none", description="none, or read (public GET of objects: an unsafe choice)")
    lifecycle: dict[RuleId, LifecycleRule] = Field(default={}, description="lifecycle rules by rule id")
    intelligent_tiering: IntelligentTiering | None = Field(None, description="archive tiers for INTELLIGENT_TIERING objects")
    cdn: bool = Field(False, description="CloudFront distributions of this account may read objects (origin access control)")
    replicate_to: Annotated[SpecRef, RefTo("bucket", why="a bucket replicates to a bucket")] | None = Field(None, description="a bucket (usually in the DR region) to copy every object to")
    replica_storage_class: StorageClass | Literal["STANDARD"] = Field("STANDARD_IA", description="storage class of the copies in `replicate_to`")
    access_logs: bool = Field(True, description="server access logs into the stage's access-log bucket (`access_logs:` "
                                                "in platform.yaml); false is an unsafe choice (the log bucket itself, a "
                                                "bucket in another region)")

    CHECKOV = {"versioning": (("CKV_AWS_21", "AWS::S3::Bucket"),), "access_logs": (("CKV_AWS_18", "AWS::S3::Bucket"),)}
    UNSAFE = {
        "versioning": lambda v: v is False,
        "access_logs": lambda v: v is False,
        "public": lambda v: v != "none",
        **StatefulSpec.UNSAFE,
    }


def _check_transitions(path: KeyPath, transitions: list[Transition], expire: int | None) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    last = -1
    for i, transition in enumerate(transitions):
        minimum = MIN_DAYS.get(transition.storage_class, 0)
        if transition.after_days < minimum:
            problems.append((path + (i, "after_days"), f"S3 moves objects to {transition.storage_class} after {minimum} days at the earliest"))
        if transition.after_days <= last:
            problems.append((path + (i, "after_days"), "transitions must be in increasing order of days"))
        last = transition.after_days
    if expire is not None and transitions and expire <= last:
        problems.append((path, f"expiry ({expire} d) must come after the last transition ({last} d)"))
    return problems

def check_lifecycle(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    for rule_id, rule in spec.lifecycle.items():
        base: KeyPath = ("lifecycle", rule_id)
        problems += _check_transitions(base + ("transitions",), rule.transitions, rule.expire_after_days)
        problems += _check_transitions(
            base + ("noncurrent_transitions",), rule.noncurrent_transitions, rule.noncurrent_expire_after_days
        )
        if not spec.versioning and (rule.noncurrent_transitions or rule.noncurrent_expire_after_days):
            problems.append((base, "noncurrent-version rules need `versioning: true`"))
    return problems


def _transitions(items: list[Transition], noncurrent: bool) -> list[object]:
    if noncurrent:
        return [
            s3.NoncurrentVersionTransition(StorageClass=t.storage_class, TransitionInDays=t.after_days) for t in items
        ]
    return [s3.LifecycleRuleTransition(StorageClass=t.storage_class, TransitionInDays=t.after_days) for t in items]


def _lifecycle(spec: Spec) -> s3.LifecycleConfiguration:
    rules = dict(spec.lifecycle) or {"abort-incomplete-uploads": LifecycleRule()}
    out = []
    for rule_id in sorted(rules):
        rule = rules[rule_id]
        props: dict[str, object] = {
            "Id": rule_id,
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": s3.AbortIncompleteMultipartUpload(
                DaysAfterInitiation=rule.abort_incomplete_uploads_after_days
            ),
        }
        if rule.prefix:
            props["Prefix"] = rule.prefix
        if rule.transitions:
            props["Transitions"] = _transitions(rule.transitions, noncurrent=False)
        if rule.expire_after_days:
            props["ExpirationInDays"] = rule.expire_after_days
        if rule.noncurrent_transitions:
            props["NoncurrentVersionTransitions"] = _transitions(rule.noncurrent_transitions, noncurrent=True)
        if rule.noncurrent_expire_after_days:
            props["NoncurrentVersionExpiration"] = s3.NoncurrentVersionExpiration(
                NoncurrentDays=rule.noncurrent_expire_after_days
            )
        out.append(s3.LifecycleRule(**props))
    return s3.LifecycleConfiguration(Rules=out)


LOG_PREFIX = "s3/"  # where S3 server access logs land in the log bucket; CloudFront's: cloudfront/


def _policy(resource: Resource, ctx: Context) -> PolicyDocument:
    bucket_arn = GetAtt(resource.logical_id, "Arn")
    objects = Sub(f"${{{resource.logical_id}.Arn}}/*")
    statements = [
        Statement(
            Sid="DenyInsecureTransport",
            Effect=Deny,
            Principal=Principal("*"),
            Action=[s3_actions.Action("*")],
            Resource=[bucket_arn, objects],
            Condition=Condition(Bool("aws:SecureTransport", False)),
        )
    ]
    if resource.spec.cdn:
        # Distribution ids are random and the distribution depends on this bucket, so the
        # statement admits CloudFront of this account rather than one distribution.
        statements.append(
            Statement(
                Sid="CloudFrontRead",
                Effect=Allow,
                Principal=Principal("Service", "cloudfront.amazonaws.com"),
                Action=[s3_actions.GetObject],
                Resource=[objects],
                Condition=Condition(StringEquals("AWS:SourceAccount", AccountId)),
            )
        )
    if resource.name == ctx.settings.access_logs:
        # S3 server access logs of the stage's buckets (same account); CloudFront's standard
        # logs arrive through the bucket ACL it grants itself (ownership: BucketOwnerPreferred).
        statements.append(
            Statement(
                Sid="S3ServerAccessLogs",
                Effect=Allow,
                Principal=Principal("Service", "logging.s3.amazonaws.com"),
                Action=[s3_actions.PutObject],
                Resource=[Sub(f"${{{resource.logical_id}.Arn}}/{LOG_PREFIX}*")],
                Condition=Condition([
                    ArnLike("aws:SourceArn", Sub(f"arn:${{AWS::Partition}}:s3:::{ctx.naming.physical('')}*")),
                    StringEquals("aws:SourceAccount", AccountId),
                ]),
            )
        )
    if resource.spec.public == "read":
        statements.append(
            Statement(Sid="PublicRead", Effect=Allow, Principal=Principal("*"), Action=[s3_actions.GetObject], Resource=[objects])
        )
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    public = spec.public == "read"
    encryption = s3.ServerSideEncryptionByDefault(SSEAlgorithm="AES256" if spec.encryption == "s3" else "aws:kms")
    props: dict[str, object] = {
        "BucketName": ctx.name(resource),
        "BucketEncryption": s3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=encryption, BucketKeyEnabled=spec.encryption == "kms"
                )
            ]
        ),
        "PublicAccessBlockConfiguration": s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, IgnorePublicAcls=True, BlockPublicPolicy=not public, RestrictPublicBuckets=not public
        ),
        "OwnershipControls": s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership=_ownership(resource, ctx))]),
        "LifecycleConfiguration": _lifecycle(spec),
        "Tags": ctx.tags(resource),
    }
    if spec.versioning:
        props["VersioningConfiguration"] = s3.VersioningConfiguration(Status="Enabled")
    if spec.access_logs and (logs := ctx.settings.access_logs) is not None and resource.name != logs:
        # a reference, not the name: S3 refuses a log target that does not exist yet
        props["LoggingConfiguration"] = s3.LoggingConfiguration(
            DestinationBucketName=ctx.ref(SpecRef("bucket", logs), "name"), LogFilePrefix=f"{LOG_PREFIX}{ctx.name(resource)}/")
    if spec.intelligent_tiering is not None:
        props["IntelligentTieringConfigurations"] = [_tiering(spec.intelligent_tiering)]
    extra: list[object] = []
    if spec.replicate_to is not None:
        role = _replication_role(resource, ctx)
        props["ReplicationConfiguration"] = _replication(resource, ctx, role)
        extra.append(role)
    bucket = s3.Bucket(resource.logical_id, **props, **ctx.deletion_policies(resource))
    policy = s3.BucketPolicy(resource.logical_id + "Policy", Bucket=Ref(bucket), PolicyDocument=_policy(resource, ctx))
    return [bucket, policy, *extra]


def _ownership(resource: Resource, ctx: Context) -> str:
    """ACLs stay disabled, except on the stage's access-log bucket: CloudFront's standard
    logging delivers through an ACL grant (its awslogsdelivery account), which needs them."""
    return "BucketOwnerPreferred" if resource.name == ctx.settings.access_logs else "BucketOwnerEnforced"


def _tiering(tiering: IntelligentTiering) -> s3.IntelligentTieringConfiguration:
    tiers = [("ARCHIVE_ACCESS", tiering.archive_after_days), ("DEEP_ARCHIVE_ACCESS", tiering.deep_archive_after_days)]
    return s3.IntelligentTieringConfiguration(
        Id="archive-tiers",
        Status="Enabled",
        Tierings=[s3.Tiering(AccessTier=tier, Days=days) for tier, days in tiers if days is not None],
    )


# What a replication role may ever need (the stage's permissions boundary): read the source's
# versions and write the replica's, both buckets of the stage.
REPLICATION_NEEDS = (Permission("BucketReplication", (
    "s3:GetObjectVersionAcl", "s3:GetObjectVersionForReplication", "s3:GetObjectVersionTagging", "s3:GetReplicationConfiguration",
    "s3:ListBucket", "s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags"), (f"{ARN}:s3:::{{p}}*",)),)


def _replication_role(resource: Resource, ctx: Context) -> iam.Role:
    """What S3 needs to copy this bucket's versions into the replica. The source is named, not
    referenced, because the bucket itself depends on this role."""
    spec: Spec = resource.spec
    assert spec.replicate_to is not None
    source = Sub(f"arn:${{AWS::Partition}}:s3:::{ctx.name(resource)}")
    source_objects = Sub(f"arn:${{AWS::Partition}}:s3:::{ctx.name(resource)}/*")
    replica_objects = Join("", [ctx.ref(spec.replicate_to, "arn"), "/*"])
    statements = [
        Statement(Sid="ReadSource", Effect=Allow, Action=[s3_actions.GetReplicationConfiguration, s3_actions.ListBucket], Resource=[source]),
        Statement(
            Sid="ReadSourceVersions",
            Effect=Allow,
            Action=[s3_actions.GetObjectVersionAcl, s3_actions.GetObjectVersionForReplication, s3_actions.GetObjectVersionTagging],
            Resource=[source_objects],
        ),
        Statement(
            Sid="WriteReplica",
            Effect=Allow,
            Action=[s3_actions.ReplicateDelete, s3_actions.ReplicateObject, s3_actions.ReplicateTags],
            Resource=[replica_objects],
        ),
    ]
    return iam.Role(
        resource.logical_id + "ReplicationRole",
        RoleName=ctx.name(resource, "-replication"),
        AssumeRolePolicyDocument=trust_policy("s3.amazonaws.com"),
        Policies=[iam.Policy(PolicyName="replication", PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements))],
        Tags=ctx.tags(resource),
        **bounded(ctx.boundary()),
    )


def _replication(resource: Resource, ctx: Context, role: iam.Role) -> s3.ReplicationConfiguration:
    spec: Spec = resource.spec
    assert spec.replicate_to is not None
    replica = ctx.resource(spec.replicate_to)
    if replica is resource or replica.ref == resource.ref:
        # S3 refuses a rule whose destination is its own bucket, and the template could not even
        # express it: the bucket's replication rule would need the bucket's own ARN (a cycle).
        raise SpecProblem(("replicate_to",), "a bucket cannot replicate to itself: name another bucket (usually in the DR region)")
    if not (spec.versioning and replica.spec.versioning):
        raise SpecProblem(("replicate_to",), "replication needs versioning on both buckets", replica)
    if spec.encryption == "kms":
        raise SpecProblem(
            ("replicate_to",),
            "replicating objects encrypted with the AWS-managed KMS key is not possible: use `encryption: s3`",
        )
    return s3.ReplicationConfiguration(
        Role=GetAtt(role, "Arn"),
        Rules=[
            s3.ReplicationConfigurationRules(
                Id="disaster-recovery",
                Status="Enabled",
                Priority=1,
                Filter=s3.ReplicationRuleFilter(Prefix=""),
                DeleteMarkerReplication=s3.DeleteMarkerReplication(Status="Disabled"),
                Destination=s3.ReplicationConfigurationRulesDestination(
                    Bucket=ctx.ref(spec.replicate_to, "arn"), StorageClass=spec.replica_storage_class
                ),
            )
        ],
    )


OBJECTS = (("arn", "/*"),)
READ = (Grant(("s3:ListBucket",)), Grant(("s3:GetObject", "s3:GetObjectVersion"), OBJECTS))
WRITE = (Grant(("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"), OBJECTS),)
PUT = (Grant(("s3:AbortMultipartUpload", "s3:PutObject"), OBJECTS),)  # add objects, never delete one


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    found = [PhysicalName("s3-bucket", naming_.physical(name), naming.BUCKET)]
    if spec.replicate_to is not None:
        found.append(PhysicalName("iam-role", naming_.physical(name, "-replication"), naming.IAM_ROLE))
    return found


KIND = Kind(
    section="buckets",
    ref="bucket",
    spec=Spec,
    id_suffix="Bucket",
    attributes={
        "name": Attr(description="bucket name"),
        "arn": Attr("Arn", description="bucket ARN"),
        "domain": Attr("RegionalDomainName", description="regional domain name (CDN origins)"),
    },
    names=names,
    synthesize=synthesize,
    checks=(check_lifecycle,),
    access={
        "read": READ,
        "put": PUT,
        "write": WRITE,
        "read-write": READ + WRITE,
    },
    env={"BUCKET": "name"},
    role_needs=REPLICATION_NEEDS,
)
