"""topics and generated alarms: the stage's alarm topic, its subscriptions, and the alarms
every queue, function, table and API gets (thresholds and on/off per stage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import compile_spec, errors_of, platform, template

PLATFORM = platform(
    dev="{alarms: {enabled: false}}",
    prod='{protect: true, alarms: {topic: alarms, email: [ops@example.com], https: ["https://pager.example.com/x"], function_errors: 3}}',
    tags=None,
)
FILES = {
    "monitoring.yaml": "topics:\n  alarms: {subscriptions: {email: [boss@example.com]}}\n",
    "data.yaml": "tables:\n  t: {hash_key: id:S}\nqueues:\n  q: {}\nuser_pools:\n  p: {}\napis:\n  a: {auth: user-pool:p}\n",
    "fn.yaml": "functions:\n  f: {handler: h.f, timeout: 20s}\n",
}


@pytest.fixture
def result(tmp_path: Path):
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def f(e, c):\n    return 1\n")
    return compile_spec(tmp_path, FILES, platform=PLATFORM)


def _alarms(result, stage: str, stack: str) -> dict[str, dict]:
    resources = template(result, stage, stack)["Resources"]
    return {r["Properties"]["AlarmName"]: r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"}


def test_alarm_topic_subscriptions_and_policy(result) -> None:
    resources = template(result, "prod", "monitoring")["Resources"]
    topic = resources["AlarmsTopic"]["Properties"]
    assert topic["TopicName"] == "listbackup-prod-alarms"
    assert sorted((s["Protocol"], s["Endpoint"]) for s in topic["Subscription"]) == [
        ("email", "boss@example.com"), ("email", "ops@example.com"), ("https", "https://pager.example.com/x"),
    ]
    statement = resources["AlarmsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_every_kind_raises_its_alarms_to_the_topic(result) -> None:
    alarms = {**_alarms(result, "prod", "data"), **_alarms(result, "prod", "fn")}
    assert sorted(alarms) == [
        "listbackup-prod-a-5xx-rate", "listbackup-prod-a-latency", "listbackup-prod-f-duration",
        "listbackup-prod-f-errors", "listbackup-prod-f-throttles", "listbackup-prod-q-dlq-messages",
        "listbackup-prod-t-throttles",
    ]
    topic = {"Fn::ImportValue": "listbackup-prod-topic-alarms:arn"}
    assert all(a["AlarmActions"] == [topic] and a["OKActions"] == [topic] for a in alarms.values())
    assert alarms["listbackup-prod-f-errors"]["Threshold"] == 3  # the stage's threshold
    assert alarms["listbackup-prod-f-duration"]["Threshold"] == 16000  # 80% of 20 s
    assert alarms["listbackup-prod-a-latency"]["ExtendedStatistic"] == "p99"
    rate = alarms["listbackup-prod-a-5xx-rate"]["Metrics"]
    assert rate[-1]["Expression"] == "IF(requests > 0, errors / requests, 0)"
    manifest = json.loads(result.outputs["prod/manifest.json"])
    assert "monitoring" in manifest["stacks"]["data"]["depends_on"]  # an implicit reference


def test_alarms_off_in_a_stage(result) -> None:
    assert _alarms(result, "dev", "data") == {} and _alarms(result, "dev", "fn") == {}
    assert "monitoring" not in json.loads(result.outputs["dev/manifest.json"])["stacks"]["data"]["depends_on"]


def test_stage_alarm_topic_must_exist(tmp_path: Path) -> None:
    files = {**FILES, "monitoring.yaml": "topics:\n  alarm: {}\n"}
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def f(e, c):\n    return 1\n")
    out = errors_of(tmp_path, files, platform=PLATFORM)
    assert "spec/platform.yaml:5:41: error[E305]: stage prod sends alarms to topic:alarms, which no spec declares" in out
    assert "did you mean 'alarm'?" in out
