"""diff: a fixture history (spec v1 committed, v2 in the work tree) for each verdict."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import EXIT_RISK, main
from compiler.awstypes import create_only
from compiler.review.diff import BLOCKED, BROADENS, DATA_LOSS, REPLACE, RETAINED, compare, property_changes
from compiler.review.diff_render import text as render_text
from compiler.manifest import Manifest
from tests.conftest import write_spec

TABLES = "tables:\n  users: {hash_key: userId:S}\n  jobs: {hash_key: jobId:S}\n"
QUEUES = "queues:\n  alert: {fifo: true}\n"
EVENTS = "buses:\n  events:\n    rules:\n      errors: {pattern: {source: [x]}, targets: [queue:alert]}\n"
EVENTS_NO_TARGET = "buses:\n  events:\n    rules:\n      errors: {pattern: {source: [x]}}\n"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Commit a compiled v1 spec; return a function that writes v2 and runs `platformc diff`."""
    monkeypatch.chdir(tmp_path)

    def start(files: dict[str, str]) -> None:
        write_spec(tmp_path, files)
        assert CliRunner().invoke(main, ["compile", "--stage", "all"]).exit_code == 0
        _git(tmp_path, "init", "-q")
        _git(tmp_path, "add", "-A")
        _git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "v1")

    def change(files: dict[str, str | None], *args: str):
        for name, text in files.items():
            path = tmp_path / "spec" / name
            path.unlink() if text is None else path.write_text(text)
        result = CliRunner().invoke(main, ["diff", "--format", "json", *args])
        return result.exit_code, json.loads(result.output) if result.output.startswith("{") else result.output

    return start, change


def _resource(report: dict, stage: str, logical: str) -> dict:
    diff = next(d for d in report["diffs"] if d["stage"] == stage)
    return next(r for s in diff["stacks"] for r in s["resources"] if r["logical_id"] == logical)


def _stack(report: dict, stage: str, stack: str) -> dict:
    diff = next(d for d in report["diffs"] if d["stage"] == stage)
    return next(s for s in diff["stacks"] if s["stack"] == stack)


def test_hash_key_change_replaces_loses_data_and_is_blocked(history) -> None:
    start, change = history
    start({"dynamodb.yaml": TABLES})
    code, report = change({"dynamodb.yaml": TABLES.replace("userId:S", "id:S")}, "--stage", "all")
    assert code == EXIT_RISK
    dev = _resource(report, "dev", "UsersTable")
    assert dev["verdicts"] == [REPLACE, DATA_LOSS, BLOCKED]
    assert dev["source"] == "spec/dynamodb.yaml#tables.users"
    assert any(c["path"] == "KeySchema.id" and c["replaces"] for c in dev["changes"])
    assert "keeps its custom name (TableName listbackup-dev-users)" in " ".join(dev["notes"])
    prod = _resource(report, "prod", "UsersTable")
    assert prod["verdicts"] == [REPLACE, RETAINED, BLOCKED]  # Retain in prod: the data survives


def test_removed_table(history) -> None:
    start, change = history
    start({"dynamodb.yaml": TABLES})
    code, report = change({"dynamodb.yaml": "tables:\n  jobs: {hash_key: jobId:S}\n"}, "--stage", "all")
    assert code == EXIT_RISK
    assert _resource(report, "dev", "UsersTable")["verdicts"] == [DATA_LOSS]
    assert _resource(report, "prod", "UsersTable")["verdicts"] == [RETAINED]


def test_removed_export_still_imported_is_blocked(history) -> None:
    start, change = history
    start({"sqs.yaml": QUEUES, "events.yaml": EVENTS})
    code, report = change({"events.yaml": EVENTS_NO_TARGET})
    assert code == EXIT_RISK
    sqs = _stack(report, "dev", "sqs")
    assert sqs["verdicts"] == [BLOCKED]
    assert "export listbackup-dev-queue-alert:arn is removed while events still import(s) it" in sqs["notes"][0]
    assert "Deploy events first (without the import), then sqs" in sqs["notes"][0]


def test_removed_stack_that_others_import_from_is_blocked(history) -> None:
    start, change = history
    start({"sqs.yaml": QUEUES, "events.yaml": EVENTS, "dynamodb.yaml": TABLES})
    code, report = change({"sqs.yaml": None, "events.yaml": EVENTS_NO_TARGET})
    assert code == EXIT_RISK
    sqs = _stack(report, "dev", "sqs")
    assert sqs["action"] == "remove" and BLOCKED in sqs["verdicts"]
    assert "deploy events first so they release it, then delete sqs" in " ".join(sqs["notes"])
    assert _resource(report, "dev", "AlertQueue")["verdicts"] == [DATA_LOSS]


def test_safe_change_exits_zero_with_the_property_path(history) -> None:
    start, change = history
    start({"sqs.yaml": QUEUES})
    code, report = change({"sqs.yaml": "queues:\n  alert: {fifo: true, visibility_timeout: 2m, tags: {Team: ops}}\n"})
    assert code == 0
    queue = _resource(report, "dev", "AlertQueue")
    assert queue["verdicts"] == [] and queue["action"] == "modify"
    assert {"path": "VisibilityTimeout", "old": 30, "new": 120, "replaces": False} in queue["changes"]


def test_additions_and_allow_risk(history) -> None:
    start, change = history
    start({"dynamodb.yaml": TABLES})
    code, report = change({"sqs.yaml": QUEUES, "dynamodb.yaml": "tables:\n  jobs: {hash_key: jobId:S}\n"}, "--allow-risk")
    assert code == 0  # the data loss is still reported
    assert _stack(report, "dev", "sqs")["action"] == "add"
    assert _resource(report, "dev", "UsersTable")["verdicts"] == [DATA_LOSS]


def test_text_and_markdown(history) -> None:
    start, change = history
    start({"dynamodb.yaml": TABLES})
    (Path("spec") / "dynamodb.yaml").write_text(TABLES.replace("userId:S", "id:S"))
    text = CliRunner().invoke(main, ["diff", "--no-color"]).output
    assert "~ UsersTable AWS::DynamoDB::Table  (spec/dynamodb.yaml#tables.users) REPLACE DATA LOSS BLOCKED" in text
    assert "KeySchema.id: (none) -> {\"AttributeName\":\"id\",\"KeyType\":\"HASH\"}  [replaces]" in text
    markdown = CliRunner().invoke(main, ["diff", "--format", "markdown"]).output
    assert markdown.startswith("## Infrastructure diff")
    assert "| ~ | `dynamodb` | `UsersTable` | `AWS::DynamoDB::Table` | **REPLACE** **DATA LOSS** **BLOCKED** |" in markdown


def test_unknown_ref_is_a_usage_error(history) -> None:
    start, _ = history
    start({"sqs.yaml": QUEUES})
    result = CliRunner().invoke(main, ["diff", "--against", "no-such-ref"])
    assert result.exit_code == 2 and "unknown git ref 'no-such-ref'" in result.output


def test_unnamed_replacement_changes_an_imported_export() -> None:
    old = {
        "p": {
            "Resources": {"Client": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {"GenerateSecret": False}}},
            "Outputs": {"ClientId": {"Value": {"Ref": "Client"}, "Export": {"Name": "x-client:id"}}},
        }
    }
    new = json.loads(json.dumps(old))
    new["p"]["Resources"]["Client"]["Properties"]["GenerateSecret"] = True
    manifest = {"exports": {"x-client:id": {"importers": ["c"]}}}
    diff = compare("dev", "HEAD", old, new, Manifest.from_dict(manifest), Manifest.from_dict(manifest))
    (stack,) = diff.stacks
    assert stack.verdicts == (BLOCKED,)
    assert "changes value (its resource is replaced) while c import(s) it" in stack.notes[0]
    assert stack.resources[0].verdicts == (REPLACE,)  # no custom name: replaceable, not data


def test_an_unnamed_resource_moved_to_another_stack_gets_a_new_id_and_its_importers_follow() -> None:
    """A key with no custom name moves to a new stack: it is made anew there, so the vault that
    imports its ARN into a create-only property is replaced too (the cascade across stacks)."""
    key = {"Type": "AWS::KMS::Key", "Properties": {"Description": "stage key"}}
    export = {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}, "Export": {"Name": "x-key-main:arn"}}}
    vault = {"Vault": {"Type": "AWS::Backup::BackupVault", "Properties": {
        "BackupVaultName": "x-vault", "EncryptionKeyArn": {"Fn::ImportValue": "x-key-main:arn"}}}}
    old = {"secrets": {"Resources": {"Key": key, "Other": {"Type": "AWS::SNS::Topic"}}, "Outputs": export},
           "dr": {"Resources": vault}}
    new = {"secrets": {"Resources": {"Other": {"Type": "AWS::SNS::Topic"}}}, "kms": {"Resources": {"Key": key}, "Outputs": export},
           "dr": {"Resources": vault}}
    manifest = Manifest.from_dict({"exports": {"x-key-main:arn": {"importers": ["dr"]}},
                                   "levels": [["kms", "secrets"], ["dr"]]})
    diff = compare("prod", "HEAD", old, new, manifest, manifest)
    dr = next(s for s in diff.stacks if s.stack == "dr")
    assert dr.resources[0].verdicts[0] == REPLACE
    assert any("EncryptionKeyArn takes a new value: export x-key-main:arn is replaced" in f.message
               for _, _, f in diff.findings())


def test_create_only_comes_from_the_provider_schemas_plus_known_cases() -> None:
    assert {"QueueName", "FifoQueue"} <= create_only("AWS::SQS::Queue")
    assert {"TableName", "KeySchema"} <= create_only("AWS::DynamoDB::Table")  # KeySchema: ours
    assert "BillingMode" not in create_only("AWS::DynamoDB::Table")


def test_risks_come_first_with_their_reasons_in_every_format(history) -> None:
    """A reviewer reads the risks before any detail: text, Markdown (not folded) and JSON."""
    start, change = history
    start({"dynamodb.yaml": TABLES})
    (Path("spec") / "dynamodb.yaml").write_text(TABLES.replace("userId:S", "id:S"))
    text = CliRunner().invoke(main, ["diff", "--no-color"]).output.splitlines()
    first_stack = next(i for i, line in enumerate(text) if line.startswith("~ stack "))
    risks = [line for line in text[:first_stack] if line.startswith("    ")]
    assert {line.split()[0] for line in risks} == {REPLACE, BLOCKED, "DATA"}  # "DATA LOSS" splits in two
    assert all("dynamodb/UsersTable (" in line and ": " in line for line in risks)
    markdown = CliRunner().invoke(main, ["diff", "--format", "markdown"]).output
    head = markdown.split("<details>")[0]  # before anything folded
    assert "### Risks (" in head and "- **BLOCKED** `dev` `dynamodb/UsersTable`" in head and "| | stack |" not in head
    code, report = change({}, "--stage", "dev")
    assert code == EXIT_RISK
    assert {r["verdict"] for r in report["risks"]} >= {REPLACE, DATA_LOSS, BLOCKED}
    assert all(r["where"] == "dynamodb/UsersTable" and r["note"] for r in report["risks"])


SHARED = (
    "functions:\n"
    "  reader:\n    handler: h.f\n    access: &shared {table:users: read}\n"
    "  lister:\n    handler: h.f\n    access: *shared\n"
    "  writer:\n    handler: h.f\n    access: {table:users: write}\n"
)


def test_widened_access_is_broadens_with_the_functions_and_actions_in_full(history, tmp_path: Path) -> None:
    """A shared YAML anchor widened: both functions are named with every action they gain,
    risks first, exit 4 (the reviewer's label approves it); narrowing another stays quiet."""
    start, change = history
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def f(event, context):\n    return 1\n")
    start({"dynamodb.yaml": TABLES, "app.yaml": SHARED})
    widened = SHARED.replace("&shared {table:users: read}", "&shared {table:users: read-write}").replace(
        "{table:users: write}", "{table:users: write, table:jobs: write}")
    code, report = change({"app.yaml": widened}, "--stage", "dev")
    assert code == EXIT_RISK
    broadens = [r for r in report["risks"] if r["verdict"] == BROADENS]
    assert sorted(r["where"] for r in broadens) == ["app/ListerFunctionRole", "app/ReaderFunctionRole", "app/WriterFunctionRole"]
    reader = next(r for r in broadens if r["where"] == "app/ReaderFunctionRole")["note"]
    assert "function listbackup-dev-reader gains: Allow " in reader
    for action in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
        assert action in reader  # in full, never cut
    assert "dynamodb:GetItem" not in reader.split("Fix:")[0]  # held before: not a gain
    writer = next(r for r in broadens if r["where"] == "app/WriterFunctionRole")["note"]
    assert "${import:listbackup-dev-table-jobs:arn}" in writer and "table-users" not in writer.split("Fix:")[0]
    assert change({}, "--stage", "dev", "--allow-risk")[0] == 0
    text = CliRunner().invoke(main, ["diff", "--stage", "dev", "--no-color"]).output
    assert text.splitlines()[1].startswith("  risks (3)") and "BROADENS 3" in text
    code, report = change({"app.yaml": SHARED.replace("    access: *shared\n", "")}, "--stage", "dev")
    assert code == 0 and report["risks"] == []  # the lister loses its reads: narrower
    code, report = change({"app.yaml": SHARED.replace("{table:users: write}", "{table:users: read}")}, "--stage", "dev")
    assert [r["where"] for r in report["risks"]] == ["app/WriterFunctionRole"]  # write -> read: reads are new


def test_added_resources_show_key_properties_and_policies(history, tmp_path: Path) -> None:
    start, change = history
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def f(event, context):\n    return 1\n")
    start({"dynamodb.yaml": TABLES})
    code, report = change({"app.yaml": "functions:\n  reader: {handler: h.f, memory: 256, access: {table:users: read}}\n"},
                          "--stage", "dev")
    assert code == 0  # a new function's access is shown, not judged: nothing it had before widens
    function = _resource(report, "dev", "ReaderFunction")
    assert function["properties"]["FunctionName"] == "listbackup-dev-reader"
    assert function["properties"]["MemorySize"] == 256 and function["properties"]["Handler"] == "h.f"
    role = _resource(report, "dev", "ReaderFunctionRole")
    assert any(line.startswith("identity: Allow ") and "dynamodb:GetItem" in line and "${import:listbackup-dev-table-users:arn}" in line
               for line in role["access"])
    assert "trust: Service:lambda.amazonaws.com Allow sts:AssumeRole" in role["access"]
    text = CliRunner().invoke(main, ["diff", "--stage", "dev", "--no-color"]).output
    assert "      access: identity: Allow " in text and '      FunctionName = "listbackup-dev-reader"' in text


def test_json_held_in_a_string_is_compared_as_json() -> None:
    """A dashboard body (a Join of JSON text and intrinsics): the changed widget field, not
    two identical cut-off prefixes."""
    def body(title: str, extra: bool = False) -> dict:
        widgets = [{"type": "text", "properties": {"markdown": "## api"}},
                   {"type": "metric", "properties": {"title": title, "metrics": [["AWS/ApiGateway", "Count", "ApiId", "@"]]}}]
        if extra:
            widgets.insert(0, {"type": "text", "properties": {"markdown": "## new"}})
        head, tail = json.dumps({"widgets": widgets}).split("@")
        return {"Fn::Join": ["", [head, {"Fn::ImportValue": "api:id"}, tail]]}

    assert property_changes({"DashboardBody": body("Requests")}, {"DashboardBody": body("Calls")}) == [
        ("DashboardBody#widgets[1].properties.title", "Requests", "Calls")]
    assert property_changes({"DashboardBody": body("Requests")}, {"DashboardBody": body("Requests", extra=True)}) == [
        ("DashboardBody#widgets[0]", None, {"type": "text", "properties": {"markdown": "## new"}})]


def test_long_values_show_where_they_differ() -> None:
    from compiler.review.diff import Diff, PropertyChange, ResourceChange, StackChange

    old, new = "x" * 300 + "alpha" + "y" * 300, "x" * 300 + "omega" + "y" * 300
    actions = [f"cognito-idp:Admin{i}" for i in range(30)]
    changes = (PropertyChange("Text", old, new), PropertyChange("Action", actions[:2], actions))
    diff = Diff("dev", "HEAD", (StackChange("s", "modify", (ResourceChange("R", "AWS::X::Y", "modify", None, changes),)),))
    lines = render_text([diff]).splitlines()
    text = next(line for line in lines if line.strip().startswith("Text:"))
    assert "alpha" in text and "omega" in text and len(text) < 200
    action = next(line for line in lines if line.strip().startswith("Action:"))
    assert all(f'+"{a}"' in action for a in actions[2:]) and '"cognito-idp:Admin0"' not in action
