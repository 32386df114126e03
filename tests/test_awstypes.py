"""awstypes and updates: the facts table checked against the provider schemas cfn-lint
ships, and the classes a spec edit cannot reach, on hand-made templates."""

from __future__ import annotations

import copy
import json
import re
import subprocess
from typing import Any

import pytest

from compiler.review import updates
from compiler.awstypes import FACTS, _schema_index, _schemas, create_only, reference, schema_create_only, update_fails
from compiler.review.diff import BLOCKED, DATA_LOSS, RETAINED, compare
from compiler.manifest import Manifest
from tests.conftest import REPO


def _schema(resource_type: str) -> dict[str, Any]:
    digest = _schema_index("us-east-1")[resource_type]
    return dict(json.loads((_schemas() / "resources" / f"{digest}.json").read_text()))


@pytest.mark.parametrize("resource_type", sorted(FACTS))
def test_facts_name_real_properties_and_add_only_what_the_schema_lacks(resource_type: str) -> None:
    facts = FACTS[resource_type]
    properties = _schema(resource_type)["properties"]
    listed = reference(resource_type)
    for prop in (*facts.create_only, *facts.fails):
        assert prop in properties, f"{resource_type}: no property {prop}"
        assert prop not in schema_create_only(resource_type), f"{resource_type}.{prop} is already createOnly upstream"
        assert prop not in (listed.get("replacement") or {}) and prop not in (listed.get("fails") or {}), (
            f"{resource_type}.{prop}: the resource reference says so already")
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


def test_case_sensitivity_cannot_be_updated_so_the_update_fails_rather_than_replacing() -> None:
    """The reference: "This configuration is immutable once it has been set": CloudFormation
    fails the update, it does not replace the pool (nor its client and groups)."""
    old = _stage({"Pool": POOL, "Client": CLIENT, "Group": GROUP})
    new = copy.deepcopy(old)
    new["auth"]["Resources"]["Pool"]["Properties"]["UsernameConfiguration"] = {"CaseSensitive": True}
    manifest = {"exports": {"x-dev-pool:id": {"importers": ["api"]}}, "levels": [["auth"], ["api"]]}
    found = _findings(compare("dev", "x", old, new, Manifest.from_dict(manifest), Manifest.from_dict(manifest)))
    assert found == {("Pool", BLOCKED, "cannot be updated")}


def test_a_kms_keys_spec_is_blocked_not_replaced() -> None:
    key = {"Type": "AWS::KMS::Key", "Properties": {"KeySpec": "SYMMETRIC_DEFAULT", "Description": "k"}}
    old = {"keys": {"Resources": {"Key": key}}}
    new = copy.deepcopy(old)
    new["keys"]["Resources"]["Key"]["Properties"]["KeySpec"] = "RSA_2048"
    found = _findings(compare("prod", "x", old, new, Manifest(), Manifest()))
    assert found == {("Key", BLOCKED, "cannot be updated")}
    assert {"KeySpec", "KeyUsage", "MultiRegion", "Origin"} <= update_fails("AWS::KMS::Key")
    assert "KeySpec" not in create_only("AWS::KMS::Key")


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


# ------------------------------------------------------------------ the resource reference
# compiler/data/cfn_update_reference.json holds what CloudFormation's resource reference says
# beyond the provider schemas, for every type the compiler emits. It is extracted from the
# reference's source (awsdocs/aws-cloudformation-user-guide, archived with its last update)
# by `pytest tests/test_awstypes.py --update-reference=<clone>`; each entry keeps its quote.
REFERENCE_COMMIT = "19dc52cd3f2007d6d268b65b739ffb5ebf8c1e76"
FAILS = re.compile(r"property cannot be updated|update request fails|cannot change the \w+ after you create|"
                   r"immutable once it has been set")


def _emitted() -> set[str]:
    return {r["Type"] for path in (REPO / "generated").glob("*/*.json") if path.name != "manifest.json"
            for r in json.loads(path.read_text())["Resources"].values()}


def _page(clone: str, resource_type: str) -> tuple[str, str]:
    _, service, resource = resource_type.lower().split("::")
    for kind in ("resource", "properties"):
        page = f"doc_source/aws-{kind}-{service}-{resource}.md"
        shown = subprocess.run(["git", "show", f"{REFERENCE_COMMIT}:{page}"], cwd=clone, capture_output=True, text=True)
        if shown.returncode == 0:
            return page, shown.stdout
    found = subprocess.run(["git", "grep", "-l", f"^# {resource_type}<", REFERENCE_COMMIT, "--", "doc_source"], cwd=clone,
                           capture_output=True, text=True).stdout.split()
    assert found, f"no reference page for {resource_type}"
    page = found[0].split(":", 1)[1]
    return page, subprocess.run(["git", "show", found[0]], cwd=clone, capture_output=True, text=True, check=True).stdout


def _extract(clone: str) -> dict[str, Any]:
    types: dict[str, Any] = {}
    for resource_type in sorted(_emitted()):
        page, text = _page(clone, resource_type)
        section = text.split("## Properties", 1)[1].split("## Return values", 1)[0]
        parts = re.split(r"\n`([A-Za-z0-9]+)`  <a name=", section)
        entry: dict[str, Any] = {"page": page, "replacement": {}, "fails": {}}
        for prop, body in zip(parts[1::2], parts[2::2]):
            lines = [line.strip() for line in body.splitlines()]
            if "*Update requires*: [Replacement]" in body and prop not in schema_create_only(resource_type):
                entry["replacement"][prop] = next(line for line in lines if line.startswith("*Update requires*"))
            if found := next((line for line in lines if FAILS.search(line)), None):
                entry["fails"][prop] = found.replace("\\", "")
        types[resource_type] = entry
    return {"source": f"awsdocs/aws-cloudformation-user-guide@{REFERENCE_COMMIT}", "types": types}


def test_the_reference_covers_every_emitted_type_and_adds_only_what_the_schemas_lack(request: pytest.FixtureRequest) -> None:
    path = REPO / "compiler" / "data" / "cfn_update_reference.json"
    if clone := request.config.getoption("--update-reference"):
        path.write_text(json.dumps(_extract(clone), indent=1, sort_keys=True) + "\n")
    data = json.loads(path.read_text())
    assert _emitted() <= set(data["types"]), sorted(_emitted() - set(data["types"]))
    for resource_type, entry in data["types"].items():
        properties = _schema(resource_type)["properties"]
        for prop, quote in entry["replacement"].items():
            assert prop in properties and "Replacement" in quote
            assert prop not in schema_create_only(resource_type), f"{resource_type}.{prop} is createOnly upstream already"
            assert prop in create_only(resource_type) or prop in update_fails(resource_type)
        for prop, quote in entry["fails"].items():
            assert prop in properties and FAILS.search(quote), (resource_type, prop, quote)
            assert prop in update_fails(resource_type) and prop not in create_only(resource_type)
