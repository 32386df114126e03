"""The local platform follows the gate (compiler/local/inplace.py): moto updates no table in a
stack, so the emulator refuses what CloudFormation would fail (a custom-named table replaced
for a new key) and makes a table's in-place changes through DynamoDB, never printing
"updated" over a table that kept its old shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.local.emulator import LocalDeployer
from compiler.local.inplace import plan
from tests.delivery.test_deploy import DATA, _client, _platform

pytestmark = pytest.mark.usefixtures("local_credentials")


def _deploy(tmp_path: Path, data: str, endpoint: str, lines: list[str]) -> dict[str, str]:
    out, artifacts = _platform(tmp_path, data=data, service="inplace")
    deployer = LocalDeployer(out, "dev", endpoint_url=endpoint, yes=True, allow_risk=True, echo=lines.append,
                             artifacts=artifacts, poll=0.01)
    return {r.stack: f"{r.status}: {r.detail}" for r in deployer.deploy()}


def test_a_key_change_is_refused_and_an_index_is_made(endpoint: str, tmp_path: Path) -> None:
    lines: list[str] = []
    assert _deploy(tmp_path, DATA, endpoint, lines)["data"].startswith("created")
    ddb = _client(endpoint, "dynamodb")
    ddb.put_item(TableName="inplace-dev-items", Item={"id": {"S": "kept"}})

    rekeyed = _deploy(tmp_path, DATA.replace("hash_key: id:S", "hash_key: itemId:S"), endpoint, lines)
    assert rekeyed["data"].startswith("failed: data: ItemsTable (AWS::DynamoDB::Table) would be replaced (KeySchema"), rekeyed
    assert "custom-named resource" in rekeyed["data"] and "`platformc down` then `platformc up`" in rekeyed["data"]
    table = ddb.describe_table(TableName="inplace-dev-items")["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["id"]  # nothing changed, and nothing said it did
    assert ddb.get_item(TableName="inplace-dev-items", Key={"id": {"S": "kept"}})["Item"]

    indexed = DATA.replace("items: {hash_key: id:S}", "items: {hash_key: id:S, indexes: {ByOwner: {hash_key: owner:S}}, stream: new_image}")
    assert _deploy(tmp_path, indexed, endpoint, lines)["data"].startswith("updated"), lines
    table = ddb.describe_table(TableName="inplace-dev-items")["Table"]
    assert [i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])] == ["ByOwner"]
    assert table["StreamSpecification"]["StreamEnabled"] is True
    assert "data: emulator: inplace-dev-items: index ByOwner created" in lines


def test_what_the_emulator_cannot_apply_is_named() -> None:
    old = {"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": "t", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "SSESpecification": {"SSEEnabled": False}}}}}
    new = {"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": "t", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "SSESpecification": {"SSEEnabled": True}}}}}
    needs = plan(old, new, "us-east-1")
    assert needs.refused == [] and needs.unapplied == ["T.SSESpecification"]
