"""dashboards: a CloudWatch dashboard of the whole stage, generated from the spec.

One section per stack (a service) with the charts its resources' kinds draw (`Kind.charts`:
functions, queues and tables chart themselves by physical name, which the naming rule
fixes, so the dashboard needs no import from their stacks), plus the APIs listed in
`apis:` (requests, 4xx/5xx, p99 latency): an API is charted by its id, a reference.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Annotated, Any

from pydantic import Field
from troposphere import Join, cloudwatch

from .. import naming
from ..model import Ref, RefTo, ResourceSpec, StageSettings
from .base import Attr, Context, Kind, PhysicalName, Resource, SpecProblem, StackView


WIDTH, HEIGHT = 8, 6  # a 24-column grid: three charts a row


MAX_WIDGETS = 500  # CloudWatch's limit per dashboard


class Spec(ResourceSpec):
    apis: list[Annotated[Ref, RefTo("api", why="`apis:` lists apis")]] = Field(default=[], description="APIs to chart (their ids are references)")
    stacks: list[str] = Field(default_factory=lambda: ["*"], min_length=1, description="stack ids (globs) to chart")

def _chart(title: str, region: str, metrics: list[list[Any]], stat: str = "Sum") -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {"title": title, "region": region, "view": "timeSeries", "stat": stat, "period": 300, "metrics": metrics},
    }


def _section(ctx: Context, plan: StackView) -> list[dict[str, Any]]:
    merged: dict[tuple[int, str], tuple[str, list[list[str]]]] = {}
    for resource in plan.resources:
        for chart in resource.kind.charts(resource, ctx) if resource.kind.charts else ():
            merged.setdefault((chart.order, chart.title), (chart.stat, []))[1].extend(list(m) for m in chart.metrics)
    if not merged:
        return []
    charts = [_chart(title, plan.region, metrics, stat) for (_, title), (stat, metrics) in sorted(merged.items())]
    title = f"## {plan.id}" + (f" — {plan.description}" if plan.description else "")
    return [{"type": "text", "width": 24, "height": 1, "properties": {"markdown": title}}, *charts]


def _api_section(ctx: Context, spec: Spec, region: str) -> list[dict[str, Any]]:
    widgets: list[dict[str, Any]] = []
    for i, ref in enumerate(spec.apis):
        api = f"@@api{i}@@"  # replaced by the API id (a reference) when the body is joined
        dims = ["ApiId", api, "Stage", "$default"]
        widgets += [
            {"type": "text", "width": 24, "height": 1, "properties": {"markdown": f"## {ref}"}},
            _chart("Requests", region, [["AWS/ApiGateway", "Count", *dims]]),
            _chart("4xx and 5xx", region, [["AWS/ApiGateway", "4xx", *dims], ["AWS/ApiGateway", "5xx", *dims]]),
            _chart("Latency p99 (ms)", region, [["AWS/ApiGateway", "Latency", *dims]], "p99"),
        ]
    return widgets


def _layout(widgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    x = y = 0
    for widget in widgets:
        if x + widget["width"] > 24:
            x, y = 0, y + HEIGHT
        widget["x"], widget["y"] = x, y
        x += widget["width"]
        if widget["width"] == 24:
            x, y = 0, y + widget["height"]
    return widgets


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    region = ctx.region
    widgets = _api_section(ctx, spec, region)
    for plan in ctx.stacks():
        if plan.region == region and any(fnmatch.fnmatchcase(plan.id, pattern) for pattern in spec.stacks):
            widgets += _section(ctx, plan)
    if len(widgets) > MAX_WIDGETS:
        raise SpecProblem(
            ("stacks",), f"the dashboard would have {len(widgets)} widgets; CloudWatch allows {MAX_WIDGETS}: chart fewer stacks"
        )
    body = json.dumps({"widgets": _layout(widgets)}, sort_keys=True)
    # The body is one string; the API ids are references, spliced in with Fn::Join.
    pieces = re.split(r"@@api(\d+)@@", body)
    parts = [piece if i % 2 == 0 else ctx.ref(spec.apis[int(piece)], "id") for i, piece in enumerate(pieces)]
    return [cloudwatch.Dashboard(resource.logical_id, DashboardName=ctx.name(resource), DashboardBody=Join("", parts))]


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    return [PhysicalName("cloudwatch-dashboard", naming_.physical(name), naming.DASHBOARD)]


KIND = Kind(
    section="dashboards",
    ref="dashboard",
    spec=Spec,
    id_suffix="Dashboard",
    attributes={"name": Attr(description="dashboard name")},
    names=names,
    synthesize=synthesize,
)
