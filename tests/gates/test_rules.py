"""Policy rules: each with a passing and a failing template; waivers from the spec."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from compiler.gates import lint
from compiler.build.emit import write
from compiler.rules import BY_ID, RULES, run
from tests.conftest import REPO, compile_spec, errors_of

HANDLERS = "def f(event, context):\n    return {}\n"
SPEC = {
    "data.yaml": """\
tables:
  t: {hash_key: id:S}
queues:
  q: {}
buckets:
  b: {}
user_pools:
  pool: {}
apis:
  api: {auth: user-pool:pool}
functions:
  fn:
    handler: h.f
    access: {table:t: read, queue:q: send, bucket:b: read-write}
    api: api:api
    routes: [GET /x, {route: GET /public, auth: none}]
  listener:
    handler: h.f
    subscribes: {jobs: {bus: bus:events, pattern: {source: [x]}}}
buses:
  events: {}
""",
}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """A compiled prod stage that passes every rule; each test breaks one thing."""
    root = tmp_path_factory.mktemp("rules")
    (root / "handlers").mkdir()
    (root / "handlers" / "h.py").write_text(HANDLERS)
    result = compile_spec(root, SPEC)
    return {"data": json.loads(result.outputs["prod/data.json"])}


def _find(template: dict[str, Any], type_: str, predicate: Any = None) -> dict[str, Any]:
    return next(r for r in template["Resources"].values() if r["Type"] == type_ and (predicate is None or predicate(r)))


BREAK = {
    "P001": lambda t: _find(t, "AWS::SQS::Queue")["Properties"].update(SqsManagedSseEnabled=False),
    "P002": lambda t: _find(t, "AWS::DynamoDB::Table")["Properties"]["PointInTimeRecoverySpecification"].update(
        PointInTimeRecoveryEnabled=False
    ),
    "P003": lambda t: _find(t, "AWS::S3::Bucket")["Properties"]["PublicAccessBlockConfiguration"].update(
        BlockPublicPolicy=False
    ),
    "P004": lambda t: _find(t, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"].update(Statement=[]),
    "P005": lambda t: _find(t, "AWS::IAM::Role")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Sid": "Oops", "Effect": "Allow", "Action": ["dynamodb:*"], "Resource": ["*"]}
    ),
    "P006": lambda t: _find(t, "AWS::SQS::Queue", lambda q: "RedrivePolicy" in q["Properties"])["Properties"].pop("RedrivePolicy"),
    "P007": lambda t: t["Resources"].pop(
        next(k for k, r in t["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AWS/SQS")
    ),
    "P008": lambda t: _find(t, "AWS::Logs::LogGroup")["Properties"].pop("RetentionInDays"),
    "P009": lambda t: _find(t, "AWS::DynamoDB::Table").update(DeletionPolicy="Delete"),
    "P010": lambda t: _find(t, "AWS::ApiGatewayV2::Route", lambda r: r.get("Metadata", {}).get("Auth") == "none")[
        "Metadata"
    ].pop("Auth"),
    # a grant AWS would never match: SNS lists no resource type for Unsubscribe
    "P011": lambda t: _find(t, "AWS::IAM::Role")["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(
        {"Sid": "Subscriptions", "Effect": "Allow", "Action": ["sns:Unsubscribe"],
         "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:alarms"}]}
    ),
}


def test_every_rule_has_a_breaking_case() -> None:
    assert sorted(BREAK) == sorted(BY_ID)


def test_the_good_platform_passes_every_rule(good: dict[str, dict[str, Any]]) -> None:
    assert run("prod", True, good) == []


@pytest.mark.parametrize("rule", [r.id for r in RULES])
def test_rule_fails_the_broken_template(good: dict[str, dict[str, Any]], rule: str) -> None:
    broken = copy.deepcopy(good)
    BREAK[rule](broken["data"])
    findings = run("prod", True, broken)
    assert findings and {f.rule for f in findings} == {rule}, findings
    assert findings[0].source and findings[0].source.startswith("spec/data.yaml#")
    assert findings[0].waived is None


P011_CASES = [
    # (id, statement, finding or None)
    ("unsubscribe-on-a-topic", {"Effect": "Allow", "Action": ["sns:Unsubscribe", "sns:GetSubscriptionAttributes"],
                                "Resource": ["arn:aws:sns:us-west-2:1:t"]}, "acts on no resource type: only `*` matches it"),
    ("unsubscribe-on-everything", {"Effect": "Allow", "Action": ["sns:Unsubscribe"], "Resource": ["*"]}, None),
    ("no-such-action", {"Effect": "Allow", "Action": ["dynamodb:GetItems"], "Resource": ["*"]}, "is not an action"),
    ("object-action-on-a-bucket", {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b"]},
     "acts on accesspointobject, object"),
    ("object-action-on-a-bucket-pattern", {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::app-dev-*"]},
     None),
    ("a-boundary-key-on-s3", {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"],
                              "Condition": {"StringEquals": {"iam:PermissionsBoundary": "x"}}}, "does not apply to s3:GetObject"),
    ("a-boundary-key-on-create-role", {"Effect": "Allow", "Action": ["iam:CreateRole"], "Resource": ["arn:aws:iam::1:role/x"],
                                       "Condition": {"StringEquals": {"iam:PermissionsBoundary": "x"}}}, None),
    ("a-tag-key-where-listed", {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["arn:aws:kms:*:1:key/*"],
                                "Condition": {"StringEquals": {"aws:ResourceTag/Stage": "dev"}}}, None),
    ("a-global-key", {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"],
                      "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}, None),
    ("a-wildcard-action-that-exists", {"Effect": "Deny", "Action": ["iam:*"], "Resource": ["arn:aws:iam::1:role/x"]}, None),
    ("a-wildcard-action-that-matches-nothing", {"Effect": "Allow", "Action": ["s3:GetBuckit*"], "Resource": ["*"]}, "is not an action"),
]


@pytest.mark.parametrize(("statement", "finding"), [c[1:] for c in P011_CASES], ids=[c[0] for c in P011_CASES])
def test_p011_reads_the_authorization_reference(statement: dict[str, Any], finding: str | None) -> None:
    from compiler.rules.authorization import problems

    found = list(problems(statement))
    if finding is None:
        assert found == []
    else:
        assert found and all(finding in f for f in found), found


def test_a_functions_own_dead_letter_queue_counts_as_one(good: dict[str, dict[str, Any]]) -> None:
    """An asynchronously invoked function's DLQ needs no DLQ of its own (P006) but needs its
    alarm in protected stages (P007)."""
    assert "ListenerFunctionDlq" in good["data"]["Resources"]
    broken = copy.deepcopy(good)
    broken["data"]["Resources"].pop("ListenerFunctionDlqAlarm")
    assert [(f.rule, f.resource) for f in run("prod", True, broken)] == [("P007", "ListenerFunctionDlq")]


def test_prod_only_rules_do_not_apply_elsewhere(good: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(good)
    BREAK["P002"](broken["data"])
    BREAK["P009"](broken["data"])
    assert run("dev", False, broken) == []


def test_suppression_in_the_spec_waives_a_rule_with_its_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = "queues:\n  q:\n    dlq_alarm: false\n    reasons: {dlq_alarm: replayed from the source every night}\n"
    spec += "    suppress: {P006: the test suppresses a rule that passes anyway}\n"
    result = compile_spec(tmp_path, {"q.yaml": spec})
    write(tmp_path / "generated", result.outputs, list(result.stages))
    monkeypatch.chdir(tmp_path)
    report = lint.run(tmp_path / "generated", use_cache=False)
    assert not report.failed, report.text
    (waived,) = report.waived  # P007 in prod, acknowledged by the reasoned unsafe choice
    assert (waived.rule, waived.waived) == ("P007", "dlq_alarm: replayed from the source every night")
    assert waived.source == "spec/q.yaml:2:3"


def test_unknown_rule_in_suppress(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"q.yaml": "queues:\n  q:\n    suppress: {P070: not a rule that exists here}\n"})
    assert "spec/q.yaml:3:16: error[E212]: unknown policy rule 'P070'" in out
    assert "= help: did you mean 'P010'?" in out


def test_repository_spec_passes_every_rule() -> None:
    for stage in ("dev", "staging", "prod"):
        manifest = json.loads((REPO / "generated" / stage / "manifest.json").read_text())
        templates = {s: json.loads((REPO / "generated" / stage / f"{s}.json").read_text()) for s in manifest["stacks"]}
        assert [f for f in run(stage, manifest["protect"], templates) if not f.waived] == []


def test_sarif_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from compiler.gates.sarif import render

    result = compile_spec(tmp_path, {"b.yaml": "buckets:\n  b: {}\n"})
    write(tmp_path / "generated", result.outputs, list(result.stages))
    path = tmp_path / "generated" / "prod" / "b.json"
    template = json.loads(path.read_text())
    BREAK["P003"](template)
    path.write_text(json.dumps(template, indent=2))
    monkeypatch.chdir(tmp_path)
    document = json.loads(render(lint.run(tmp_path / "generated", use_cache=False)))
    assert document["version"] == "2.1.0"
    (run_,) = document["runs"]
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == ["P003"]
    (result_,) = run_["results"]
    assert result_["ruleId"] == "P003" and result_["level"] == "error"
    location = result_["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "spec/b.yaml"
    assert location["region"] == {"startLine": 2, "startColumn": 3}
    assert result_["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("generated/prod/b.json")
