"""Goldens: the committed generated/ is the golden output of spec/; a wiring case; one
small case per kind.

tests/build/golden/<case>/spec -> tests/build/golden/<case>/generated, byte for byte, linted clean.
tests/kinds/fixtures/<section>/spec (with the shared fixtures/platform.yaml and the folder's
handlers/) -> tests/kinds/fixtures/<section>/generated likewise: a kind's change
regenerates its own golden, not a shared one. `pytest --update-golden` rewrites the case
outputs (never generated/: use make compile).
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from compiler.build.emit import compare, freshness, write
from compiler.kinds import all_kinds
from compiler.spec.load import PLATFORM_FILE
from compiler.gates.lint import run as lint
from compiler.build.pipeline import build
from tests.conftest import REPO

CASES = sorted(p.name for p in (Path(__file__).parent / "golden").iterdir() if p.is_dir())
FIXTURES = Path(__file__).parent.parent / "kinds" / "fixtures"


def _diff(expected: Path, text: str) -> str:
    old = expected.read_text().splitlines() if expected.exists() else []
    lines = list(difflib.unified_diff(old, text.splitlines(), str(expected), "compiled", lineterm=""))
    return "\n".join(lines[:60])


def test_repository_generated_is_fresh() -> None:
    result = build(REPO / "spec", "all", display_root=REPO)
    drift = freshness(REPO / "generated", result.outputs, list(result.stages))  # what `platformc check` says
    assert not drift, "\n".join(
        [f"{d.status}: generated/{d.path}" for d in drift] + ["run `make compile STAGE=all`"]
        + [_diff(REPO / "generated" / d.path, result.outputs[d.path]) for d in drift[:1] if d.path in result.outputs]
    )


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: str, update_golden: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).parent / "golden" / case
    result = build(root / "spec", "all", display_root=root)
    if update_golden:
        write(root / "generated", result.outputs, list(result.stages))
    drift = compare(root / "generated", result.outputs, list(result.stages))
    assert not drift, "\n".join(f"{d.status}: {d.path}" for d in drift)
    monkeypatch.chdir(tmp_path)  # keep this test's lint cache out of the repository
    report = lint(root / "generated", use_cache=False)
    assert not report.failed, report.text


def test_every_kind_has_its_fixture() -> None:
    """A new kind is its module, one REGISTRY line and its fixture folder."""
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders == {kind.section for kind in all_kinds()}


@pytest.mark.parametrize("section", [kind.section for kind in all_kinds()])
def test_kind_fixture(section: str, update_golden: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = FIXTURES / section
    shutil.copytree(case / "spec", tmp_path / "spec")
    shutil.copy(FIXTURES / PLATFORM_FILE, tmp_path / "spec" / PLATFORM_FILE)
    if (case / "handlers").is_dir():
        shutil.copytree(case / "handlers", tmp_path / "handlers")
    result = build(tmp_path / "spec", "all", display_root=tmp_path)
    if update_golden:
        write(case / "generated", result.outputs, list(result.stages))
    drift = compare(case / "generated", result.outputs, list(result.stages))
    assert not drift, "\n".join(f"{d.status}: {d.path}" for d in drift)
    assert any(section in text for path, text in result.outputs.items() if path.endswith(".json")), "the kind is not in its output"
    monkeypatch.chdir(tmp_path)  # keep this test's lint cache out of the repository
    report = lint(case / "generated", use_cache=False)
    assert not report.failed, report.text
