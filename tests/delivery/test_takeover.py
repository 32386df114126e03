"""`platformc adopt --yes`: the take-over of a running platform, end to end, on a moto server on
127.0.0.1 (patched by compiler/local/motopatch.py where moto lacks CloudFormation's behaviour).

The platform runs as the Serverless Framework deploys it: one stack per service
(`<service>-infrastructure-dynamodb-dev`, ...), holding tables, the data bucket and FIFO
queues under the names our spec declares, with outputs other stacks import and resources
that refer to them; its user pool exists outside any stack (moto's CloudFormation does not
model user pools). Customers' items, objects, users and messages are in them. The take-over
must keep every identifier and every byte of data, leave the old stacks working, and put each
resource in our stack; interrupted after any step, it must finish on the next run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.delivery.adopt import Located
from compiler.delivery.stage import Interrupted
from compiler.delivery.handover import detached, import_resource, retained
from compiler.delivery.takeover import Takeover
from compiler.local.emulator import LocalDeployer
from tests.conftest import deployable
from tests.delivery.test_deploy import REGION, _client

pytestmark = pytest.mark.usefixtures("local_credentials")

SPEC = {
    "dynamodb.yaml": """\
        description: DynamoDB tables of the data tier
        tables:
          users:
            hash_key: userId:S
            indexes:
              EmailIndex: {hash_key: email:S}
          sources:
            hash_key: sourceId:S
        """,
    "s3.yaml": "description: buckets\nbuckets:\n  data: {versioning: true, encryption: s3}\n",
    "sqs.yaml": """\
        description: SQS work queues
        defaults:
          queues: {fifo: true, content_based_deduplication: true, retention: 14d}
        queues:
          sync: {visibility_timeout: 5m, max_receives: 3}
        """,
    "cognito.yaml": "description: users\nuser_pools:\n  main:\n    client: {flows: [refresh, admin-password]}\n"
                    "    groups:\n      Admins: {precedence: 1, description: Platform administrators}\n",
    "eventbridge.yaml": "description: bus\nbuses:\n  events:\n    archive: {retention_days: 30}\n",
    "app.yaml": "description: app\nfunctions:\n  reader: {handler: jobs.run, timeout: 20s, access: {table:users: read}}\n",
}


def _dev(service: str) -> str:
    return f"service: {service}\nregion: {REGION}\nstages:\n  dev:\n    protect: false\n    alarms: {{enabled: false}}\n"


def _spec(root: Path, service: str) -> tuple[Path, Path]:
    return deployable(root, SPEC, platform=_dev(service), stage="dev")


def _table(name: str, key: str, indexes: dict[str, str] | None = None) -> dict[str, Any]:
    attributes = [key, *(indexes or {}).values()]
    table: dict[str, Any] = {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}
    if indexes:
        table["GlobalSecondaryIndexes"] = [{"IndexName": index, "KeySchema": [{"AttributeName": a, "KeyType": "HASH"}],
                                            "Projection": {"ProjectionType": "ALL"}} for index, a in indexes.items()]
    return {"Type": "AWS::DynamoDB::Table", "Properties": table}


def _serverless(endpoint: str, service: str) -> None:
    """The stage as the Serverless Framework left it, holding customers' data."""
    cfn = _client(endpoint, "cloudformation")
    export = f"{service}-infrastructure-dynamodb-dev-UsersTableName"
    dynamodb = {"Resources": {
        "UsersTable": _table(f"{service}-dev-users", "userId", {"EmailIndex": "email"}),
        "SourcesTable": _table(f"{service}-dev-sources", "sourceId"),
        # what stays refers to what leaves: a policy by ARN, a parameter by name
        "ReaderRole": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": f"{service}-dev-{REGION}-lambdaRole", "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "tables", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "dynamodb:GetItem",
                "Resource": [{"Fn::GetAtt": ["UsersTable", "Arn"]}, {"Fn::Sub": "${UsersTable.Arn}/index/*"}]}]}}]}},
        "UsersTableParameter": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": f"/{service}/dev/users-table", "Type": "String", "Value": {"Ref": "UsersTable"}}}},
        "Outputs": {
            "UsersTableName": {"Value": {"Ref": "UsersTable"}, "Export": {"Name": export}},
            "SourcesTableArn": {"Value": {"Fn::GetAtt": ["SourcesTable", "Arn"]},
                                "Export": {"Name": f"{service}-infrastructure-dynamodb-dev-SourcesTableArn"}}}}
    cfn.create_stack(StackName=f"{service}-infrastructure-dynamodb-dev", TemplateBody=json.dumps(dynamodb))
    api = {"Resources": {"UsersTableName": {"Type": "AWS::SSM::Parameter", "Properties": {  # imports an export
        "Name": f"/{service}/dev/api/users-table", "Type": "String", "Value": {"Fn::ImportValue": export}}}}}
    cfn.create_stack(StackName=f"{service}-api-users-dev", TemplateBody=json.dumps(api))
    s3 = {"Resources": {"DataBucket": {"Type": "AWS::S3::Bucket", "Properties": {
        "BucketName": f"{service}-dev-data", "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}}}}
    cfn.create_stack(StackName=f"{service}-infrastructure-s3-dev", TemplateBody=json.dumps(s3))
    sqs = {"Resources": {
        "SyncQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": f"{service}-dev-sync.fifo", "FifoQueue": True, "ContentBasedDeduplication": True,
            "VisibilityTimeout": 300, "MessageRetentionPeriod": 1209600,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["SyncDlq", "Arn"]}, "maxReceiveCount": 3}}},
        "SyncDlq": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": f"{service}-dev-sync-dlq.fifo", "FifoQueue": True, "MessageRetentionPeriod": 1209600}}}}
    cfn.create_stack(StackName=f"{service}-infrastructure-sqs-dev", TemplateBody=json.dumps(sqs))
    bus = {"Resources": {  # the platform's events and their archive (replayable history)
        "EventBus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": f"{service}-dev-events"}},
        "EventArchive": {"Type": "AWS::Events::Archive", "Properties": {
            "ArchiveName": f"{service}-dev-events-archive", "SourceArn": {"Fn::GetAtt": ["EventBus", "Arn"]},
            "RetentionDays": 30}}}}
    cfn.create_stack(StackName=f"{service}-infrastructure-eventbridge-dev", TemplateBody=json.dumps(bus))
    idp = _client(endpoint, "cognito-idp")
    pool = idp.create_user_pool(PoolName=f"{service}-dev-main", UsernameAttributes=["email"], MfaConfiguration="OPTIONAL",
                                UsernameConfiguration={"CaseSensitive": False})["UserPool"]["Id"]
    idp.create_group(UserPoolId=pool, GroupName="Admins", Precedence=1)
    for n in range(3):  # customers: their items, files, logins and pending work
        _client(endpoint, "dynamodb").put_item(TableName=f"{service}-dev-users", Item={
            "userId": {"S": f"u-{n}"}, "email": {"S": f"c{n}@example.com"}})
        _client(endpoint, "s3").put_object(Bucket=f"{service}-dev-data", Key=f"accounts/a-{n}/backup.json", Body=b"{}")
        idp.admin_create_user(UserPoolId=pool, Username=f"c{n}@example.com")
    queue = _client(endpoint, "sqs").get_queue_url(QueueName=f"{service}-dev-sync.fifo")["QueueUrl"]
    _client(endpoint, "sqs").send_message(QueueUrl=queue, MessageBody="sync a-1", MessageGroupId="a-1")


def _state(endpoint: str, service: str) -> dict[str, Any]:
    """Every identifier and every piece of customer data the take-over must keep."""
    ddb, s3, sqs, idp = (_client(endpoint, s) for s in ("dynamodb", "s3", "sqs", "cognito-idp"))
    pools = [p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == f"{service}-dev-main"]
    queue = sqs.get_queue_url(QueueName=f"{service}-dev-sync.fifo")["QueueUrl"]
    return {
        "tables": {t: (ddb.describe_table(TableName=f"{service}-dev-{t}")["Table"]["TableArn"],
                       sorted(json.dumps(i, sort_keys=True) for i in ddb.scan(TableName=f"{service}-dev-{t}")["Items"]))
                   for t in ("users", "sources")},
        "objects": sorted((o["Key"], o["ETag"]) for o in s3.list_objects_v2(Bucket=f"{service}-dev-data")["Contents"]),
        "queues": (queue, sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn", "ApproximateNumberOfMessages"])
                   ["Attributes"]),
        "pool": (pools, sorted(u["Username"] for u in idp.list_users(UserPoolId=pools[0])["Users"])),
        "archive": _client(endpoint, "events").describe_archive(ArchiveName=f"{service}-dev-events-archive")["ArchiveArn"],
    }


def _holders(endpoint: str, service: str) -> dict[str, list[str]]:
    """Physical id -> the stacks holding it (moto's DescribeStackResources ignores the
    physical id, so every stack is listed; moto records none for a bus or an archive, so
    their names are read from the stack's template)."""
    cfn, found = _client(endpoint, "cloudformation"), {}
    for stack in (s for page in cfn.get_paginator("describe_stacks").paginate() for s in page["Stacks"]):
        if stack["StackName"].startswith(f"{service}-"):
            resources = cfn.get_template(StackName=stack["StackName"])["TemplateBody"]["Resources"]
            for r in cfn.list_stack_resources(StackName=stack["StackName"])["StackResourceSummaries"]:
                props = resources[r["LogicalResourceId"]].get("Properties", {})
                physical = r["PhysicalResourceId"] or props.get("Name") or props.get("ArchiveName", "")
                found.setdefault(physical.rsplit("/", 1)[-1], []).append(stack["StackName"])
    return found


DATA = ("users", "sources", "data", "sync.fifo", "sync-dlq.fifo")  # name suffixes of what is taken over


def _assert_taken_over(endpoint: str, service: str, before: dict[str, Any]) -> None:
    assert _state(endpoint, service) == before  # identifiers, items, objects, users, messages
    holders = _holders(endpoint, service)
    ours = {"users": "dynamodb", "sources": "dynamodb", "data": "s3", "sync.fifo": "sqs", "sync-dlq.fifo": "sqs",
            "events": "eventbridge", "events-archive": "eventbridge"}
    for suffix, stack in ours.items():
        assert holders.get(f"{service}-dev-{suffix}") == [f"{service}-dev-{stack}"], (suffix, sorted(holders.items()))
    cfn, ssm = _client(endpoint, "cloudformation"), _client(endpoint, "ssm")
    # the old application still works: what referred to a table now holds its value
    assert ssm.get_parameter(Name=f"/{service}/dev/users-table")["Parameter"]["Value"] == f"{service}-dev-users"
    exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
    assert exports[f"{service}-infrastructure-dynamodb-dev-UsersTableName"] == f"{service}-dev-users"  # still imported
    assert f"{service}-infrastructure-dynamodb-dev-SourcesTableArn" not in exports  # imported by nobody: removed
    policy = cfn.get_template(StackName=f"{service}-infrastructure-dynamodb-dev")["TemplateBody"]
    assert before["tables"]["users"][0] in json.dumps(policy)  # the role's policy names the table's ARN
    # our stacks converged on the spec: the app imports the table from ours
    assert exports[f"{service}-dev-table-users:name"] == f"{service}-dev-users"


def test_the_take_over_keeps_every_identifier_and_item(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, artifacts = _spec(tmp_path, "lbtake")
    _serverless(endpoint, "lbtake")
    before = _state(endpoint, "lbtake")
    # the first deploy stops at the first name that exists: the problem adopt solves
    lines: list[str] = []
    first = LocalDeployer(out, "dev", endpoint_url=endpoint, yes=True, echo=lines.append, artifacts=artifacts, poll=0.01)
    assert any(r.status == "failed" for r in first.deploy())
    assert _state(endpoint, "lbtake") == before

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".build").mkdir()
    (tmp_path / ".build" / "artifacts").symlink_to(artifacts)
    result = CliRunner().invoke(main, ["adopt", "--stage", "dev", "--endpoint-url", endpoint, "--out", str(out), "--yes"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "adopt  dynamodb/UsersTable AWS::DynamoDB::Table lbtake-dev-users: now lbtake-infrastructure-dynamodb-dev/UsersTable" in text
    for step in ("(a) retain lbtake-infrastructure-dynamodb-dev: done", "(b) remove lbtake-infrastructure-dynamodb-dev: done",
                 "(c) import into lbtake-dev-dynamodb: done", "(d) converge", "(e) drift: the emulator"):
        assert step in text, step
    assert "import cognito/MainUserPoolGroupAdmins AWS::Cognito::UserPoolGroup Admins (UserPoolId|GroupName " in text
    assert "(c) cognito/MainUserPool: not imported on the emulator" in text
    assert "(d) data check dynamodb/UsersTable: about 3 items (before: about 3 items)" in text
    assert "(d) data check s3/DataBucket: 3 objects (before: 3 objects)" in text
    assert "output UsersTableName (export lbtake-infrastructure-dynamodb-dev-UsersTableName) stays" in text
    # the plan said what leaving the old stack touches there
    assert ("referred to in lbtake-infrastructure-dynamodb-dev by ReaderRole, UsersTableParameter: step (b) writes its "
            "values there") in text
    assert ("export lbtake-infrastructure-dynamodb-dev-UsersTableName by lbtake-api-users-dev: stays in "
            "lbtake-infrastructure-dynamodb-dev, its value written out") in text
    _assert_taken_over(endpoint, "lbtake", before)

    # the next plan finds everything in our stacks (the emulator's user pool stays outside any)
    again = CliRunner().invoke(main, ["adopt", "--stage", "dev", "--endpoint-url", endpoint, "--out", str(out), "--format", "json"])
    actions = {f"{r['stack']}/{r['logical_id']}": r["action"] for r in json.loads(again.output)["resources"]}
    assert {a for k, a in actions.items() if not k.startswith("cognito/")} == {"ours"}, actions


def test_the_plan_as_markdown_puts_what_blocks_first() -> None:
    from compiler.delivery.adopt import render

    plan = [Located("dynamodb", "UsersTable", "AWS::DynamoDB::Table", "lb-dev-users", "adopt", "lb-dev-users", "old", "Users",
                    replaces=("KeySchema: a -> b",), count=3, referred_by=("Role",)),
            Located("sqs", "SyncQueue", "AWS::SQS::Queue", "lb-dev-sync.fifo", "move", "https://q/lb-dev-sync.fifo", "lb-dev-a",
                    "SyncQueue", imported=("lb-dev-queue-sync:arn by core",))]
    text = render(plan, "dev", "markdown")
    assert text.startswith("### Take-over plan for `dev`: 1 adopt, 1 move\n\n**2 BLOCKED**")
    assert ("| adopt | `dynamodb/UsersTable` | `AWS::DynamoDB::Table` | `lb-dev-users` | old/Users | about 3 items (DynamoDB "
            "updates ItemCount about every 6 hours) | **BLOCKED** KeySchema: a -> b<br>referred to by Role |") in text
    assert "| **BLOCKED** export lb-dev-queue-sync:arn by core |" in text


def test_interrupted_after_each_step_the_next_run_finishes(endpoint: str, tmp_path: Path) -> None:
    """Ctrl-C as each step ends: every resource stays in one stack, or retained in none, with
    its data; the next run reads where things are from CloudFormation and goes on."""
    out, artifacts = _spec(tmp_path, "lbstop")
    _serverless(endpoint, "lbstop")
    before = _state(endpoint, "lbstop")
    steps = ["(a) retain lbstop-infrastructure-dynamodb-dev: done", "(b) remove lbstop-infrastructure-dynamodb-dev: done",
             "(c) import into lbstop-dev-dynamodb: done", "(d) converge"]
    runs: list[list[str]] = []
    for stop_at in steps:
        lines: list[str] = []

        def echo(line: str, stop_at: str = stop_at, lines: list[str] = lines) -> None:
            lines.append(line)
            if line.startswith(stop_at):
                raise KeyboardInterrupt

        deployer = LocalDeployer(out, "dev", endpoint_url=endpoint, yes=True, echo=echo, artifacts=artifacts, poll=0.01)
        with pytest.raises(Interrupted) as stopped:
            Takeover(deployer).run()
        assert "run `platformc adopt --stage dev --yes` again" in str(stopped.value)
        runs.append(lines)
        assert _state(endpoint, "lbstop") == before
        holders = _holders(endpoint, "lbstop")
        assert all(len(holders.get(f"lbstop-dev-{suffix}", [])) <= 1 for suffix in DATA), holders
    assert "already retained (an earlier run)" in "\n".join(runs[1])  # the second run resumed after (a)
    lines = []
    deployer = LocalDeployer(out, "dev", endpoint_url=endpoint, yes=True, echo=lines.append, artifacts=artifacts, poll=0.01)
    Takeover(deployer).run()
    _assert_taken_over(endpoint, "lbstop", before)


def test_a_drop_in_the_data_stops_the_run(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _spec(tmp_path, "lbdrop")
    _serverless(endpoint, "lbdrop")
    lines: list[str] = []

    def echo(line: str) -> None:  # someone deletes a customer's item while the take-over runs
        lines.append(line)
        if line.startswith("(b) remove lbdrop-infrastructure-dynamodb-dev: done"):
            _client(endpoint, "dynamodb").delete_item(TableName="lbdrop-dev-users", Key={"userId": {"S": "u-0"}})

    from compiler.delivery.takeover import TakeoverError

    deployer = LocalDeployer(out, "dev", endpoint_url=endpoint, yes=True, echo=echo, artifacts=artifacts, poll=0.01)
    with pytest.raises(TakeoverError, match="data check after \\(b\\): lbdrop-dev-users held about 3 items .* about 2 items now: stopped"):
        Takeover(deployer).run()
    assert not any(line.startswith("(c)") for line in lines)  # nothing further


def test_what_stays_in_the_old_stack_gets_the_leaving_resources_values() -> None:
    template = {
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "t"}},
            "Fn": {"Type": "AWS::Lambda::Function", "DependsOn": ["Table", "Role"], "Properties": {
                "Environment": {"Variables": {"TABLE": {"Ref": "Table"},
                                              "STREAM": {"Fn::Sub": "${Table.StreamArn}|${AWS::Region}|${Other}"}}},
                "Role": {"Fn::GetAtt": "Table.Arn"}}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"Arn": {"Fn::GetAtt": ["Table", "Unknown"]}}}},
        "Outputs": {"Name": {"Value": {"Ref": "Table"}}, "Kept": {"Value": {"Fn::GetAtt": ["Table", "Arn"]}},
                    "Fn": {"Value": {"Ref": "Fn"}}}}
    values = {"Ref": "t", "Arn": "arn:t", "StreamArn": "arn:t/stream"}
    result, removed, unresolved = detached(template, {"Table": values}, frozenset({"Kept"}))
    assert "Table" not in result["Resources"] and removed == ["Name"]
    fn = result["Resources"]["Fn"]
    assert fn["DependsOn"] == ["Role"] and fn["Properties"]["Role"] == "arn:t"
    assert fn["Properties"]["Environment"]["Variables"] == {
        "TABLE": "t", "STREAM": {"Fn::Sub": "arn:t/stream|${AWS::Region}|${Other}"}}
    assert result["Outputs"] == {"Kept": {"Value": "arn:t"}, "Fn": {"Value": {"Ref": "Fn"}}}
    assert unresolved == ["Table.Unknown"]  # refused before any change


def test_retain_changes_only_the_policies_and_import_declares_only_what_must_match() -> None:
    template = {"Resources": {"A": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "a"}},
                              "B": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}}}
    with_retain = retained(template, ["A"])
    assert with_retain is not None and with_retain["Resources"]["B"] == template["Resources"]["B"]
    assert with_retain["Resources"]["A"] == {**template["Resources"]["A"], "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    assert retained(with_retain, ["A", "B"]) is None  # a re-run changes nothing
    table = {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Delete", "Properties": {
        "TableName": "t", "BillingMode": "PAY_PER_REQUEST", "SSESpecification": {"SSEEnabled": True},
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "email", "AttributeType": "S"}],
        "GlobalSecondaryIndexes": [{"IndexName": "E", "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}]}]}}
    declared, computed = import_resource(table, "us-east-1")
    assert computed == [] and (declared["DeletionPolicy"], declared["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert declared["Properties"] == {"TableName": "t", "BillingMode": "PAY_PER_REQUEST", "KeySchema": table["Properties"]["KeySchema"],
                                      "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Prefix}-q"}}}
    assert import_resource(queue, "us-east-1")[1] == ["QueueName"]  # names what the import will not hold: refused
    assert import_resource(queue, "us-east-1", frozenset({"Prefix"}))[1] == []  # a parameter the stack has
    group = {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {"GroupName": "Admins", "Precedence": 1,
                                                                  "UserPoolId": {"Ref": "Pool"}}}
    declared, computed = import_resource(group, "us-east-1", frozenset({"Pool"}))  # its pool is imported with it
    assert computed == [] and declared["Properties"] == {"GroupName": "Admins", "UserPoolId": {"Ref": "Pool"}}


def test_the_aws_path_is_pinned_call_by_call(tmp_path: Path) -> None:
    """What CloudFormation receives, with botocore's Stubber checking each request against the
    service's real shapes: (b) an update of the old stack keeping its parameters, then (c) an
    IMPORT change set creating our stack, the table imported by its name."""
    import boto3
    from botocore.stub import ANY, Stubber

    from compiler.delivery.deploy import Deployer

    out, artifacts = _spec(tmp_path, "pinned")
    deployer = Deployer(out, "dev", yes=True, echo=lambda _: None, artifacts=artifacts, poll=0)
    cfn = boto3.client("cloudformation", region_name=REGION)
    deployer.client = lambda service, region=None: cfn  # type: ignore[method-assign]
    stub = Stubber(cfn)
    old, ours = "pinned-infrastructure-dynamodb-dev", "pinned-dev-dynamodb"
    when = "2026-01-01T00:00:00Z"

    def stack(name: str, status: str, **extra: Any) -> dict[str, Any]:
        return {"Stacks": [{"StackName": name, "StackStatus": status, "CreationTime": when, **extra}]}

    def change_set(name: str, changes: list[tuple[str, str]]) -> None:
        stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "Changes": [
            {"Type": "Resource", "ResourceChange": {"Action": action, "LogicalResourceId": logical,
                                                    "ResourceType": "AWS::DynamoDB::Table"}} for action, logical in changes]},
            {"StackName": name, "ChangeSetName": ANY})
        stub.add_response("execute_change_set", {}, {"StackName": name, "ChangeSetName": ANY})

    removal = {"Resources": {"Other": {"Type": "AWS::SQS::Queue"}}}
    stub.add_response("describe_stacks", stack(old, "UPDATE_COMPLETE", Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}]),
                      {"StackName": old})
    stub.add_response("create_change_set", {"Id": "arn:cs/1"}, {
        "StackName": old, "ChangeSetName": ANY, "ChangeSetType": "UPDATE",
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        "Parameters": [{"ParameterKey": "Stage", "UsePreviousValue": True}],
        "TemplateBody": json.dumps(removal, indent=1, sort_keys=True)})
    change_set(old, [("Remove", "UsersTable")])
    stub.add_response("describe_stacks", stack(old, "UPDATE_COMPLETE"), {"StackName": old})
    stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": old})

    generated = json.loads((out / "dev" / "dynamodb.json").read_text())
    users = generated["Resources"]["UsersTable"]
    stub.add_client_error("describe_stacks", "ValidationError", f"Stack with id {ours} does not exist", expected_params={"StackName": ours})
    imported = {"AWSTemplateFormatVersion": "2010-09-09", "Description": generated["Description"], "Resources": {"UsersTable": {
        "Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": {
            "TableName": "pinned-dev-users", "BillingMode": "PAY_PER_REQUEST", "KeySchema": users["Properties"]["KeySchema"],
            "AttributeDefinitions": [{"AttributeName": "userId", "AttributeType": "S"}]}}}}
    stub.add_response("create_change_set", {"Id": "arn:cs/2"}, {
        "StackName": ours, "ChangeSetName": ANY, "ChangeSetType": "IMPORT", "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "ResourcesToImport": [{"ResourceType": "AWS::DynamoDB::Table", "LogicalResourceId": "UsersTable",
                               "ResourceIdentifier": {"TableName": "pinned-dev-users"}}],
        "TemplateBody": json.dumps(imported, indent=1, sort_keys=True)})
    change_set(ours, [("Import", "UsersTable")])
    stub.add_response("describe_stacks", stack(ours, "IMPORT_COMPLETE"), {"StackName": ours})
    stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": ours})

    table = Located("dynamodb", "UsersTable", "AWS::DynamoDB::Table", "pinned-dev-users", "adopt", "pinned-dev-users", old, "UsersTable")
    with stub:
        takeover = Takeover(deployer)
        takeover._update(old, REGION, removal, "(b) remove")
        takeover._import("dynamodb", [table])
        stub.assert_no_pending_responses()


def test_deploy_carries_a_table_moved_to_another_spec_file_with_its_items(endpoint: str, tmp_path: Path) -> None:
    """A table moved between two of our spec files: the review gate calls it a MOVE (no risk),
    and deploy carries it across (retain, remove, import) before any stack deploys."""
    from compiler.review.diff import compare
    from compiler.manifest import Manifest

    from tests.delivery.test_deploy import DATA, _platform

    data = DATA.replace("tables:\n", "tables:\n  archive: {hash_key: id:S}\n")  # a table no function reads
    out, artifacts = _platform(tmp_path, data=data, service="carried")
    lines: list[str] = []
    assert {r.status for r in LocalDeployer(out, "dev", endpoint_url=endpoint, yes=True, echo=lines.append,
                                            artifacts=artifacts, poll=0.01).deploy()} == {"created"}
    ddb = _client(endpoint, "dynamodb")
    for n in range(3):
        ddb.put_item(TableName="carried-dev-archive", Item={"id": {"S": f"a-{n}"}})
    arn = ddb.describe_table(TableName="carried-dev-archive")["Table"]["TableArn"]
    old = {s: json.loads((out / "dev" / f"{s}.json").read_text()) for s in ("data", "app")}
    old_manifest = Manifest.read(out, "dev")

    out, artifacts = _platform(tmp_path, data=DATA, service="carried", extra={"catalog.yaml": "tables:\n  archive: {hash_key: id:S}\n"})
    new = {s: json.loads((out / "dev" / f"{s}.json").read_text()) for s in ("data", "app", "catalog")}
    diff = compare("dev", "deployed", old, new, old_manifest, Manifest.read(out, "dev"))
    assert {(f.verdict, f.cause) for _, _, f in diff.findings()} == {("", "move between stacks")}

    lines = []
    results = LocalDeployer(out, "dev", endpoint_url=endpoint, yes=True, echo=lines.append, artifacts=artifacts, poll=0.01).deploy()
    # step (b) left the data stack as the spec has it: its deploy is "no changes"
    assert {r.stack: r.status for r in results} == {"data": "unchanged", "catalog": "updated", "app": "unchanged"}, lines
    assert "catalog/ArchiveTable: moves from carried-dev-data/ArchiveTable; carried across with its data" in lines
    assert ddb.describe_table(TableName="carried-dev-archive")["Table"]["TableArn"] == arn
    assert sorted(i["id"]["S"] for i in ddb.scan(TableName="carried-dev-archive")["Items"]) == ["a-0", "a-1", "a-2"]
    assert _holders(endpoint, "carried")["carried-dev-archive"] == ["carried-dev-catalog"]


def test_a_move_whose_export_is_imported_is_refused_before_any_change(endpoint: str, tmp_path: Path) -> None:
    from tests.delivery.test_deploy import DATA, _platform

    out, artifacts = _platform(tmp_path, service="pinnedex")
    assert {r.status for r in LocalDeployer(out, "dev", endpoint_url=endpoint, yes=True, echo=lambda _: None,
                                            artifacts=artifacts, poll=0.01).deploy()} == {"created"}
    _client(endpoint, "dynamodb").put_item(TableName="pinnedex-dev-items", Item={"id": {"S": "kept"}})
    moved = DATA.replace("tables:\n  items: {hash_key: id:S}\n", "")
    out, artifacts = _platform(tmp_path, data=moved, service="pinnedex", extra={"catalog.yaml": "tables:\n  items: {hash_key: id:S}\n"})
    deployer = LocalDeployer(out, "dev", endpoint_url=endpoint, yes=True, echo=lambda _: None, artifacts=artifacts, poll=0.01)
    from compiler.delivery.takeover import TakeoverError

    with pytest.raises(TakeoverError, match="nothing was changed: pinnedex-dev-table-items:.* cannot move while app import"):
        deployer.deploy()
    assert _holders(endpoint, "pinnedex")["pinnedex-dev-items"] == ["pinnedex-dev-data"]
    assert _client(endpoint, "dynamodb").scan(TableName="pinnedex-dev-items")["Items"] == [{"id": {"S": "kept"}}]


def test_a_key_is_found_by_its_alias_and_an_unmanaged_queue_compared_live(endpoint: str, tmp_path: Path) -> None:
    """A KMS key has no name: the plan finds it through the alias our template gives it, and
    the take-over carries key and alias into our stack with the key id, so what it encrypted
    still decrypts. An app client is found by name in its pool; a queue no stack holds is
    compared with what SQS says of it."""
    deployable(tmp_path, {
        "keys.yaml": "description: the stage key\nkeys:\n  main:\n    description: the stage key\n",
        "sqs.yaml": "description: queues\nqueues:\n  sync: {fifo: true, visibility_timeout: 5m}\n",
        "cognito.yaml": "description: users\nuser_pools:\n  main:\n    client: {flows: [refresh, admin-password]}\n"},
        platform=_dev("lbkey"), stage="dev", handlers={})  # no functions: nothing to package
    kms, sqs, idp = (_client(endpoint, s) for s in ("kms", "sqs", "cognito-idp"))
    cfn = _client(endpoint, "cloudformation")
    cfn.create_stack(StackName="lbkey-kms-dev", TemplateBody=json.dumps({"Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "old", "KeyPolicy": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]}}},
        "KeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/lbkey-dev-main", "TargetKeyId": {"Ref": "Key"}}}},
        "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}}}))
    key = kms.describe_key(KeyId="alias/lbkey-dev-main")["KeyMetadata"]["KeyId"]
    secret = kms.encrypt(KeyId=key, Plaintext=b"customer token")["CiphertextBlob"]
    sqs.create_queue(QueueName="lbkey-dev-sync.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"})
    runner = CliRunner()
    # a pool signing in by user name: ours signs in by e-mail, which Cognito cannot change
    wrong = idp.create_user_pool(PoolName="lbkey-dev-main")["UserPool"]["Id"]
    refused = runner.invoke(main, ["adopt", "--stage", "dev", "--endpoint-url", endpoint, "--out", str(tmp_path / "generated"),
                                   "--yes"])
    assert refused.exit_code == 4, refused.output
    assert 'BLOCKED: UsernameAttributes: [] -> ["email"]' in refused.output, refused.output
    assert cfn.describe_stack_resource(StackName="lbkey-kms-dev", LogicalResourceId="KeyAlias")  # nothing changed
    idp.delete_user_pool(UserPoolId=wrong)
    pool = idp.create_user_pool(PoolName="lbkey-dev-main", UsernameAttributes=["email"], MfaConfiguration="OPTIONAL")[
        "UserPool"]["Id"]
    app = idp.create_user_pool_client(UserPoolId=pool, ClientName="lbkey-dev-main-app")["UserPoolClient"]["ClientId"]

    planned = runner.invoke(main, ["adopt", "--stage", "dev", "--endpoint-url", endpoint, "--out", str(tmp_path / "generated"),
                                   "--format", "json"])
    assert planned.exit_code == 0, planned.output
    found = {r["logical_id"]: r for r in json.loads(planned.output)["resources"]}
    assert (found["MainKey"]["action"], found["MainKey"]["identifier"], found["MainKey"]["name"]) == (
        "adopt", key, "alias/lbkey-dev-main")
    assert found["MainKey"]["updates"] and found["MainKey"]["verdict"] is None  # description, policy: updated in place
    assert (found["MainKeyAlias"]["action"], found["MainKeyAlias"]["held_as"]) == ("adopt", "KeyAlias")
    assert found["MainUserPoolClient"]["identifier"] == f"{pool}|{app}" and found["MainUserPoolClient"]["action"] == "import"
    queue = next(r for r in found.values() if r["name"] == "lbkey-dev-sync.fifo")
    assert queue["action"] == "import" and "VisibilityTimeout: 30 -> 300" in queue["updates"], queue
    assert queue["replaces"] == [] and queue["compared"].startswith("its live configuration (ContentBasedDeduplication")

    lines: list[str] = []
    deployer = LocalDeployer(tmp_path / "generated", "dev", endpoint_url=endpoint, yes=True, echo=lines.append,
                             artifacts=tmp_path / "artifacts", poll=0.01)
    Takeover(deployer).run()
    held = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.list_stack_resources(StackName="lbkey-dev-keys")["StackResourceSummaries"]}
    assert (held["MainKey"], held["MainKeyAlias"]) == (key, "alias/lbkey-dev-main"), held
    assert "KeyAlias" not in json.dumps(cfn.get_template(StackName="lbkey-kms-dev")["TemplateBody"])
    assert kms.decrypt(CiphertextBlob=secret)["Plaintext"] == b"customer token"  # the same key, still usable
    assert sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="lbkey-dev-sync.fifo")["QueueUrl"],
                                    AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"] == "300"


def test_a_key_whose_spec_differs_is_blocked_not_replaced() -> None:
    from compiler.delivery.adopt import _compare

    replaces, updates = _compare({"KeySpec": "HMAC_256", "Description": "a"}, {"KeySpec": "SYMMETRIC_DEFAULT", "Description": "b"},
                                 "AWS::KMS::Key", "us-east-1")
    assert replaces == ('KeySpec: "HMAC_256" -> "SYMMETRIC_DEFAULT" (cannot be changed: the update fails)',)
    assert updates == ('Description: "a" -> "b"',)


def _queue(name: str, **extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", **extra, "Properties": {"QueueName": name}}


@pytest.mark.parametrize("change, why", [
    ({}, None),
    ({"Outputs": {"Url": {"Value": {"Ref": "Q"}}}}, "outputs of the holding stack name what leaves"),
    ({"Resources": {"Q": _queue("q"), "P": {"Type": "AWS::SSM::Parameter", "Properties": {"Value": {"Ref": "Q"}}}}},
     "P refer(s) to what leaves"),
    ({"Resources": {"Q": _queue("q")}}, "the holding stack would be left empty"),
    ({"Resources": {"Q": {**_queue("q"), "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-q"}}}, "O": _queue("o")}},
     "Q refers to other resources, parameters or conditions of the holding stack"),
    ({"Resources": {"Q": {**_queue("q"), "Properties": {"QueueName": {"Fn::Sub": "${AWS::Region}-q"}}}, "O": _queue("o")}}, None),
    ({"Resources": {"Q": _queue("q", DependsOn="O"), "O": _queue("o")}},
     "Q refers to other resources, parameters or conditions of the holding stack"),
    ({"Transform": "AWS::Serverless-2016-10-31"}, "the holding stack uses a transform"),
])
def test_one_stack_refactoring_moves_what_nothing_else_touches(change: dict[str, Any], why: str | None) -> None:
    from compiler.delivery.handover import refactorable

    template = {"Resources": {"Q": _queue("q"), "O": _queue("o")}, **change}
    assert refactorable(template, {"Q": ("ours", "SyncQueue")}, {"ours": {"Resources": {"X": _queue("x")}}}) == why
    assert refactorable({"Resources": {"Q": _queue("q"), "O": _queue("o")}}, {"Q": ("ours", "X")}, {}) == "ours is not deployed yet"
    assert refactorable({"Resources": {"Q": _queue("q"), "O": _queue("o")}}, {"Q": ("ours", "X")},
                        {"ours": {"Resources": {"X": _queue("x")}}}) == "ours/X is taken"


def test_the_refactoring_path_is_pinned_call_by_call(tmp_path: Path) -> None:
    """On AWS a move whose stacks allow it is one stack refactoring: the holder's template
    without the queue, ours with it exactly as the holder declared it, the mapping between
    the two logical ids; executed once CloudFormation accepts it. A refactoring refused at
    creation changes nothing, and the steps (a)-(c) follow."""
    import boto3
    from botocore.stub import Stubber

    from compiler.delivery.deploy import Deployer

    out, artifacts = _spec(tmp_path, "refac")
    deployer = Deployer(out, "dev", yes=True, echo=lambda _: None, artifacts=artifacts, poll=0)
    cfn = boto3.client("cloudformation", region_name=REGION)
    deployer.client = lambda service, region=None: cfn  # type: ignore[method-assign]
    old, ours = "refac-dev-legacy", "refac-dev-sqs"
    holder = {"Resources": {"Sync": _queue("refac-dev-sync.fifo"), "Other": _queue("refac-dev-other")}}
    deployed = {"Resources": {"SyncDlq": _queue("refac-dev-sync-dlq.fifo")}}
    leaving = [Located("sqs", "SyncQueue", "AWS::SQS::Queue", "refac-dev-sync.fifo", "move", "https://q/refac-dev-sync.fifo",
                       old, "Sync")]
    body = {"Resources": {"SyncDlq": deployed["Resources"]["SyncDlq"], "SyncQueue": holder["Resources"]["Sync"]}}
    stub = Stubber(cfn)
    for created in ("CREATE_COMPLETE", "CREATE_FAILED"):
        stub.add_response("create_stack_refactor", {"StackRefactorId": "r-1"}, {
            "Description": "platformc: Sync into our stacks",
            "StackDefinitions": [
                {"StackName": old, "TemplateBody": json.dumps({"Resources": {"Other": holder["Resources"]["Other"]}},
                                                              indent=1, sort_keys=True)},
                {"StackName": ours, "TemplateBody": json.dumps(body, indent=1, sort_keys=True)}],
            "ResourceMappings": [{"Source": {"StackName": old, "LogicalResourceId": "Sync"},
                                  "Destination": {"StackName": ours, "LogicalResourceId": "SyncQueue"}}]})
        stub.add_response("describe_stack_refactor", {"Status": "CREATE_IN_PROGRESS"}, {"StackRefactorId": "r-1"})
        stub.add_response("describe_stack_refactor", {"Status": created, "StatusReason": "no"}, {"StackRefactorId": "r-1"})
        if created == "CREATE_COMPLETE":
            stub.add_response("execute_stack_refactor", {}, {"StackRefactorId": "r-1"})
            for execution in ("EXECUTE_IN_PROGRESS", "EXECUTE_COMPLETE"):
                stub.add_response("describe_stack_refactor", {"Status": created, "ExecutionStatus": execution},
                                  {"StackRefactorId": "r-1"})
    with stub:
        takeover = Takeover(deployer)
        assert takeover._refactor(old, REGION, holder, leaving, {ours: deployed}) is True
        assert takeover._refactor(old, REGION, holder, leaving, {ours: deployed}) is False  # refused: (a)-(c) instead
        stub.assert_no_pending_responses()
