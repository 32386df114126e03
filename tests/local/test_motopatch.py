"""The emulator's CloudFormation behaviours that moto lacks (compiler/local/motopatch.py), each
checked against what CloudFormation documents, on the tests' moto server (patched, as the
one `platformc up` starts)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import stack_names

pytestmark = pytest.mark.usefixtures("local_credentials")


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="eu-west-1")


def _table(name: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::DynamoDB::Table", **extra, "Properties": {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}}


def _import(cfn: Any, stack: str, template: dict[str, Any], logical: str, name: str) -> str:
    return str(cfn.create_change_set(StackName=stack, ChangeSetName="imp", ChangeSetType="IMPORT", TemplateBody=json.dumps(template),
                                     ResourcesToImport=[{"ResourceType": "AWS::DynamoDB::Table", "LogicalResourceId": logical,
                                                         "ResourceIdentifier": {"TableName": name}}])["Id"])


def test_a_retained_resource_removed_from_its_stack_stays_with_its_data(endpoint: str) -> None:
    cfn, ddb = _client(endpoint, "cloudformation"), _client(endpoint, "dynamodb")
    cfn.create_stack(StackName="mp-retain", TemplateBody=json.dumps({"Resources": {
        "Kept": _table("mp-kept", DeletionPolicy="Retain"), "Gone": _table("mp-gone")}}))
    ddb.put_item(TableName="mp-kept", Item={"id": {"S": "1"}})
    cfn.update_stack(StackName="mp-retain", TemplateBody=json.dumps({"Resources": {
        "Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "mp-retain-q"}}}}))
    assert ddb.scan(TableName="mp-kept")["Items"] == [{"id": {"S": "1"}}]  # Retain: left in place
    assert "mp-gone" not in ddb.list_tables()["TableNames"]  # Delete (the default): deleted
    resources = [r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="mp-retain")["StackResourceSummaries"]]
    assert resources == ["Q"]


def test_an_import_joins_the_existing_table_to_a_stack_new_or_existing(endpoint: str) -> None:
    cfn, ddb = _client(endpoint, "cloudformation"), _client(endpoint, "dynamodb")
    for name in ("mp-new", "mp-more"):
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        ddb.put_item(TableName=name, Item={"id": {"S": name}})
    first = {"Resources": {"New": _table("mp-new", DeletionPolicy="Retain")}}
    cfn.execute_change_set(ChangeSetName=_import(cfn, "mp-import", first, "New", "mp-new"))
    assert cfn.describe_stacks(StackName="mp-import")["Stacks"][0]["StackStatus"] == "IMPORT_COMPLETE"
    # into the stack that exists now: the same stack, not a second one of that name
    second = {"Resources": {**first["Resources"], "More": _table("mp-more", DeletionPolicy="Retain")}}
    cfn.execute_change_set(ChangeSetName=_import(cfn, "mp-import", second, "More", "mp-more"))
    assert stack_names(cfn).count("mp-import") == 1
    held = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName="mp-import")["StackResourceSummaries"]}
    assert held == {"New": "mp-new", "More": "mp-more"}
    assert [ddb.scan(TableName=n)["Items"] for n in ("mp-new", "mp-more")] == [[{"id": {"S": "mp-new"}}], [{"id": {"S": "mp-more"}}]]

    # an update changing a table (which moto cannot update in place) keeps it in the stack
    changed = json.loads(json.dumps(second))
    changed["Resources"]["New"]["Properties"]["SSESpecification"] = {"SSEEnabled": True}
    changed["Outputs"] = {"Name": {"Value": {"Ref": "New"}, "Export": {"Name": "mp-import-new"}}}
    change_set = cfn.create_change_set(StackName="mp-import", ChangeSetName="upd", ChangeSetType="UPDATE",
                                     TemplateBody=json.dumps(changed))["Id"]
    cfn.execute_change_set(ChangeSetName=change_set)
    held = {r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName="mp-import")["StackResourceSummaries"]}
    assert held == {"New", "More"} and ddb.scan(TableName="mp-new")["Items"]
    # and a change set's outputs and exports are registered, as UpdateStack registers them
    assert {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}["mp-import-new"] == "mp-new"
    assert cfn.describe_stacks(StackName="mp-import")["Stacks"][0]["Outputs"][0]["OutputValue"] == "mp-new"


@pytest.mark.parametrize(("template", "refusal"), [
    ({"Resources": {"T": _table("mp-refused")}}, "missing a DeletionPolicy: T"),
    ({"Resources": {"T": _table("mp-absent", DeletionPolicy="Retain")}}, "to import does not exist"),
    ({"Resources": {"T": _table("mp-refused", DeletionPolicy="Retain")}, "Outputs": {"N": {"Value": {"Ref": "T"}}}},
     "cannot modify or add [Outputs]"),
])
def test_an_import_is_refused_as_cloudformation_refuses_it(endpoint: str, template: dict[str, Any], refusal: str) -> None:
    cfn, ddb = _client(endpoint, "cloudformation"), _client(endpoint, "dynamodb")
    if "mp-refused" not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName="mp-refused", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    with pytest.raises(ClientError, match=refusal.replace("[", r"\[").replace("]", r"\]")):
        _import(cfn, "mp-refused-stack", template, "T", "mp-refused")


def test_a_key_made_by_a_template_answers_kms_calls(endpoint: str) -> None:
    cfn, kms = _client(endpoint, "cloudformation"), _client(endpoint, "kms")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}
    cfn.create_stack(StackName="mp-key", TemplateBody=json.dumps({"Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": policy}},
        "Alias": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/mp-key", "TargetKeyId": {"Ref": "Key"}}}}}))
    key = kms.describe_key(KeyId="alias/mp-key")["KeyMetadata"]["KeyId"]  # moto kept a dict: a 500 here
    assert json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]) == policy
