"""tables: DynamoDB tables (AWS::DynamoDB::Table).

Keys are written `attribute:TYPE` (`userId:S`, `timestamp:N`); AttributeDefinitions are
derived from the keys of the table and its indexes, so the unused-attribute error that
CloudFormation raises (and the real platform hit) cannot be written.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from troposphere import Ref, dynamodb

from .. import naming
from .cfn import alarm, dimensions, math
from ..diagnostics import KeyPath
from ..model import SpecModel, StageSettings, StatefulSpec, matching
from .base import Attr, Chart, CheckEnv, Context, Grant, Kind, PhysicalName, Resource


KeyDef = Annotated[
    str, matching(r"[A-Za-z0-9_.-]{1,255}:(S|N|B)", "a key `attribute:TYPE` with TYPE S, N or B, e.g. `userId:S`")
]
IndexName = Annotated[str, matching(r"[A-Za-z0-9_.-]{3,255}", "an index name: 3-255 letters, digits, '_', '-', '.'")]
StreamView = Literal["new_image", "old_image", "new_and_old_images", "keys_only"]


class Capacity(SpecModel):
    read: int = Field(ge=1)
    write: int = Field(ge=1)


class Index(SpecModel):
    hash_key: KeyDef
    range_key: KeyDef | None = None
    projection: Literal["all", "keys_only"] | list[str] = Field(
        "all", description="all, keys_only, or the list of non-key attributes to include"
    )


class Spec(StatefulSpec):
    hash_key: KeyDef = Field(description="partition key, `attribute:TYPE` with TYPE S, N or B")
    range_key: KeyDef | None = Field(None, description="sort key, `attribute:TYPE`")
    indexes: dict[IndexName, Index] = Field(default={}, max_length=20, description="global secondary indexes by name (at most 20)")
    ttl: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(None, description="the attribute holding each item's expiry time (epoch seconds)")
    stream: StreamView | None = Field(None, description="DynamoDB stream view: new_image, old_image, new_and_old_images or keys_only")
    billing: Literal["on_demand", "provisioned"] = Field("on_demand", description="on_demand, or provisioned with `capacity:`")
    capacity: Capacity | None = Field(None, description="read and write capacity units (provisioned billing only)")
    encryption: Literal["aws_managed", "aws_owned"] | None = Field(
        None, description="default: the stage's key (`kms:`), else aws_managed (KMS, the AWS managed key); aws_owned")
    point_in_time_recovery: bool | None = Field(None, description="default: the stage's setting")
    deletion_protection: bool | None = Field(None, description="default: on in protected stages")

    UNSAFE = {
        "point_in_time_recovery": lambda v: v is False,
        "deletion_protection": lambda v: v is False,
        **StatefulSpec.UNSAFE,
    }


def _keys(spec: Spec) -> list[tuple[KeyPath, str, str]]:
    """(path, attribute, type) of every key of the table and its indexes, in spec order."""
    found: list[tuple[KeyPath, str, str]] = []
    keys: list[tuple[KeyPath, str | None]] = [(("hash_key",), spec.hash_key), (("range_key",), spec.range_key)]
    for name, index in spec.indexes.items():
        keys += [(("indexes", name, "hash_key"), index.hash_key), (("indexes", name, "range_key"), index.range_key)]
    for path, key in keys:
        if key:
            attribute, kind = key.split(":")
            found.append((path, attribute, kind))
    return found


def check_attribute_types(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    """One attribute, one type: DynamoDB has a single definition per attribute name."""
    seen: dict[str, str] = {}
    problems = []
    for path, attribute, kind in _keys(spec):
        if seen.setdefault(attribute, kind) != kind:
            problems.append((path, f"attribute '{attribute}' is typed {seen[attribute]} elsewhere in this table"))
    return problems


def check_capacity(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    if spec.billing == "provisioned" and spec.capacity is None:
        return [(("billing",), "provisioned billing needs `capacity: {read: N, write: N}`")]
    if spec.billing == "on_demand" and spec.capacity is not None:
        return [(("capacity",), "capacity applies only to `billing: provisioned`")]
    return []


def check_projection(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    keys = {attribute for _, attribute, _ in _keys(spec)}
    return [
        (("indexes", name, "projection"), f"'{attr}' is a key attribute: it is always projected")
        for name, index in spec.indexes.items()
        if isinstance(index.projection, list)
        for attr in index.projection
        if attr in keys
    ]


def _projection(index: Index) -> dynamodb.Projection:
    if isinstance(index.projection, list):
        return dynamodb.Projection(ProjectionType="INCLUDE", NonKeyAttributes=sorted(index.projection))
    return dynamodb.Projection(ProjectionType=index.projection.upper())


def _schema(hash_key: str, range_key: str | None) -> list[dynamodb.KeySchema]:
    schema = [dynamodb.KeySchema(AttributeName=hash_key.split(":")[0], KeyType="HASH")]
    if range_key:
        schema.append(dynamodb.KeySchema(AttributeName=range_key.split(":")[0], KeyType="RANGE"))
    return schema


KEY = ("kms:Decrypt",)


def _encryption(spec: Spec, ctx: Context) -> dynamodb.SSESpecification:
    """The stage's key unless the table says otherwise; else the AWS managed key (or, when
    asked, the AWS owned one)."""
    key = ctx.stage_key() if spec.encryption is None else None
    if key is not None:
        return dynamodb.SSESpecification(SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=key)
    return dynamodb.SSESpecification(SSEEnabled=spec.encryption != "aws_owned")


def synthesize(resource: Resource, ctx: Context) -> list[dynamodb.Table]:
    spec: Spec = resource.spec
    types = {attribute: kind for _, attribute, kind in _keys(spec)}
    throughput = {}
    if spec.capacity is not None:
        throughput = {
            "ProvisionedThroughput": dynamodb.ProvisionedThroughput(
                ReadCapacityUnits=spec.capacity.read, WriteCapacityUnits=spec.capacity.write
            )
        }
    props: dict[str, object] = {
        "TableName": ctx.name(resource),
        "AttributeDefinitions": [
            dynamodb.AttributeDefinition(AttributeName=name, AttributeType=types[name]) for name in sorted(types)
        ],
        "KeySchema": _schema(spec.hash_key, spec.range_key),
        "BillingMode": "PAY_PER_REQUEST" if spec.billing == "on_demand" else "PROVISIONED",
        "SSESpecification": _encryption(spec, ctx),
        "PointInTimeRecoverySpecification": dynamodb.PointInTimeRecoverySpecification(
            PointInTimeRecoveryEnabled=ctx.setting(spec.point_in_time_recovery, "point_in_time_recovery")
        ),
        "DeletionProtectionEnabled": ctx.setting(spec.deletion_protection, "protect"),
        "Tags": ctx.tags(resource),
        **throughput,
    }
    if spec.indexes:
        props["GlobalSecondaryIndexes"] = [
            dynamodb.GlobalSecondaryIndex(
                IndexName=name,
                KeySchema=_schema(index.hash_key, index.range_key),
                Projection=_projection(index),
                **throughput,
            )
            for name, index in sorted(spec.indexes.items())
        ]
    if spec.ttl:
        props["TimeToLiveSpecification"] = dynamodb.TimeToLiveSpecification(AttributeName=spec.ttl, Enabled=True)
    if spec.stream:
        props["StreamSpecification"] = dynamodb.StreamSpecification(StreamViewType=spec.stream.upper())
    table = dynamodb.Table(resource.logical_id, **props, **ctx.deletion_policies(resource))
    settings = ctx.settings.alarms
    if not settings.enabled:
        return [table]
    dims = dimensions(TableName=Ref(table))
    throttles = alarm(
        resource.logical_id + "ThrottlesAlarm",
        ctx.name(resource, "-throttles"),
        f"Requests to {ctx.name(resource)} were throttled",
        ctx.alarm_actions(),
        threshold=settings.table_throttles,
        comparison=">=",
        Metrics=math(
            "reads + writes",
            "throttled requests",
            reads=("AWS/DynamoDB", "ReadThrottleEvents", dims, "Sum"),
            writes=("AWS/DynamoDB", "WriteThrottleEvents", dims, "Sum"),
        ),
    )
    return [table, throttles]


READ = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
WRITE = (
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    found = [PhysicalName("dynamodb-table", naming_.physical(name), naming.TABLE)]
    if settings.alarms.enabled:
        found.append(PhysicalName("cloudwatch-alarm", naming_.physical(name, "-throttles"), naming.ALARM))
    return found


def charts(resource: Resource, ctx: Context) -> list[Chart]:
    table = ctx.name(resource)
    capacity = ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits")
    throttles = ("ReadThrottleEvents", "WriteThrottleEvents")
    return [
        Chart(30, "Consumed capacity", tuple(("AWS/DynamoDB", m, "TableName", table) for m in capacity)),
        Chart(31, "Throttled requests", tuple(("AWS/DynamoDB", m, "TableName", table) for m in throttles)),
    ]


KIND = Kind(
    section="tables",
    ref="table",
    spec=Spec,
    id_suffix="Table",
    attributes={
        "name": Attr(description="table name"),
        "arn": Attr("Arn", description="table ARN"),
        "stream_arn": Attr("StreamArn", description="stream ARN (tables with `stream:`)"),
    },
    names=names,
    synthesize=synthesize,
    alarms=True,
    charts=charts,
    checks=(check_attribute_types, check_capacity, check_projection),
    access={  # DynamoDB decrypts the table key with the caller's permission, for reads and writes alike
        "read": (Grant(READ, (("arn", ""), ("arn", "/index/*")), KEY),),
        "write": (Grant(WRITE, key=KEY),),
        "read-write": (Grant(tuple(sorted({*READ, *WRITE})), (("arn", ""), ("arn", "/index/*")), KEY),),
    },
    encrypts=True,
    env={"TABLE": "name"},
)
