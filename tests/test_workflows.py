"""The CI workflow for the project's host: valid by GitHub's schema, and free of the
security findings zizmor knows (pinned actions, no injection, least permissions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def test_there_are_the_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "risk-gate.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_githubs_schema(workflow: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_has_no_zizmor_findings(workflow: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--persona", "pedantic", "--no-progress", str(workflow)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_runs_the_gates() -> None:
    text = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    assert "run: make test" in text
    assert "platformc lint --format sarif" in text
    assert "platformc diff" not in text and "pr-number" not in text  # PR code must not decide the gate


def _gate() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / ".github" / "workflows" / "risk-gate.yml").read_text()))


def test_the_risk_gate_runs_only_the_bases_code() -> None:
    """The gate job runs the base commit's Makefile and compiler; the head is read as git
    objects. So a pull request that edits the Makefile, the compiler or a pr-number file
    can neither turn the gate green nor send the comment elsewhere."""
    gate = _gate()
    triggers = gate[True]["pull_request_target"]["types"]  # YAML 1.1 reads `on` as True
    assert {"synchronize", "labeled", "unlabeled", "opened", "reopened"} <= set(triggers)
    steps = gate["jobs"]["gate"]["steps"]
    checkouts = {step["with"]["path"]: step["with"] for step in steps if "actions/checkout" in step.get("uses", "")}
    assert checkouts["trusted"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert checkouts["pr"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert all(c["persist-credentials"] is False for c in checkouts.values())
    for step in (s for s in steps if "run" in s):
        script, where = step["run"], step.get("working-directory", ".")
        assert where in (".", "trusted"), step["name"]  # nothing runs inside the head's checkout
        assert "../pr" not in script or script.startswith("git fetch --quiet --no-tags ../pr"), step["name"]
        assert "pr/" not in script.replace("../pr ", "").replace("refs/pr/head", ""), step["name"]
    scripts = "\n".join(s["run"] for s in steps if "run" in s)
    assert "--new refs/pr/head" in scripts and "make venv" in scripts
    assert '"$PR_NUMBER"' in scripts and gate["jobs"]["gate"]["env"]["PR_NUMBER"] == "${{ github.event.pull_request.number }}"
    assert "pr-number" not in scripts  # nothing the head wrote says where the comment goes
    drop = next(s for s in steps if "remove-label" in s.get("run", ""))
    assert "synchronize" in drop["if"]  # a new push needs a new approval


def test_the_gate_reads_the_heads_generated_templates_as_data(tmp_path: Path) -> None:
    """A head that rewrites the Makefile and the compiler, plants a pr-number file and a
    symlink, and deletes a table: the base's `platformc diff --new` still says DATA LOSS,
    and reads no file the symlink points at."""
    from compiler.emit import write
    from tests.conftest import compile_spec

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout.strip()

    result = compile_spec(tmp_path, {"data.yaml": "tables:\n  items: {hash_key: id:S}\n  other: {hash_key: id:S}\n"})
    write(tmp_path / "generated", result.outputs, list(result.stages))
    (tmp_path / "Makefile").write_text("test:\n\tpython -m pytest\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    base = git("rev-parse", "HEAD")

    result = compile_spec(tmp_path, {"data.yaml": "tables:\n  items: {hash_key: id:S}\n"})  # drops a table
    write(tmp_path / "generated", result.outputs, list(result.stages))
    (tmp_path / "Makefile").write_text("test:\n\ttrue\n")
    (tmp_path / "compiler").mkdir()
    (tmp_path / "compiler" / "diff.py").write_text("RISKS = set()  # the head's own idea of risk\n")
    (tmp_path / "pr-number.txt").write_text("1\n")
    secret = tmp_path.parent / "runner-secret.txt"
    secret.write_text("TOKEN=do-not-leak\n")
    (tmp_path / "generated" / "dev" / "leak.json").symlink_to(secret)
    git("add", "-A")
    git("commit", "-qm", "head")
    head = git("rev-parse", "HEAD")
    git("checkout", "-q", base)  # what the gate's trusted/ holds

    proc = subprocess.run([str(BIN / "platformc"), "diff", "--stage", "all", "--against", base, "--new", head,
                           "--no-color"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "DATA LOSS" in proc.stdout and "OtherTable" in proc.stdout
    assert "do-not-leak" not in proc.stdout + proc.stderr
