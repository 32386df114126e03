"""The path real AWS takes (`deploy.Deployer`, not the emulator's `local.LocalDeployer`).

New stacks are created through a CREATE change set and protected stages get termination
protection. The moto server runs the change-set path for a stack whose outputs nothing
reads yet (moto 5.2.5 drops the outputs of change-set-created stacks, which is why the
emulator uses create_stack); what moto cannot model (termination protection) is asserted
with botocore's Stubber: the exact calls, in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from compiler.delivery.deploy import Deployer
from tests.delivery.test_deploy import REGION, _client, _platform, stubbed_deploy


pytestmark = pytest.mark.usefixtures("local_credentials")  # any credentials do on the emulator


def _record(deployer: Deployer) -> list[tuple[str, dict[str, Any]]]:
    """Every CloudFormation call the deployer makes: (operation, parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def seen(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params))

    deployer._session.events.register("provide-client-params.cloudformation", seen)
    return calls


def test_a_new_stack_is_created_through_a_create_change_set(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _platform(tmp_path, service="realpath")
    lines: list[str] = []
    deployer = Deployer(out, "dev", endpoint_url=endpoint, yes=True, echo=lines.append, artifacts=artifacts, poll=0.01)
    calls = _record(deployer)
    [result] = deployer.deploy(only={"data"})
    assert (result.stack, result.status) == ("data", "created"), result
    operations = [name for name, _ in calls]
    assert "CreateStack" not in operations
    created = [params for name, params in calls if name == "CreateChangeSet"]
    assert [(p["StackName"], p["ChangeSetType"]) for p in created] == [("realpath-dev-data", "CREATE")]
    assert operations.index("CreateChangeSet") < operations.index("DescribeChangeSet") < operations.index("ExecuteChangeSet")
    assert "UpdateTerminationProtection" not in operations  # dev is not a protected stage
    assert any(line.startswith("data: change set") and "Add" in line for line in lines)
    stack = _client(endpoint, "cloudformation").describe_stacks(StackName="realpath-dev-data")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert _client(endpoint, "sqs").get_queue_url(QueueName="realpath-dev-work")["QueueUrl"]


def test_a_protected_stage_creates_through_a_change_set_then_protects_the_stack(tmp_path: Path) -> None:
    """moto 5.2.5 has no termination protection: the calls to AWS are pinned with Stubber."""
    from botocore.stub import ANY, Stubber

    out, artifacts = _platform(tmp_path)
    body = (out / "prod" / "data.json").read_text()
    cfn = boto3.client("cloudformation", region_name=REGION)
    stub = Stubber(cfn)
    name = {"StackName": "mini-prod-data"}
    stub.add_client_error("describe_stacks", "ValidationError", "Stack with id mini-prod-data does not exist", expected_params=name)
    stub.add_response("create_change_set", {"Id": "cs"}, {
        "ChangeSetName": ANY, "ChangeSetType": "CREATE", "StackName": "mini-prod-data",
        "Capabilities": ["CAPABILITY_NAMED_IAM"], "Parameters": [], "TemplateBody": body})
    change = {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": "ItemsTable",
                                                     "ResourceType": "AWS::DynamoDB::Table"}}
    stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [change]}, {**name, "ChangeSetName": ANY})
    stub.add_response("execute_change_set", {}, {**name, "ChangeSetName": ANY})
    created = {"StackName": "mini-prod-data", "StackStatus": "CREATE_COMPLETE", "CreationTime": "2026-01-01T00:00:00Z"}
    stub.add_response("describe_stacks", {"Stacks": [created]}, name)  # the status decides; the events are progress
    stub.add_response("describe_stack_events", {"StackEvents": []}, name)
    stub.add_response("update_termination_protection", {}, {**name, "EnableTerminationProtection": True})
    lines: list[str] = []
    result = stubbed_deploy(out, "prod", artifacts, cfn, stub, lines)
    assert (result.status, result.detail) == ("created", "")
    assert lines[0] == "data: change set\n  Add     ItemsTable AWS::DynamoDB::Table"
