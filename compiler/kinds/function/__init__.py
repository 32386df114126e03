"""functions: Lambda functions (AWS::Lambda::Function) with their role, log group and triggers.

A function declares what it touches (`access:`), and the compiler derives its IAM role
(iam.py), its environment (`<NAME>_<SUFFIX>` per accessed resource, plus SERVICE and
STAGE), and its triggers (wiring.py): HTTP routes, a queue it consumes, bus subscriptions.
The log group is explicit, with the stage's retention: never the implicit one that keeps
logs forever. Code comes from the deployment bucket (`<service>-<stage>-deployment`),
key `handlers/<module>-<digest>.zip`, built by `platformc package`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from troposphere import GetAtt, Ref, awslambda, logs, sqs

from ... import naming
from ...model import StageSettings
from ..todict import encode
from ..cfn import FunctionLoggingConfig, alarm, deletion_policies, dimensions
from ..api import implied_origin_secret, origin_secret
from .. import queue
from ..base import Attr, Chart, Context, Kind, PhysicalName, Resource
from . import iam, wiring
from .spec import CHECKS, Spec, env_name


__all__ = ["KIND", "Spec", "synthesize"]


def artifact_key(ctx: Context, handler: str) -> str:
    """`handlers/<module>-<digest>.zip` (as `platformc package` names it): the key, and so
    the template, changes exactly when the code the function runs changes."""
    module = handler.rsplit(".", 1)[0]
    return naming.artifact_key(module, ctx.digests[module])


def environment(resource: Resource, ctx: Context) -> dict[str, Any]:
    spec: Spec = resource.spec
    module = spec.handler.rsplit(".", 1)[0]
    # which code runs: the digest of the handler's artifact (the one in its S3 key)
    values: dict[str, Any] = {"SERVICE": ctx.service, "STAGE": ctx.stage, "VERSION": ctx.digests[module][:12]}
    for ref in spec.access:
        for suffix, attribute in ctx.resource(ref).kind.env.items():
            values[env_name(ref, suffix)] = ctx.ref(ref, attribute)
    if spec.api is not None and (secret := origin_secret(ctx.resource(spec.api))) is not None:
        values["ORIGIN_SECRET_ARN"] = ctx.ref(secret, "arn")
    values.update(spec.environment)
    return values



def version_and_alias(resource: Resource, function: awslambda.Function) -> list[Any]:
    """Every function publishes a version when its code or configuration changes and has a
    `live` alias on it; triggers invoke the alias, so `platformc rollback` can move them all.

    The version's logical id carries a digest of the function's definition: a change makes a
    new version resource (CloudFormation publishes it) and the alias moves to it. The old
    version resource is retained (DeletionPolicy Retain), so the version stays for rollback
    until deploy prunes it (naming.KEEP_VERSIONS). Provisioned concurrency, where a stage asks for
    it, is configured on the alias."""
    definition = json.dumps(encode(function), sort_keys=True)
    digest = hashlib.sha256(definition.encode()).hexdigest()[:10]
    version = awslambda.Version(
        resource.logical_id + "Version" + digest, FunctionName=Ref(function),
        Description=f"platformc {digest}", **deletion_policies(True))
    props: dict[str, Any] = {"Name": naming.LIVE_ALIAS, "FunctionName": Ref(function), "FunctionVersion": GetAtt(version, "Version")}
    if resource.spec.provisioned_concurrency:
        props["ProvisionedConcurrencyConfig"] = awslambda.ProvisionedConcurrencyConfiguration(
            ProvisionedConcurrentExecutions=resource.spec.provisioned_concurrency)
    return [version, awslambda.Alias(resource.logical_id + "Live", **props)]


def _alarms(resource: Resource, ctx: Context, function: awslambda.Function) -> list[object]:
    """Errors, throttles, and a duration close to the timeout (the next step is a timeout)."""
    settings = ctx.settings.alarms
    if not settings.enabled:
        return []
    name = ctx.name(resource)
    dims = dimensions(FunctionName=Ref(function))
    actions = ctx.alarm_actions()
    limit_ms = int(resource.spec.timeout * 1000 * settings.function_duration)
    common: dict[str, Any] = {"Namespace": "AWS/Lambda", "Dimensions": dims}
    return [
        alarm(resource.logical_id + "ErrorsAlarm", f"{name}-errors", f"{name} raised errors", actions,
              threshold=settings.function_errors, comparison=">=", MetricName="Errors", Statistic="Sum", **common),
        alarm(resource.logical_id + "ThrottlesAlarm", f"{name}-throttles", f"{name} was throttled", actions,
              threshold=settings.function_throttles, comparison=">=", MetricName="Throttles", Statistic="Sum", **common),
        alarm(resource.logical_id + "DurationAlarm", f"{name}-duration",
              f"{name} ran longer than {settings.function_duration:.0%} of its {resource.spec.timeout} s timeout", actions,
              threshold=limit_ms, MetricName="Duration", Statistic="Maximum", **common),
    ]


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    name = ctx.name(resource)
    key = ctx.stage_key()
    log_group = logs.LogGroup(
        resource.logical_id + "Logs",
        LogGroupName=f"/aws/lambda/{name}",
        RetentionInDays=ctx.setting(spec.log_retention_days, "log_retention_days"),
        Tags=ctx.tags(resource),
        **({"KmsKeyId": key} if key is not None else {}),
        **ctx.deletion_policies(resource),
    )
    dlq = dead_letters(resource, ctx)
    role = iam.role(resource, ctx, log_group, dlq[0] if dlq else None)
    props: dict[str, object] = {
        "FunctionName": name,
        "Handler": spec.handler,
        "Runtime": spec.runtime,
        "Architectures": [spec.architecture],
        "MemorySize": spec.memory,
        "Timeout": spec.timeout,
        "Role": GetAtt(role, "Arn"),
        "Code": awslambda.Code(S3Bucket=ctx.naming.deployment_bucket, S3Key=artifact_key(ctx, spec.handler)),
        "Environment": awslambda.Environment(Variables=environment(resource, ctx)),
        "TracingConfig": awslambda.TracingConfig(Mode="Active" if spec.tracing else "PassThrough"),
        "LoggingConfig": FunctionLoggingConfig(LogGroup=Ref(log_group), LogFormat="JSON"),
        "Tags": ctx.tags(resource),
    }
    if key is not None:
        props["KmsKeyArn"] = key  # the environment, at rest
    if dlq:
        props["DeadLetterConfig"] = awslambda.DeadLetterConfig(TargetArn=GetAtt(dlq[0], "Arn"))
    if spec.description:
        props["Description"] = spec.description
    if (reserved := spec.reserved(ctx.settings)) is not None:
        props["ReservedConcurrentExecutions"] = reserved
    function = awslambda.Function(resource.logical_id, **props)
    out: list[object] = [function, log_group, role, *dlq]
    out += version_and_alias(resource, function)
    target = Ref(out[-1])  # the alias ARN: routes, the queue mapping and bus rules invoke `live`
    out += _alarms(resource, ctx, function)
    out += wiring.routes(resource, ctx, target)
    out += wiring.consumer(resource, ctx, target)
    out += wiring.subscriptions(resource, ctx, target)
    return out


def dead_letters(resource: Resource, ctx: Context) -> list[object]:
    """A function invoked asynchronously (bus subscriptions) gets its own dead-letter queue:
    Lambda retries a failed event twice, then sends it here instead of dropping it. A
    standard queue (Lambda cannot send to a FIFO one), 14 days, encrypted like every queue,
    with an alarm on its first message where the stage raises alarms."""
    if not resource.spec.subscribes:
        return []
    dlq = sqs.Queue(
        resource.logical_id + "Dlq",
        QueueName=ctx.name(resource, "-dlq"),
        MessageRetentionPeriod=queue.MAX_RETENTION,
        Tags=ctx.tags(resource, Role="dead-letter"),
        **queue.encryption(ctx),
        **ctx.deletion_policies(resource),
    )
    out: list[object] = [dlq]
    if ctx.settings.alarms.enabled:
        out.append(queue.dlq_alarm(resource.logical_id + "DlqAlarm", ctx.name(resource, "-dlq-messages"),
                                   f"Failed events of {ctx.name(resource)} in its dead-letter queue", dlq, ctx))
    return out


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    physical = naming_.physical(name)
    alarms = ("errors", "throttles", "duration") if settings.alarms.enabled else ()
    found = [
        *(PhysicalName("cloudwatch-alarm", f"{physical}-{what}", naming.ALARM) for what in alarms),
        PhysicalName("lambda-function", physical, naming.LAMBDA),
        PhysicalName("iam-role", physical, naming.IAM_ROLE),
        PhysicalName("log-group", f"/aws/lambda/{physical}", naming.LOG_GROUP),
    ]
    found += [
        PhysicalName(f"events-rule:{sub.bus.name}", naming_.physical(name, f"-{sub_name}"), naming.EVENT_RULE)
        for sub_name, sub in spec.subscribes.items()
    ]
    if spec.subscribes:  # invoked asynchronously: a dead-letter queue (and its alarm)
        found.append(PhysicalName("sqs-queue", naming_.physical(name, "-dlq"), naming.QUEUE))
        if settings.alarms.enabled:
            found.append(PhysicalName("cloudwatch-alarm", naming_.physical(name, "-dlq-messages"), naming.ALARM))
    return found


def charts(resource: Resource, ctx: Context) -> list[Chart]:
    dims = ("FunctionName", ctx.name(resource))
    return [
        Chart(10, "Invocations", (("AWS/Lambda", "Invocations", *dims),)),
        Chart(11, "Errors", (("AWS/Lambda", "Errors", *dims),)),
        Chart(12, "Duration p99 (ms)", (("AWS/Lambda", "Duration", *dims),), "p99"),
    ]


KIND = Kind(
    section="functions",
    ref="function",
    spec=Spec,
    id_suffix="Function",
    attributes={"name": Attr(description="function name"), "arn": Attr("Arn", description="function ARN")},
    names=names,
    synthesize=synthesize,
    checks=CHECKS,
    alarms=True,
    charts=charts,
    implied=implied_origin_secret("api"),
    encrypts=True,
    role_needs=iam.ROLE_NEEDS,
)
