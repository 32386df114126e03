"""dashboards: one section per stack, charts by physical name, API ids spliced in."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import compile_spec, errors_of, template

FILES = {
    "data.yaml": "description: Data tier\ntables:\n  users: {hash_key: id:S}\nqueues:\n  sync: {fifo: true}\n",
    "gateway.yaml": "user_pools:\n  p: {}\napis:\n  main: {auth: user-pool:p}\n",
    "ops.yaml": "dashboards:\n  operations: {apis: [api:main]}\n",
}


def test_dashboard(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, FILES)
    props = template(result, "prod", "ops")["Resources"]["OperationsDashboard"]["Properties"]
    assert props["DashboardName"] == "listbackup-prod-operations"
    parts = props["DashboardBody"]["Fn::Join"][1]
    api_id = {"Fn::ImportValue": "listbackup-prod-api-main:id"}
    assert api_id in parts
    body = json.loads("".join("API" if p == api_id else p for p in parts))
    texts = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert texts == ["## api:main", "## data — Data tier"]
    charts = {w["properties"]["title"]: w["properties"]["metrics"] for w in body["widgets"] if w["type"] == "metric"}
    assert charts["Dead letters"] == [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "listbackup-prod-sync-dlq.fifo"]]
    assert ["AWS/DynamoDB", "ReadThrottleEvents", "TableName", "listbackup-prod-users"] in charts["Throttled requests"]
    assert charts["Requests"] == [["AWS/ApiGateway", "Count", "ApiId", "API", "Stage", "$default"]]
    assert all(w["x"] + w["width"] <= 24 for w in body["widgets"])
    assert "gateway" in json.loads(result.outputs["prod/manifest.json"])["stacks"]["ops"]["depends_on"]


def test_dashboard_lists_apis_only(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {**FILES, "ops.yaml": "dashboards:\n  operations: {apis: [table:users]}\n"})
    assert "`apis:` lists apis, not a table" in out


def test_dashboard_can_chart_some_stacks(tmp_path: Path) -> None:
    files = {**FILES, "ops.yaml": "dashboards:\n  operations: {stacks: [gate*]}\n"}
    parts = template(compile_spec(tmp_path, files), "prod", "ops")["Resources"]["OperationsDashboard"]["Properties"]
    body = json.loads("".join(p for p in parts["DashboardBody"]["Fn::Join"][1]))
    assert [w for w in body["widgets"] if w["type"] == "text"] == []  # the gateway stack has no charts of its own


def test_dashboard_widget_limit(tmp_path: Path, monkeypatch) -> None:
    from compiler.kinds import dashboard

    monkeypatch.setattr(dashboard, "MAX_WIDGETS", 3)
    out = errors_of(tmp_path, FILES)
    assert "the dashboard would have" in out and "CloudWatch allows 3: chart fewer stacks" in out
