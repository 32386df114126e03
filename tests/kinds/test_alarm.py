"""alarms: declared alarms with resource references in their dimensions."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import compile_spec, errors_of, template

QUEUE = "queues:\n  backup: {fifo: true}\n"
ALARM = """\
alarms:
  backup-age:
    namespace: AWS/SQS
    metric: ApproximateAgeOfOldestMessage
    dimensions: {QueueName: queue:backup, Literal: text}
    statistic: p99
    threshold: 3600
    period: 5m
    evaluation_periods: 3
    stages:
      dev: {enabled: false}
"""


def test_declared_alarm(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"sqs.yaml": QUEUE, "ops.yaml": ALARM + "topics:\n  t: {}\n"})
    assert "BackupAgeAlarm" not in template(result, "dev", "ops")["Resources"]  # off in dev
    props = template(result, "prod", "ops")["Resources"]["BackupAgeAlarm"]["Properties"]
    assert props["AlarmName"] == "listbackup-prod-backup-age"
    assert props["Dimensions"] == [
        {"Name": "Literal", "Value": "text"},
        {"Name": "QueueName", "Value": {"Fn::ImportValue": "listbackup-prod-queue-backup:name"}},
    ]
    assert (props["ExtendedStatistic"], props["Period"], props["EvaluationPeriods"]) == ("p99", 300, 3)
    assert props["ComparisonOperator"] == "GreaterThanThreshold" and "Statistic" not in props


def test_a_stack_with_nothing_in_a_stage_is_an_error(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"sqs.yaml": QUEUE, "ops.yaml": ALARM})
    assert "spec/ops.yaml:1:1: error[E314]: stack listbackup-dev-ops has no resources in stage dev" in out


def test_alarm_errors(tmp_path: Path) -> None:
    spec = "alarms:\n  a: {namespace: X, metric: Y, threshold: 1, period: 90s, statistic: Median}\n"
    spec += "  b: {namespace: X, metric: Y, threshold: 1, dimensions: {QueueName: queue:nope}}\n"
    out = errors_of(tmp_path, {"ops.yaml": spec})
    assert "statistic: 'Median' is not a statistic" in out
    out = errors_of(tmp_path, {"ops.yaml": spec.replace(", statistic: Median", "")})
    assert "a period is 10 s, 30 s or a multiple of 60 s" in out
    out = errors_of(tmp_path, {"ops.yaml": spec.replace(", statistic: Median", "").replace("period: 90s", "period: 2m")})
    assert "error[E305]: unknown queue 'nope' in reference 'queue:nope'" in out
