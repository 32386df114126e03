"""tables: spec fragment -> DynamoDB table properties, safe defaults per stage."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import compile_spec, errors_of, resource

JOBS = """\
tables:
  jobs:
    hash_key: jobId:S
    ttl: expiresAt
    stream: new_and_old_images
    indexes:
      StatusTimeIndex: {hash_key: status:S, range_key: createdAt:S}
      AccountIndex: {hash_key: accountId:S, projection: keys_only}
      ByUser: {hash_key: userId:S, projection: [title, size]}
"""


def test_keys_indexes_ttl_stream(tmp_path: Path) -> None:
    props = resource(compile_spec(tmp_path, {"t.yaml": JOBS}), "dev", "t", "JobsTable")["Properties"]
    assert props["TableName"] == "listbackup-dev-jobs"
    assert props["KeySchema"] == [{"AttributeName": "jobId", "KeyType": "HASH"}]
    assert [a["AttributeName"] for a in props["AttributeDefinitions"]] == [
        "accountId", "createdAt", "jobId", "status", "userId",
    ]  # derived from the keys only, sorted
    assert [i["IndexName"] for i in props["GlobalSecondaryIndexes"]] == ["AccountIndex", "ByUser", "StatusTimeIndex"]
    by_name = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    assert by_name["AccountIndex"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert by_name["ByUser"]["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["size", "title"]}
    assert by_name["StatusTimeIndex"]["KeySchema"][1] == {"AttributeName": "createdAt", "KeyType": "RANGE"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_safe_defaults_depend_on_the_stage(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"t.yaml": "tables:\n  users: {hash_key: userId:S}\n"})
    dev = resource(result, "dev", "t", "UsersTable")
    prod = resource(result, "prod", "t", "UsersTable")
    for table in (dev, prod):
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert {"Key": "Service", "Value": "listbackup"} in table["Properties"]["Tags"]
    assert (dev["DeletionPolicy"], dev["UpdateReplacePolicy"]) == ("Delete", "Delete")
    assert (prod["DeletionPolicy"], prod["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert dev["Properties"]["DeletionProtectionEnabled"] is False
    assert prod["Properties"]["DeletionProtectionEnabled"] is True
    assert {"Key": "Stage", "Value": "prod"} in prod["Properties"]["Tags"]


def test_turning_off_pitr_needs_a_reason(tmp_path: Path) -> None:
    spec = "tables:\n  cache:\n    hash_key: k:S\n    point_in_time_recovery: false\n"
    assert "'point_in_time_recovery: false' turns off a safe default" in errors_of(tmp_path, {"t.yaml": spec})
    spec += "    reasons: {point_in_time_recovery: a cache rebuilt from the source in minutes}\n"
    props = resource(compile_spec(tmp_path, {"t.yaml": spec}), "prod", "t", "CacheTable")["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}


def test_provisioned_billing(tmp_path: Path) -> None:
    spec = "tables:\n  t:\n    hash_key: k:S\n    billing: provisioned\n    capacity: {read: 5, write: 2}\n"
    spec += "    indexes:\n      ByX: {hash_key: x:S}\n"
    props = resource(compile_spec(tmp_path, {"t.yaml": spec}), "dev", "t", "TTable")["Properties"]
    assert props["BillingMode"] == "PROVISIONED"
    assert props["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 2}
    assert props["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"] == props["ProvisionedThroughput"]


def test_table_checks(tmp_path: Path) -> None:
    spec = """\
tables:
  a:
    hash_key: id:S
    indexes:
      ById: {hash_key: id:N}
  b:
    hash_key: id:S
    billing: provisioned
  c:
    hash_key: id:S
    indexes:
      Idx: {hash_key: x:S, projection: [id]}
"""
    out = errors_of(tmp_path, {"t.yaml": spec})
    assert "spec/t.yaml:5:24: error[E207]: attribute 'id' is typed S elsewhere in this table" in out
    assert "spec/t.yaml:8:14: error[E207]: provisioned billing needs `capacity: {read: N, write: N}`" in out
    assert "error[E207]: 'id' is a key attribute: it is always projected" in out
