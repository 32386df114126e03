"""`platformc drift`: a deployed stage against generated/ — template drift on the moto server
(a stack updated out of band exits 5, an untouched stage exits 0) and CloudFormation's
resource drift detection on the path AWS takes (moto has none: pinned with Stubber)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from compiler.cli import main
from compiler.delivery.deploy import Deployer
from tests.delivery.test_deploy import _client, _deployer, _platform


pytestmark = pytest.mark.usefixtures("local_credentials")  # any credentials do on the emulator


def test_an_untouched_stage_exits_0_and_an_out_of_band_update_exits_5(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _platform(tmp_path, service="drifty")
    _deployer(out, "dev", endpoint, artifacts, []).deploy()
    runner = CliRunner()
    args = ["drift", "--stage", "dev", "--endpoint-url", endpoint, "--out", str(out)]
    clean = runner.invoke(main, args)
    assert clean.exit_code == 0, clean.output
    assert "stage dev: matches generated/" in clean.output
    assert "resource drift: not checked: the emulator (moto) offers no CloudFormation drift detection" in clean.output

    # someone changes the queue's visibility timeout through CloudFormation, outside platformc
    cfn = _client(endpoint, "cloudformation")
    body = cfn.get_template(StackName="drifty-dev-data")["TemplateBody"]
    held = body if isinstance(body, dict) else json.loads(body)
    [queue] = [k for k, r in held["Resources"].items() if r["Properties"].get("QueueName") == "drifty-dev-work"]
    held["Resources"][queue]["Properties"]["VisibilityTimeout"] = 45
    cfn.update_stack(StackName="drifty-dev-data", TemplateBody=json.dumps(held), Capabilities=["CAPABILITY_NAMED_IAM"])

    drifted = runner.invoke(main, args)
    assert drifted.exit_code == 5, drifted.output
    assert "~ stack data" in drifted.output and "VisibilityTimeout: 45 -> 120" in drifted.output
    assert "stage dev: DRIFTED (1 stack(s)); `platformc deploy --stage dev` brings it back" in drifted.output
    report = json.loads(runner.invoke(main, [*args, "--format", "json"]).output)
    assert report["drifted"] is True and report["resource_drift_checked"] is False
    assert [s["stack"] for s in report["template"]["stacks"]] == ["data"]

    # a deploy brings it back; a stack that is not deployed at all is drift too
    _deployer(out, "dev", endpoint, artifacts, []).deploy()
    assert runner.invoke(main, args).exit_code == 0
    cfn.delete_stack(StackName="drifty-dev-app")
    gone = runner.invoke(main, args)
    assert gone.exit_code == 5 and "+ stack app" in gone.output


def test_resource_drift_comes_from_cloudformations_drift_detection(tmp_path: Path) -> None:
    """The real path: detect, wait, then only MODIFIED and DELETED resources, with their
    property differences. Every call is pinned (moto answers DetectStackDrift with a 500)."""
    out, artifacts = _platform(tmp_path, service="real")
    deployer = Deployer(out, "dev", yes=True, echo=lambda _: None, artifacts=artifacts, poll=0)
    cfn = boto3.client("cloudformation", region_name="us-west-2")
    stub = Stubber(cfn)
    stub.add_response("detect_stack_drift", {"StackDriftDetectionId": "d-1"}, {"StackName": "real-dev-data"})
    in_progress: dict[str, Any] = {"StackId": "s", "StackDriftDetectionId": "d-1", "DetectionStatus": "DETECTION_IN_PROGRESS",
                                   "Timestamp": "2026-11-29T00:00:00Z"}
    stub.add_response("describe_stack_drift_detection_status", in_progress, {"StackDriftDetectionId": "d-1"})
    stub.add_response("describe_stack_drift_detection_status", {**in_progress, "DetectionStatus": "DETECTION_COMPLETE",
                                                                "StackDriftStatus": "DRIFTED"}, {"StackDriftDetectionId": "d-1"})
    stub.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": [{
        "StackId": "s", "LogicalResourceId": "WorkQueue", "ResourceType": "AWS::SQS::Queue",
        "StackResourceDriftStatus": "MODIFIED", "Timestamp": "2026-11-29T00:00:00Z",
        "PropertyDifferences": [{"PropertyPath": "/VisibilityTimeout", "ExpectedValue": "120", "ActualValue": "45",
                                 "DifferenceType": "NOT_EQUAL"}]}]},
        {"StackName": "real-dev-data", "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]})
    with stub:
        deployer.client = lambda service, region=None: cfn  # type: ignore[method-assign]
        found, unchecked = deployer.resource_drift(["data"])
        stub.assert_no_pending_responses()
    assert unchecked is None
    assert [(d.stack, d.logical_id, d.status) for d in found] == [("data", "WorkQueue", "MODIFIED")]
    assert found[0].differences == ("/VisibilityTimeout: NOT_EQUAL, expected 120, actual 45",)


def test_deploys_refusal_names_the_diff_that_shows_the_refused_change(endpoint: str, tmp_path: Path) -> None:
    """Diff and deploy share one baseline: `platformc diff --against deployed` judges the
    change against the live stacks, exactly what deploy refused, and deploy's message says so."""
    from tests.delivery.test_deploy import DATA

    out, artifacts = _platform(tmp_path, service="baseline")
    _deployer(out, "prod", endpoint, artifacts, []).deploy()
    _platform(tmp_path, DATA.replace("id:S", "key:S"), service="baseline")  # a new hash key: the table is replaced
    refused = {r.stack: r for r in _deployer(out, "prod", endpoint, artifacts, []).deploy()}
    command = f"platformc diff --stage prod --against deployed --endpoint-url {endpoint}"
    assert refused["data"].status == "failed" and f"review it with `{command}`" in refused["data"].detail

    shown = CliRunner().invoke(main, [*command.split()[1:], "--out", str(out), "--no-color"])
    assert shown.exit_code == 4, shown.output  # a risk, as deploy judged it
    assert "stage prod, against deployed:" in shown.output
    assert "REPLACE" in shown.output and "ItemsTable" in shown.output
    # against git, the committed templates are the baseline: that is a different question
    assert CliRunner().invoke(main, ["diff", "--stage", "prod", "--against", "deployed", "--new", "HEAD",
                                     "--out", str(out)]).exit_code == 2
