"""awstypes and updates: the facts table checked against the provider schemas cfn-lint
ships, and the classes a spec edit cannot reach, on hand-made templates."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from compiler.review import updates
from compiler.awstypes import FACTS, _schema_index, _schemas, create_only, schema_create_only
from compiler.review.diff import BLOCKED, DATA_LOSS, REPLACE, RETAINED, compare
from compiler.manifest import Manifest
from tests.conftest import REPO


def _schema(resource_type: str) -> dict[str, Any]:
    digest = _schema_index("us-east-1")[resource_type]
    return dict(json.loads((_schemas() / "resources" / f"{digest}.json").read_text()))


@pytest.mark.parametrize("resource_type", sorted(FACTS))
def test_facts_name_real_properties_and_add_only_what_the_schema_lacks(resource_type: str) -> None:
    facts = FACTS[resource_type]
    properties = _schema(resource_type)["properties"]
    for prop in facts.create_only:
        assert prop in properties, f"{resource_type}: no property {prop}"
        assert prop not in schema_create_only(resource_type), f"{resource_type}.{prop} is already createOnly upstream"
    if facts.name:
        assert facts.name.split(".")[0] in properties
    if facts.unique_in:
        parent, keys = facts.unique_in
        assert {parent, *keys} <= set(properties)
    assert facts.data is None or facts.source, f"{resource_type}: a data fact needs its source"


def test_every_type_the_compiler_emits_is_known_to_the_schemas() -> None:
    emitted = {
        r["Type"]
        for path in (REPO / "generated").glob("*/*.json")
        if path.name != "manifest.json"
        for r in json.loads(path.read_text())["Resources"].values()
    }
    assert emitted <= set(_schema_index("us-east-1"))
    assert {"KeySchema", "TableName"} <= create_only("AWS::DynamoDB::Table")
    assert "BillingMode" not in create_only("AWS::DynamoDB::Table")


POOL = {
    "Type": "AWS::Cognito::UserPool",
    "DeletionPolicy": "Delete",
    "UpdateReplacePolicy": "Delete",
    "Properties": {"UserPoolName": "x-dev-main", "UsernameConfiguration": {"CaseSensitive": False},
                   "Schema": [{"Name": "email", "Required": True, "Mutable": True, "AttributeDataType": "String"}]},
}
CLIENT = {"Type": "AWS::Cognito::UserPoolClient", "Properties": {"UserPoolId": {"Ref": "Pool"}, "ClientName": "app"}}
GROUP = {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {"UserPoolId": {"Ref": "Pool"}, "GroupName": "Admins"}}
OUTPUTS = {"PoolId": {"Value": {"Ref": "Pool"}, "Export": {"Name": "x-dev-pool:id"}}}


def _stage(resources: dict[str, Any]) -> dict[str, Any]:
    return {"auth": {"Resources": copy.deepcopy(resources), "Outputs": copy.deepcopy(OUTPUTS)}}


def _findings(diff: Any) -> set[tuple[str | None, str, str]]:
    return {(logical, f.verdict, f.cause) for _, logical, f in diff.findings()}


def test_case_sensitivity_replaces_the_pool_and_everything_hanging_off_it() -> None:
    old = _stage({"Pool": POOL, "Client": CLIENT, "Group": GROUP})
    new = copy.deepcopy(old)
    new["auth"]["Resources"]["Pool"]["Properties"]["UsernameConfiguration"] = {"CaseSensitive": True}
    manifest = {"exports": {"x-dev-pool:id": {"importers": ["api"]}}, "levels": [["auth"], ["api"]]}
    found = _findings(compare("dev", "x", old, new, Manifest.from_dict(manifest), Manifest.from_dict(manifest)))
    assert ("Pool", REPLACE, "create-only property") in found and ("Pool", DATA_LOSS, "data") in found
    assert ("Client", REPLACE, "cascade") in found and ("Group", REPLACE, "cascade") in found
    assert (None, BLOCKED, "export in use") in found  # the pool id changes under an importer
    assert not any(v == BLOCKED and c in ("name collision", "unique-in-parent collision") for _, v, c in found)


def test_optional_attribute_is_fine_but_changing_one_is_blocked() -> None:
    old = _stage({"Pool": POOL})
    added = copy.deepcopy(old)
    added["auth"]["Resources"]["Pool"]["Properties"]["Schema"].append(
        {"Name": "custom:tier", "AttributeDataType": "String", "Mutable": True})
    assert not compare("dev", "x", old, added, None, None).risky
    changed = copy.deepcopy(old)
    changed["auth"]["Resources"]["Pool"]["Properties"]["Schema"][0]["Mutable"] = False
    assert ("Pool", BLOCKED, "immutable schema") in _findings(compare("dev", "x", old, changed, None, None))


def test_a_renamed_alias_logical_id_collides_within_its_function() -> None:
    alias = {"Type": "AWS::Lambda::Alias", "Properties": {"FunctionName": {"Ref": "Fn"}, "Name": "live", "FunctionVersion": "1"}}
    fn = {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "x-dev-fn"}}
    old = {"s": {"Resources": {"Fn": fn, "FnAlias": alias}}}
    new = {"s": {"Resources": {"Fn": fn, "FnLiveAlias": alias}}}
    assert ("FnLiveAlias", BLOCKED, "unique-in-parent collision") in _findings(compare("dev", "x", old, new, None, None))


@pytest.mark.parametrize(("resource_type", "words"), [
    ("AWS::S3::Bucket", "if it holds its objects, the delete fails"),
    ("AWS::Backup::BackupVault", "if it holds its recovery points, the delete fails"),
    ("AWS::SecretsManager::Secret", "scheduled for deletion"),
    ("AWS::Events::Archive", "its archived events"),
])
def test_removing_a_resource_that_holds_data_says_what_happens(resource_type: str, words: str) -> None:
    old = {"s": {"Resources": {"R": {"Type": resource_type, "Properties": {}}, "K": {"Type": "AWS::SNS::Topic"}}}}
    new = {"s": {"Resources": {"K": {"Type": "AWS::SNS::Topic"}}}}
    (change,) = compare("dev", "x", old, new, None, None).stacks[0].resources
    assert change.verdicts == (DATA_LOSS,) and words in change.notes[0]
    old["s"]["Resources"]["R"]["DeletionPolicy"] = "Retain"
    assert compare("dev", "x", old, new, None, None).stacks[0].resources[0].verdicts == (RETAINED,)


def test_index_steps_delete_first_then_create_with_exact_attributes() -> None:
    def table(*indexes: tuple[str, str]) -> dict[str, Any]:
        attrs = {"id", *(a for _, a in indexes)}
        return {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attrs)],
                "GlobalSecondaryIndexes": [{"IndexName": n, "KeySchema": [{"AttributeName": a, "KeyType": "HASH"}],
                                            "Projection": {"ProjectionType": "ALL"}} for n, a in indexes]}

    old, new = table(("A", "a"), ("B", "b")), table(("B", "b2"), ("C", "c"))
    plan = updates.index_plan(old, new)
    assert (plan.removed, plan.redefined, plan.added, plan.operations) == (("A",), ("B",), ("C",), 4)
    steps = updates.table_steps(old, new)
    assert [[i["IndexName"] for i in s.get("GlobalSecondaryIndexes", [])] for s in steps] == [["B"], [], ["B"], ["B", "C"]]
    assert [sorted(a["AttributeName"] for a in s["AttributeDefinitions"]) for s in steps] == [
        ["b", "id"], ["id"], ["b2", "id"], ["b2", "c", "id"]]
    assert steps[-1] == new and updates.table_steps(old, table(("A", "a"), ("B", "b"), ("C", "c"))) == [
        table(("A", "a"), ("B", "b"), ("C", "c"))]
