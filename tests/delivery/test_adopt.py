"""`platformc adopt`: the plan of a take-over, on a moto server on 127.0.0.1 that already holds
resources under the stage's names — one in another tool's stack (as the Serverless Framework
deploys it), one created by hand, some not at all. The plan reads; nothing changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.cli import main
from tests.conftest import stack_names
from tests.delivery.test_deploy import _client, _deployer, _platform

pytestmark = pytest.mark.usefixtures("local_credentials")  # any credentials do on the emulator


def _plan(out: Path, endpoint: str, exit_code: int = 0) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(main, ["adopt", "--stage", "dev", "--endpoint-url", endpoint, "--out", str(out), "--format", "json"])
    assert result.exit_code == exit_code, result.output
    return {f"{r['stack']}/{r['logical_id']}": r for r in json.loads(result.output)["resources"]}


def test_the_plan_says_who_holds_each_resource_and_changes_nothing(endpoint: str, tmp_path: Path) -> None:
    out, _ = _platform(tmp_path, service="taken")
    old = {"Resources": {"WorkQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "taken-dev-work",
                                                                                    "VisibilityTimeout": 60}}}}
    cfn, ddb = _client(endpoint, "cloudformation"), _client(endpoint, "dynamodb")
    cfn.create_stack(StackName="taken-serverless-dev", TemplateBody=json.dumps(old))  # another tool's stack
    ddb.create_table(TableName="taken-dev-items", BillingMode="PAY_PER_REQUEST",  # made by hand, keyed otherwise
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.put_item(TableName="taken-dev-items", Item={"pk": {"S": "customer-1"}})
    stacks_before = sorted(stack_names(cfn))

    plan = _plan(out, endpoint, exit_code=4)  # the table's key differs: BLOCKED
    table, queue, dlq = plan["data/ItemsTable"], plan["data/WorkQueue"], plan["data/WorkQueueDlq"]
    assert (table["action"], table["identifier"], table["held_by"]) == ("import", "taken-dev-items", None)
    assert table["verdict"] == "BLOCKED" and any(c.startswith("KeySchema") for c in table["replaces"]), table
    assert queue["verdict"] is None and "VisibilityTimeout: 60 -> 120" in queue["updates"], queue  # in place
    assert table["data"].startswith("about ") and table["data"].endswith(" items (DynamoDB updates ItemCount about every 6 hours)")
    assert queue["data"] == "about 0 messages" and dlq["data"] is None  # a fingerprint of what each holds
    assert (queue["action"], queue["held_by"], queue["held_as"], queue["key"]) == ("adopt", "taken-serverless-dev", "WorkQueue", "QueueUrl")
    assert queue["identifier"].endswith("/taken-dev-work")  # a queue is imported by its URL
    assert (dlq["action"], dlq["identifier"]) == ("create", None)
    assert plan["app/WorkerFunctionLogs"]["action"] == "create"
    assert sorted(stack_names(cfn)) == stacks_before  # nothing changed
    assert ddb.get_item(TableName="taken-dev-items", Key={"pk": {"S": "customer-1"}})["Item"]

    text = CliRunner().invoke(main, ["adopt", "--stage", "dev", "--endpoint-url", endpoint, "--out", str(out)]).output
    assert text.startswith("adopt plan for stage dev (nothing is changed): 1 adopt, 1 import")
    assert "adopt  data/WorkQueue AWS::SQS::Queue taken-dev-work (QueueUrl " in text
    assert "BLOCKED: KeySchema" in text and "the update after the import would replace it" in text


def test_a_deployed_stage_is_ours(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _platform(tmp_path, service="ownplan")
    assert {r.status for r in _deployer(out, "dev", endpoint, artifacts, []).deploy()} == {"created"}
    plan = _plan(out, endpoint)
    assert (plan["data/ItemsTable"]["action"], plan["data/ItemsTable"]["held_by"]) == ("ours", "ownplan-dev-data")
    assert plan["data/WorkQueue"]["action"] == "ours"


def test_the_aws_path_asks_cloudformation_who_holds_a_physical_id(tmp_path: Path) -> None:
    """Pinned call by call with botocore's Stubber (the emulator answers this by listing
    stacks: moto ignores PhysicalResourceId): one DescribeStackResources by physical id; a
    resource no stack holds is a ValidationError AWS words as "does not exist"."""
    import boto3
    from botocore.stub import Stubber

    from compiler.delivery.deploy import Deployer

    out, artifacts = _platform(tmp_path, service="pinned")
    deployer = Deployer(out, "dev", yes=True, echo=lambda _: None, artifacts=artifacts, poll=0)
    cfn = boto3.client("cloudformation", region_name="us-west-2")
    stub = Stubber(cfn)
    stub.add_response("describe_stack_resources", {"StackResources": [{
        "StackName": "pinned-serverless-dev", "LogicalResourceId": "ItemsTable", "PhysicalResourceId": "pinned-dev-items",
        "ResourceType": "AWS::DynamoDB::Table", "ResourceStatus": "UPDATE_COMPLETE", "Timestamp": "2026-01-01T00:00:00Z"}]},
        {"PhysicalResourceId": "pinned-dev-items"})
    stub.add_client_error("describe_stack_resources", "ValidationError", "Stack for pinned-dev-other does not exist",
                          expected_params={"PhysicalResourceId": "pinned-dev-other"})
    with stub:
        assert deployer.holder(cfn, "pinned-dev-items") == ("pinned-serverless-dev", "ItemsTable")
        assert deployer.holder(cfn, "pinned-dev-other") is None
        stub.assert_no_pending_responses()
