"""queues: SQS queues (AWS::SQS::Queue), each with a generated dead-letter queue.

The DLQ is never written by hand: it has the source's type (FIFO source -> FIFO DLQ), the
14-day maximum retention, SSE, and a redrive-allow policy that admits only its source.
For standard queues SQS keeps the original enqueue time when it moves a message to the
DLQ, so the source's retention must be shorter than the DLQ's or failed messages expire
early; FIFO queues reset it, so no such constraint applies there.
"""

from __future__ import annotations


from pydantic import Field
from troposphere import GetAtt, sqs

from .. import naming
from .cfn import DAY, alarm, arn, dimensions
from ..diagnostics import KeyPath
from ..model import Duration, StageSettings, StatefulSpec
from .base import Attr, Chart, CheckEnv, Context, Grant, Kind, PhysicalName, Resource


MAX_RETENTION = 14 * DAY
STANDARD_DEFAULT_RETENTION = 7 * DAY


class Spec(StatefulSpec):
    fifo: bool = Field(False, description="a FIFO queue (its name and its DLQ's end in .fifo)")
    content_based_deduplication: bool = Field(False, description="FIFO only: deduplicate by a hash of the body")
    high_throughput: bool = Field(False, description="FIFO: per-message-group throughput limits")
    visibility_timeout: Duration = Field(30, ge=0, le=43_200, description="how long a received message stays hidden; at most 12 h")
    retention: Duration | None = Field(
        None, ge=60, le=MAX_RETENTION, description="default: 14 d for FIFO, 7 d for standard queues"
    )
    receive_wait: Duration = Field(20, ge=0, le=20, description="long polling; 20 s by default")
    delay: Duration = Field(0, ge=0, le=900, description="delivery delay of every message, 0 .. 15 m")
    max_receives: int = Field(3, ge=1, le=1000, description="receives before a message goes to the DLQ")
    dlq_retention: Duration = Field(MAX_RETENTION, ge=60, le=MAX_RETENTION, description="how long the dead-letter queue keeps messages; at most 14 d")
    encrypted: bool = Field(True, description="SSE: with the stage's key (`kms:`), else SQS-managed keys; false is an unsafe choice")
    dlq_alarm: bool | None = Field(None, description="alarm on the first message in the DLQ; default: the stage's alarms")

    UNSAFE = {"encrypted": lambda v: v is False, "dlq_alarm": lambda v: v is False, **StatefulSpec.UNSAFE}

    @property
    def effective_retention(self) -> int:
        if self.retention is not None:
            return self.retention
        return MAX_RETENTION if self.fifo else STANDARD_DEFAULT_RETENTION


def check_fifo_only(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    return [
        ((field,), f"{field} applies only to FIFO queues (`fifo: true`)")
        for field in ("content_based_deduplication", "high_throughput")
        if getattr(spec, field) and not spec.fifo
    ]


def check_dlq_outlives_source(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    if spec.fifo or spec.effective_retention < spec.dlq_retention:
        return []
    return [
        (
            ("retention",) if spec.retention is not None else ("dlq_retention",),
            f"a standard queue's retention ({spec.effective_retention} s) must be shorter than its DLQ's "
            f"({spec.dlq_retention} s): SQS keeps the original enqueue time when it moves a message, "
            "so failed messages would expire early in the DLQ",
        )
    ]


CONSUME = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")


def _suffix(spec: Spec) -> str:
    return ".fifo" if spec.fifo else ""


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    found = [
        PhysicalName("sqs-queue", naming_.physical(name, _suffix(spec)), naming.QUEUE),
        PhysicalName("sqs-queue", naming_.physical(name, "-dlq" + _suffix(spec)), naming.QUEUE),
    ]
    if spec.dlq_alarm if spec.dlq_alarm is not None else settings.alarms.enabled:
        found.append(PhysicalName("cloudwatch-alarm", naming_.physical(name, "-dlq-messages"), naming.ALARM))
    return found


def encryption(ctx: Context, encrypted: bool = True) -> dict[str, object]:
    """A queue's SSE: the stage's key when the stage names one, else SQS-managed keys."""
    key = ctx.stage_key() if encrypted else None
    return {"KmsMasterKeyId": key} if key is not None else {"SqsManagedSseEnabled": encrypted}


def dlq_alarm(logical_id: str, name: str, description: str, dlq: sqs.Queue, ctx: Context) -> object:
    """Any message in a DLQ is a failure nobody has looked at yet: an alarm on the first one."""
    return alarm(logical_id, name, description, ctx.alarm_actions(), threshold=0, Namespace="AWS/SQS",
                 MetricName="ApproximateNumberOfMessagesVisible", Dimensions=dimensions(QueueName=GetAtt(dlq, "QueueName")),
                 Statistic="Maximum")


def _common(spec: Spec, ctx: Context) -> dict[str, object]:
    props = encryption(ctx, spec.encrypted)
    if spec.fifo:
        props["FifoQueue"] = True
        props["ContentBasedDeduplication"] = spec.content_based_deduplication
    return props


def synthesize(resource: Resource, ctx: Context) -> list[sqs.Queue]:
    spec: Spec = resource.spec
    source_name = ctx.name(resource, _suffix(spec))
    dlq = sqs.Queue(
        resource.logical_id + "Dlq",
        QueueName=ctx.name(resource, "-dlq" + _suffix(spec)),
        MessageRetentionPeriod=spec.dlq_retention,
        VisibilityTimeout=spec.visibility_timeout,
        ReceiveMessageWaitTimeSeconds=20,
        RedriveAllowPolicy={"redrivePermission": "byQueue", "sourceQueueArns": [arn("sqs", source_name)]},
        Tags=ctx.tags(resource, Role="dead-letter"),
        **_common(spec, ctx),
        **ctx.deletion_policies(resource),
    )
    throughput = {}
    if spec.high_throughput:
        throughput = {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    queue = sqs.Queue(
        resource.logical_id,
        QueueName=source_name,
        VisibilityTimeout=spec.visibility_timeout,
        MessageRetentionPeriod=spec.effective_retention,
        ReceiveMessageWaitTimeSeconds=spec.receive_wait,
        DelaySeconds=spec.delay,
        RedrivePolicy=sqs.RedrivePolicy(deadLetterTargetArn=GetAtt(dlq.title, "Arn"), maxReceiveCount=spec.max_receives),
        Tags=ctx.tags(resource),
        **_common(spec, ctx),
        **throughput,
        **ctx.deletion_policies(resource),
    )
    out: list[object] = [queue, dlq]
    if ctx.setting(spec.dlq_alarm, "alarms.enabled"):
        out.append(dlq_alarm(resource.logical_id + "DlqAlarm", ctx.name(resource, "-dlq-messages"),
                             f"Messages in the dead-letter queue of {source_name}", dlq, ctx))
    return out


def charts(resource: Resource, ctx: Context) -> list[Chart]:
    queue, dlq = ctx.name(resource, _suffix(resource.spec)), ctx.name(resource, "-dlq" + _suffix(resource.spec))
    visible = "ApproximateNumberOfMessagesVisible"
    return [
        Chart(20, "Messages waiting", (("AWS/SQS", visible, "QueueName", queue),), "Maximum"),
        Chart(21, "Dead letters", (("AWS/SQS", visible, "QueueName", dlq),), "Maximum"),
        Chart(22, "Oldest message (s)", (("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue),), "Maximum"),
    ]


KIND = Kind(
    section="queues",
    ref="queue",
    spec=Spec,
    id_suffix="Queue",
    attributes={
        "url": Attr(description="queue URL"),
        "arn": Attr("Arn", description="queue ARN"),
        "name": Attr("QueueName", description="queue name"),
        "dlq_url": Attr(part="Dlq", description="dead-letter queue URL"),
        "dlq_arn": Attr("Arn", part="Dlq", description="dead-letter queue ARN"),
        "dlq_name": Attr("QueueName", part="Dlq", description="dead-letter queue name"),
    },
    parts={"dlq": "its dead-letter queue"},
    names=names,
    synthesize=synthesize,
    alarms=True,
    charts=charts,
    checks=(check_fifo_only, check_dlq_outlives_source),
    access={  # with the stage's key: a sender makes data keys, a receiver decrypts
        "send": (Grant(("sqs:GetQueueAttributes", "sqs:SendMessage"), key=("kms:Decrypt", "kms:GenerateDataKey")),),
        "consume": (Grant(CONSUME, key=("kms:Decrypt",)),),
    },
    encrypts=True,
    env={"QUEUE_URL": "url"},
)
