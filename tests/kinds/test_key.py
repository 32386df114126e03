"""keys: the stage key encrypts what holds the stage's data, and every role may use exactly
what its access needs; the key policy admits exactly the services the stage uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import compile_spec, errors_of, platform, template

KEYS = "keys:\n  main: {description: the stage key}\n"
DATA = """\
tables:
  users: {hash_key: userId:S}
  cache: {hash_key: k:S, encryption: aws_owned}
queues:
  jobs: {fifo: true, visibility_timeout: 2m}
secrets:
  api-keys: {}
topics:
  alarms: {}
backup_plans:
  daily: {kinds: [table]}
"""
APP = """\
functions:
  reader: {handler: h.f, access: {table:users: read}}
  sender: {handler: h.f, access: {queue:jobs: send, secret:api-keys: read}}
  worker: {handler: h.f, timeout: 20s, consumes: {queue: queue:jobs}}
"""
SETTINGS = platform("{protect: false}", "{protect: true, kms: main, alarms: {topic: alarms}}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def f(e, c):\n    return 1\n")
    return tmp_path


def _resources(root: Path, stage: str) -> dict[str, dict[str, Any]]:
    result = compile_spec(root, {"keys.yaml": KEYS, "data.yaml": DATA, "app.yaml": APP}, platform=SETTINGS)
    found: dict[str, dict[str, Any]] = {}
    for stack in ("keys", "data", "app"):
        found.update(template(result, stage, stack)["Resources"])
    return found


KEY = {"Fn::ImportValue": "listbackup-prod-key-main:arn"}


def _key_actions(resources: dict[str, dict[str, Any]], role: str) -> list[str]:
    statements = resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [key] = [s for s in statements if s.get("Sid") == "StageKey"]
    assert key["Resource"] == [KEY]
    return key["Action"]


def test_the_stage_key_encrypts_the_stages_data(root: Path) -> None:
    prod = _resources(root, "prod")
    assert prod["UsersTable"]["Properties"]["SSESpecification"] == {"KMSMasterKeyId": KEY, "SSEEnabled": True, "SSEType": "KMS"}
    assert prod["CacheTable"]["Properties"]["SSESpecification"] == {"SSEEnabled": False}  # said so: aws_owned
    for queue in ("JobsQueue", "JobsQueueDlq"):
        assert prod[queue]["Properties"]["KmsMasterKeyId"] == KEY and "SqsManagedSseEnabled" not in prod[queue]["Properties"]
    assert prod["ApiKeysSecret"]["Properties"]["KmsKeyId"] == KEY
    assert prod["AlarmsTopic"]["Properties"]["KmsMasterKeyId"] == KEY
    assert prod["DailyBackupPlanVault"]["Properties"]["EncryptionKeyArn"] == KEY
    assert prod["ReaderFunction"]["Properties"]["KmsKeyArn"] == KEY
    assert prod["ReaderFunctionLogs"]["Properties"]["KmsKeyId"] == KEY
    # exactly what each role's access needs of the key, and Decrypt for its own environment
    assert _key_actions(prod, "ReaderFunctionRole") == ["kms:Decrypt"]
    assert _key_actions(prod, "SenderFunctionRole") == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert _key_actions(prod, "WorkerFunctionRole") == ["kms:Decrypt"]
    backup = prod["DailyBackupPlanRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
    assert backup["Resource"] == [KEY]

    dev = _resources(root, "dev")  # no `kms:` in dev: the AWS managed keys, and no key statements
    assert dev["UsersTable"]["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    assert dev["JobsQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert "KmsKeyArn" not in dev["ReaderFunction"]["Properties"] and "KmsKeyId" not in dev["ReaderFunctionLogs"]["Properties"]
    assert not any(s.get("Sid") == "StageKey" for r in dev.values() if r["Type"] == "AWS::IAM::Role"
                   for p in r["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"])


def test_the_key_policy_admits_the_stages_roles_through_its_services_and_the_services_it_feeds(root: Path) -> None:
    key = _resources(root, "prod")["MainKey"]
    assert key["DeletionPolicy"] == "Retain" and key["Properties"]["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    assert set(statements) == {"AccountAdministers", "StageRolesUseThroughServices", "StageLogGroups", "CloudWatchAlarmsToTopic"}
    admin = statements["AccountAdministers"]["Action"]
    assert "kms:PutKeyPolicy" in admin and not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"} & set(admin)
    use = statements["StageRolesUseThroughServices"]["Condition"]
    assert use["ArnLike"]["aws:PrincipalArn"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/listbackup-prod-*"}
    services = {s["Fn::Sub"].split(".")[0] for s in use["StringEquals"]["kms:ViaService"]}
    assert services == {"backup", "dynamodb", "lambda", "secretsmanager", "sns", "sqs"}
    logs = statements["StageLogGroups"]["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert all("listbackup-prod-*" in group["Fn::Sub"] for group in logs)
    alias = _resources(root, "prod")["MainKeyAlias"]["Properties"]
    assert alias["AliasName"] == "alias/listbackup-prod-main"


def test_a_stage_key_that_is_not_declared_or_is_off_is_an_error(root: Path) -> None:
    out = errors_of(root, {"data.yaml": DATA, "app.yaml": APP}, platform=SETTINGS)
    assert "spec/platform.yaml:6:30: error[E305]: stage prod encrypts with key:main, which no spec declares" in out
    off = KEYS + "    stages: {prod: {enabled: false}}\n"
    out = errors_of(root, {"keys.yaml": off.replace("main: {description: the stage key}", "main:\n    description: the stage key"),
                           "data.yaml": DATA, "app.yaml": APP}, platform=SETTINGS)
    assert "error[E207]: stage prod encrypts with key:main, which is disabled in that stage" in out
