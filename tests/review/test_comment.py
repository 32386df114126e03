"""The risk gate's PR comment fits GitHub (60,000 characters whatever the diff) and leads with
the risks, built from the largest diff the repository can produce: every handler touched (so
every function of every stage changes) plus the battery's first risky mutation."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from compiler.build.pipeline import build
from compiler.manifest import Manifest
from compiler.review import diff_render
from compiler.review.diff import compare
from tests.conftest import REPO
from tests.review.test_review_battery import CASES, _apply


@pytest.fixture(scope="module")
def largest(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    root = tmp_path_factory.mktemp("largest")
    shutil.copytree(REPO / "spec", root / "spec")
    shutil.copytree(REPO / "handlers", root / "handlers", ignore=shutil.ignore_patterns("__pycache__"))
    for module in (root / "handlers").glob("*.py"):
        module.write_text(module.read_text() + "\n# touched: every function's code changes\n")
    risky = next(case for case in CASES if any(e["exit"] == 4 for e in case["expect"].values()))
    for edit in risky["edit"]:
        _apply(root / "spec", edit)
    result = build(root / "spec", "all", display_root=root)
    diffs = []
    for stage in sorted(result.stages):
        old_manifest = Manifest.read(REPO / "generated", stage)
        assert old_manifest is not None
        old = {s: json.loads(old_manifest.template_path(REPO / "generated", s).read_text()) for s in old_manifest.stacks}
        new = {s: json.loads(result.outputs[f"{stage}/{s}.json"]) for s in result.resolved[stage].stacks}
        diffs.append(compare(stage, "HEAD", old, new, old_manifest, Manifest.from_json(result.outputs[f"{stage}/manifest.json"])))
    return diffs


def test_the_largest_comment_fits_and_leads_with_every_risk(largest: list[Any]) -> None:
    found = [(d.stage, where, f) for d in largest for where, f in diff_render.risks(d)]
    assert found and all(len(d.stacks) > 1 for d in largest)  # risky, and every stage changes
    text = diff_render.markdown(largest, full="https://example.invalid/run/1")
    assert len(text) <= diff_render.MAX_COMMENT
    first_stage = text.index("### Stage ")
    for stage, where, finding in found:  # each risk in full, before any stage's changes
        line = f"- **{finding.verdict}** `{stage}` `{where}` ({finding.cause}): {finding.note}"
        assert 0 <= text.index(line) < first_stage, line


def test_over_the_limit_details_then_rows_give_way_but_never_a_risk(largest: list[Any]) -> None:
    full = diff_render.markdown(largest, limit=10**9)
    small = diff_render.markdown(largest, limit=len(full) // 4, full="https://example.invalid/run/1")
    assert len(small) <= len(full) // 4 or "left out" in small
    assert "left out" in small and "https://example.invalid/run/1" in small
    risks_part = full[: full.index("### Stage ")]
    assert small.startswith(risks_part)  # the risks, whole, whatever the limit
    tiny = diff_render.markdown(largest, limit=1)
    assert tiny.startswith(risks_part)


def test_a_stage_with_the_same_changes_as_another_says_so(largest: list[Any]) -> None:
    """Function versions differ per stage only by their digest: stages whose changes are
    otherwise the same fold into one line, and a stage with more lists only what it adds."""
    text = diff_render.markdown(largest, limit=10**9)
    folded = [line for line in text.splitlines() if line.startswith("The same ") or ": as " in line]
    assert folded, text[:2000]
