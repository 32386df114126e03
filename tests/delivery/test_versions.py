"""Function versions and the `live` alias: in the templates, deployed on the moto server,
moved back by `platformc rollback` and forward again by the next deploy, old ones pruned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.delivery import versions
from compiler.cli import main
from compiler.delivery.deploy import DeployError
from compiler.naming import KEEP_VERSIONS, LIVE_ALIAS
from tests.conftest import REPO
from tests.delivery.test_deploy import _client, _deployer, _platform


pytestmark = pytest.mark.usefixtures("local_credentials")  # any credentials do on the emulator


def _templates(stage: str) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in (REPO / "generated" / stage).glob("*.json") if p.stem != "manifest"}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_has_a_retained_version_and_triggers_invoke_its_live_alias(stage: str) -> None:
    for stack, template in _templates(stage).items():
        resources = template["Resources"]
        functions = {k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
        aliases = {k: r for k, r in resources.items() if r["Type"] == "AWS::Lambda::Alias"}
        assert {a["Properties"]["FunctionName"]["Ref"] for a in aliases.values()} == functions, stack
        for alias in aliases.values():
            assert alias["Properties"]["Name"] == LIVE_ALIAS
            version = resources[alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]]
            assert version["Type"] == "AWS::Lambda::Version"
            assert version["DeletionPolicy"] == version["UpdateReplacePolicy"] == "Retain"  # kept for rollback
        invokers = [(k, r["Properties"]) for k, r in resources.items()
                    if r["Type"] in ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping")]
        invokers += [(k, {"FunctionName": t["Arn"]}) for k, r in resources.items() if r["Type"] == "AWS::Events::Rule"
                     for t in r["Properties"].get("Targets", [])]
        invokers += [(k, {"FunctionName": r["Properties"]["IntegrationUri"]}) for k, r in resources.items()
                     if r["Type"] == "AWS::ApiGatewayV2::Integration" and isinstance(r["Properties"]["IntegrationUri"], dict)]
        for logical, props in invokers:
            target = props["FunctionName"]
            if isinstance(target, dict) and ("Ref" in target or "Fn::GetAtt" in target):
                named = target.get("Ref") or target["Fn::GetAtt"][0]
                if resources.get(named, {}).get("Type") in ("AWS::Lambda::Function", "AWS::Lambda::Alias"):
                    assert named in aliases, f"{stack}: {logical} invokes {named}, not its live alias"


def _compile(root: Path) -> dict[str, Any]:
    from compiler.build.emit import write
    from compiler.build.pipeline import build

    result = build(root / "spec", "all", display_root=root)
    write(root / "generated", result.outputs, list(result.stages))
    return dict(json.loads((root / "generated" / "dev" / "app.json").read_text())["Resources"])


def _of_type(resources: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: r for k, r in resources.items() if r["Type"] == type_}


def test_a_changed_function_publishes_a_new_version_an_unchanged_one_does_not(tmp_path: Path) -> None:
    _platform(tmp_path)
    before = _compile(tmp_path)
    assert _compile(tmp_path) == before  # same code, same definition: the same version resource
    (tmp_path / "handlers" / "jobs.py").write_text("def run(event, context):\n    return {'batchItemFailures': [], 'v': 2}\n")
    changed = _compile(tmp_path)
    [old], [new] = _of_type(before, "AWS::Lambda::Version"), _of_type(changed, "AWS::Lambda::Version")
    assert old != new
    [alias] = _of_type(changed, "AWS::Lambda::Alias").values()
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [new, "Version"]}


def _redeploy(root: Path, endpoint: str, artifacts: Path, lines: list[str], code: str) -> list[Any]:
    from compiler.build.emit import write
    from compiler.delivery.package import package
    from compiler.build.pipeline import build

    (root / "handlers" / "jobs.py").write_text(code)
    result = build(root / "spec", "all", display_root=root)
    write(root / "generated", result.outputs, list(result.stages))
    package(root / "handlers", artifacts)
    return _deployer(root / "generated", "dev", endpoint, artifacts, lines).deploy()


def test_rollback_moves_live_back_and_the_next_deploy_moves_it_forward(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _platform(tmp_path, service="rollme")
    lines: list[str] = []
    assert {r.status for r in _deployer(out, "dev", endpoint, artifacts, lines).deploy()} == {"created"}
    lam = _client(endpoint, "lambda")
    assert lam.get_alias(FunctionName="rollme-dev-worker", Name="live")["FunctionVersion"] == "1"
    code = "def run(event, context):\n    return {'batchItemFailures': [], 'release': %d}\n"
    assert {r.stack: r.status for r in _redeploy(tmp_path, endpoint, artifacts, lines, code % 2)}["app"] == "updated"
    assert lam.get_alias(FunctionName="rollme-dev-worker", Name="live")["FunctionVersion"] == "2"

    runner = CliRunner()
    args = ["--stage", "dev", "--endpoint-url", endpoint, "--out", str(out)]
    done = runner.invoke(main, ["rollback", "worker", *args])
    assert done.exit_code == 0, done.output
    assert "rollme-dev-worker: live moved from version 2 to version 1" in done.output
    assert "next `platformc deploy --stage dev` moves it forward" in done.output
    assert lam.get_alias(FunctionName="rollme-dev-worker", Name="live")["FunctionVersion"] == "1"

    refused = runner.invoke(main, ["rollback", "worker", *args])  # nothing before version 1
    assert refused.exit_code == 1 and "no version before 1" in refused.output and "Traceback" not in refused.output
    assert "has no version 9" in runner.invoke(main, ["rollback", "worker", "--to", "9", *args]).output
    assert "has no function nobody" in runner.invoke(main, ["rollback", "nobody", *args]).output

    lines.clear()  # the spec did not change: every stack is "unchanged", and live comes forward
    again = _deployer(out, "dev", endpoint, artifacts, lines).deploy()
    assert {r.status for r in again} == {"unchanged"}
    assert "rollme-dev-worker: live moved forward from version 1 to 2, the deployed one" in lines
    assert lam.get_alias(FunctionName="rollme-dev-worker", Name="live")["FunctionVersion"] == "2"


def test_old_versions_are_pruned_but_never_one_an_alias_points_at(endpoint: str, tmp_path: Path) -> None:
    """versions.prune on the moto server (the deployer runs it after each stack on AWS; the
    emulator keeps every version, since moto reuses the numbers of deleted ones)."""
    out, artifacts = _platform(tmp_path, service="prune")
    _deployer(out, "dev", endpoint, artifacts, []).deploy()
    lam = _client(endpoint, "lambda")
    for release in range(2, KEEP_VERSIONS + 4):
        lam.update_function_configuration(FunctionName="prune-dev-worker", Description=f"release {release}")
        lam.publish_version(FunctionName="prune-dev-worker")
    lam.create_alias(FunctionName="prune-dev-worker", Name="canary", FunctionVersion="2")  # someone pinned 2
    lam.update_alias(FunctionName="prune-dev-worker", Name="live", FunctionVersion=str(KEEP_VERSIONS + 3))
    deleted = versions.prune(lam, "prune-dev-worker")
    kept = [v["Version"] for v in versions.published(lam, "prune-dev-worker")]
    newest = [str(n) for n in range(4, KEEP_VERSIONS + 4)]
    assert kept == ["2", *newest] and deleted == ["1", "3"]  # the newest KEEP_VERSIONS, and the pinned one


def test_rollback_of_an_undeployed_stage_is_a_clear_error(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _platform(tmp_path, service="never")
    with pytest.raises(DeployError, match="never-dev-worker is not deployed"):
        _deployer(out, "dev", endpoint, artifacts, []).rollback("worker", None)


def test_rollback_in_a_protected_stage_asks_and_ci_does_not_answer(endpoint: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out, artifacts = _platform(tmp_path, service="guarded")
    assert {r.status for r in _deployer(out, "prod", endpoint, artifacts, []).deploy()} == {"created"}
    lam = _client(endpoint, "lambda")
    lam.update_function_configuration(FunctionName="guarded-prod-worker", Description="release 2")
    lam.publish_version(FunctionName="guarded-prod-worker")
    lam.update_alias(FunctionName="guarded-prod-worker", Name="live", FunctionVersion="2")

    runner = CliRunner()
    args = ["rollback", "worker", "--stage", "prod", "--endpoint-url", endpoint, "--out", str(out)]
    monkeypatch.setenv("CI", "true")
    for answer in ("n\n", ""):  # no, and a closed standard input (a CI job)
        refused = runner.invoke(main, args, input=answer)
        assert refused.exit_code == 1 and "Traceback" not in refused.output, refused.output
        assert "point guarded-prod-worker's live alias from version 2 to version 1" in refused.output
        assert "not confirmed: live stays on version 2" in refused.output
        assert lam.get_alias(FunctionName="guarded-prod-worker", Name="live")["FunctionVersion"] == "2"
    assert runner.invoke(main, args, input="y\n").exit_code == 0
    assert lam.get_alias(FunctionName="guarded-prod-worker", Name="live")["FunctionVersion"] == "1"
    lam.update_alias(FunctionName="guarded-prod-worker", Name="live", FunctionVersion="2")
    moved = runner.invoke(main, [*args, "--yes"])
    assert moved.exit_code == 0 and "from version 2 to version 1" in moved.output and "?" not in moved.output
