"""buses: bus, archive, rules, queue targets with a scoped queue policy."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import compile_spec, errors_of, template

SPEC = """\
queues:
  alert: {fifo: true}
  plain: {}
buses:
  events:
    archive: {retention_days: 30}
    stages:
      prod: {archive: {retention_days: 365}}
    rules:
      errors:
        description: Service errors become alerts
        pattern: {source: [listbackup.system], detail-type: [Service Error]}
        targets: [queue:alert, queue:plain]
      quiet:
        pattern: {source: [listbackup.jobs]}
        enabled: false
"""


def test_bus_archive_rules(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"e.yaml": SPEC})
    dev = template(result, "dev", "e")["Resources"]
    assert dev["EventsBus"]["Properties"]["Name"] == "listbackup-dev-events"
    assert dev["EventsBusArchive"]["Properties"]["ArchiveName"] == "listbackup-dev-events-archive"
    assert dev["EventsBusArchive"]["Properties"]["RetentionDays"] == 30
    assert template(result, "prod", "e")["Resources"]["EventsBusArchive"]["Properties"]["RetentionDays"] == 365
    rule = dev["EventsBusErrorsRule"]["Properties"]
    assert rule["Name"] == "listbackup-dev-errors"
    assert rule["EventPattern"] == {"source": ["listbackup.system"], "detail-type": ["Service Error"]}
    assert rule["EventBusName"] == {"Fn::GetAtt": ["EventsBus", "Name"]}
    fifo_target, plain_target = rule["Targets"]
    assert fifo_target["SqsParameters"] == {"MessageGroupId": "errors"}
    assert "SqsParameters" not in plain_target  # standard queues take no message group
    assert dev["EventsBusQuietRule"]["Properties"]["State"] == "DISABLED"
    assert "Targets" not in dev["EventsBusQuietRule"]["Properties"]


def test_queue_policy_admits_only_the_rules_of_this_bus(tmp_path: Path) -> None:
    resources = template(compile_spec(tmp_path, {"e.yaml": SPEC}), "dev", "e")["Resources"]
    policy = resources["EventsBusAlertQueuePolicy"]["Properties"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == ["sqs:SendMessage"]
    assert statement["Resource"] == [{"Fn::GetAtt": ["AlertQueue", "Arn"]}]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": [{"Fn::GetAtt": ["EventsBusErrorsRule", "Arn"]}]}}
    assert policy["Queues"] == [{"Ref": "AlertQueue"}]


def test_no_archive(tmp_path: Path) -> None:
    spec = "buses:\n  b:\n    archive: null\n"
    assert "BBusArchive" not in template(compile_spec(tmp_path, {"e.yaml": spec}), "dev", "e")["Resources"]


def test_schema_discovery_where_a_stage_turns_it_on(tmp_path: Path) -> None:
    spec = "buses:\n  b:\n    schema_discovery: false\n    stages: {dev: {schema_discovery: true}}\n"
    result = compile_spec(tmp_path, {"e.yaml": spec})
    dev, prod = template(result, "dev", "e")["Resources"], template(result, "prod", "e")["Resources"]
    discoverer = dev["BBusSchemaDiscoverer"]
    assert discoverer["Type"] == "AWS::EventSchemas::Discoverer"
    assert discoverer["Properties"]["SourceArn"] == {"Fn::GetAtt": ["BBus", "Arn"]}
    assert discoverer["Properties"]["CrossAccount"] is False  # only this account's events
    assert not [r for r in prod.values() if r["Type"] == "AWS::EventSchemas::Discoverer"]


def test_rule_checks(tmp_path: Path) -> None:
    spec = """\
tables:
  t: {hash_key: id:S}
buses:
  b:
    rules:
      r:
        pattern: {sauce: [x]}
  c:
    rules:
      s:
        pattern: {source: [x]}
        targets: [table:t]
"""
    out = errors_of(tmp_path, {"e.yaml": spec})
    assert "pattern: unknown event field(s) sauce" in out
    assert "spec/e.yaml:12:19: error[E203]: targets[0]: a rule can target queues here, not a table" in out


def test_two_buses_cannot_target_one_queue(tmp_path: Path) -> None:
    rule = "    rules:\n      r: {pattern: {source: [x]}, targets: [queue:q]}\n"
    files = {"q.yaml": "queues:\n  q: {}\n", "a.yaml": "buses:\n  a:\n" + rule, "b.yaml": "buses:\n  b:\n" + rule}
    out = errors_of(tmp_path, files)
    assert "spec/b.yaml:4:45: error[E308]: queue:q already receives events from buses.a" in out
    assert "the other one at spec/a.yaml:4:45" in out
