"""Stacks in other regions: values cross as parameters that deploy fills from the
producer's outputs, never as exports (exports are regional)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compiler.gates import lint
from compiler.build.emit import write
from tests.conftest import compile_spec, errors_of, template

FILES = {
    "dr.yaml": "region: us-east-1\ntables:\n  replica: {hash_key: id:S}\n",
    "app.yaml": "functions:\n  f: {handler: h.f, access: {table:replica: read}}\n",
}


@pytest.fixture
def result(tmp_path: Path):
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def f(e, c):\n    return 1\n")
    return compile_spec(tmp_path, FILES)


def test_cross_region_value_is_a_parameter_filled_by_deploy(result) -> None:
    app, dr = template(result, "dev", "app"), template(result, "dev", "dr")
    text = json.dumps(app)
    assert "Fn::ImportValue" not in text
    assert app["Parameters"] == {
        "FromDrReplicaTableArn": {
            "Type": "String",
            "Description": "filled by deploy: output ReplicaTableArn of listbackup-dev-dr (us-east-1)",
        },
        "FromDrReplicaTableName": {
            "Type": "String",
            "Description": "filled by deploy: output ReplicaTableName of listbackup-dev-dr (us-east-1)",
        },
    }
    env = app["Resources"]["FFunction"]["Properties"]["Environment"]["Variables"]
    assert env["REPLICA_TABLE"] == {"Ref": "FromDrReplicaTableName"}
    assert dr["Outputs"]["ReplicaTableArn"] == {
        "Description": "table:replica arn (read from another region)",
        "Value": {"Fn::GetAtt": ["ReplicaTable", "Arn"]},
    }  # an output, not an export
    manifest = json.loads(result.outputs["dev/manifest.json"])
    assert manifest["stacks"]["dr"]["region"] == "us-east-1" and manifest["stacks"]["app"]["region"] == "us-west-2"
    assert manifest["stacks"]["app"]["parameters"]["FromDrReplicaTableArn"] == {
        "from_stack": "dr", "output": "ReplicaTableArn", "region": "us-east-1",
    }
    assert manifest["levels"] == [["dr"], ["app"]] and manifest["exports"] == {}
    assert 'region us-east-1"]' in result.outputs["dev/graph.md"]
    assert 's_app -.->|"2 cross-region values"| s_dr' in result.outputs["dev/graph.md"]


def test_both_regions_lint_clean(result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "generated", result.outputs, list(result.stages))
    monkeypatch.chdir(tmp_path)
    report = lint.run(tmp_path / "generated", use_cache=False)
    assert not report.failed, report.text


def test_bad_region(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"dr.yaml": "region: moon-1\ntables:\n  t: {hash_key: id:S}\n"})
    assert "spec/dr.yaml:1:9: error[E203]: region: 'moon-1' is not an AWS region" in out
