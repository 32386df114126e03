"""Goldens: the committed generated/ is the golden output of spec/; plus per-kind cases.

tests/golden/<case>/spec -> tests/golden/<case>/generated, byte for byte, linted clean.
`pytest --update-golden` rewrites the case outputs (never generated/: use make compile).
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from compiler.emit import compare, freshness, write
from compiler.lint import run as lint
from compiler.pipeline import build
from tests.conftest import REPO

CASES = sorted(p.name for p in (Path(__file__).parent / "golden").iterdir() if p.is_dir())


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
