"""alarms: CloudWatch alarms declared in the spec, beside the ones every kind generates.

Dimension values may reference resources (`FunctionName: function:auth-register`): the
reference becomes the resource's name (or id), wired like any other reference. Alarms
notify the stage's alarm topic, and follow the stage's `alarms.enabled` unless they say.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo

from .. import naming
from .cfn import alarm, dimensions
from ..diagnostics import KeyPath
from ..model import Duration, Ref, ResourceSpec, StageSettings, _parse_ref, known_kinds, matching, reference_kind
from .base import Attr, CheckEnv, Context, Kind, PhysicalName, Resource


STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")


def _ref_or_text(value: Any, info: ValidationInfo) -> Any:
    """`kind:name` of a known kind is a reference; anything else is a literal value."""
    if reference_kind(value) in (known_kinds(info) or ()):
        return _parse_ref(value, info)
    return value


DimensionValue = Annotated[Ref | str, BeforeValidator(_ref_or_text, json_schema_input_type=str)]
Statistic = Annotated[str, matching(r"(Sum|Average|Minimum|Maximum|SampleCount|p\d{1,2}(\.\d+)?)", "a statistic (Sum, Average, Minimum, Maximum, SampleCount) or a percentile such as p99")]


class Spec(ResourceSpec):
    description: str | None = Field(None, max_length=1024, description="the alarm's description (default: built from the metric and threshold)")
    namespace: Annotated[str, matching(r"[^:]{1,255}", "a metric namespace such as AWS/Lambda")] = Field(description="metric namespace, e.g. AWS/SQS")
    metric: Annotated[str, matching(r".{1,255}", "a metric name")] = Field(description="metric name, e.g. ApproximateAgeOfOldestMessage")
    dimensions: dict[str, DimensionValue] = Field(default={}, max_length=30, description="metric dimensions; a reference becomes the resource's name (or id)")
    statistic: Statistic = Field("Sum", description="Sum, Average, Minimum, Maximum, SampleCount or a percentile such as p99")
    threshold: float = Field(description="the value compared with the statistic")
    comparison: Literal[">", ">=", "<", "<="] = Field(">", description="how the statistic is compared with the threshold: >, >=, < or <=")
    period: Duration = Field(300, ge=10, description="seconds per datapoint: 10, 30 or a multiple of 60")
    evaluation_periods: int = Field(1, ge=1, le=100, description="datapoints that must breach before the alarm fires")
    missing_data: Literal["breaching", "notBreaching", "ignore", "missing"] = Field("notBreaching", description="how missing datapoints count: breaching, notBreaching, ignore or missing")
    enabled: bool | None = Field(None, description="default: the stage's alarms.enabled")


def check_period(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    if spec.period not in (10, 30) and spec.period % 60:
        return [(("period",), "a period is 10 s, 30 s or a multiple of 60 s")]
    return []


def _value(ctx: Context, value: Ref | str) -> Any:
    if isinstance(value, str):
        return value
    target = ctx.resource(value)
    return ctx.ref(value, "name" if "name" in target.kind.attributes else "id")


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    if not ctx.setting(spec.enabled, "alarms.enabled"):
        return []
    statistic = {"Statistic": spec.statistic} if spec.statistic in STATISTICS else {"ExtendedStatistic": spec.statistic}
    return [
        alarm(
            resource.logical_id,
            ctx.name(resource),
            spec.description or f"{spec.namespace} {spec.metric} {spec.comparison} {spec.threshold:g}",
            ctx.alarm_actions(),
            threshold=spec.threshold,
            comparison=spec.comparison,
            period=spec.period,
            evaluation_periods=spec.evaluation_periods,
            missing=spec.missing_data,
            Namespace=spec.namespace,
            MetricName=spec.metric,
            Dimensions=dimensions(**{k: _value(ctx, v) for k, v in spec.dimensions.items()}),
            **statistic,
        )
    ]


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    enabled = spec.enabled if spec.enabled is not None else settings.alarms.enabled
    return [PhysicalName("cloudwatch-alarm", naming_.physical(name), naming.ALARM)] if enabled else []


KIND = Kind(
    section="alarms",
    ref="alarm",
    spec=Spec,
    id_suffix="Alarm",
    attributes={"arn": Attr("Arn", description="alarm ARN"), "name": Attr(description="alarm name")},
    names=names,
    synthesize=synthesize,
    checks=(check_period,),
    alarms=True,
)
