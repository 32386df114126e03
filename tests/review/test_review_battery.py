"""The review gate's mutation battery (tests/review/mutations.yaml): edits of the
repository's own spec, each compared with the committed generated/ for dev and prod, and
the exact verdicts and causes CloudFormation's documented behaviour calls for.

The old side is the repository's generated/ (fresh: `make check` gates it), so the
battery follows the spec as it grows; an edit whose anchor text is gone fails loudly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.review.diff import RISKS, compare
from compiler.diagnostics import render_text
from compiler.manifest import Manifest
from compiler.build.pipeline import BuildError, build
from tests.conftest import REPO

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "mutations.yaml").read_text())


def _apply(spec: Path, edit: dict[str, Any]) -> None:
    path = spec / edit["file"]
    if "append" in edit:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((path.read_text() if path.exists() else "") + edit["append"])
    elif edit.get("remove"):
        path.unlink()
    elif "rename" in edit:
        path.rename(spec / edit["rename"])
    else:
        text = path.read_text()
        assert text.count(edit["find"]) == 1, f"{edit['file']}: the edit's anchor must occur once: {edit['find']!r}"
        path.write_text(text.replace(edit["find"], edit["replace"]))


def _committed(stage: str) -> tuple[Manifest, dict[str, dict[str, Any]]]:
    manifest = Manifest.read(REPO / "generated", stage)
    assert manifest is not None
    return manifest, {stack: json.loads(manifest.template_path(REPO / "generated", stack).read_text()) for stack in manifest.stacks}


@pytest.fixture(scope="module")
def mutated(tmp_path_factory: pytest.TempPathFactory):
    """Build each case once (all stages) in a copy of the repository's spec and handlers."""
    built: dict[str, Any] = {}

    def get(case: dict[str, Any]) -> Any:
        if case["name"] not in built:
            root = tmp_path_factory.mktemp("battery")
            shutil.copytree(REPO / "spec", root / "spec")
            shutil.copytree(REPO / "handlers", root / "handlers", ignore=shutil.ignore_patterns("__pycache__"))
            for edit in case["edit"]:
                _apply(root / "spec", edit)
            try:
                built[case["name"]] = build(root / "spec", "all", display_root=root)
            except BuildError as exc:  # the edit must give a valid spec: show why not
                pytest.fail(f"{case['name']}: the edited spec does not compile:\n{render_text(exc.diagnostics, exc.files)}")
        return built[case["name"]]

    return get


PARAMS = [
    pytest.param(case, stage, id=f"{stage}: {case['name']}")
    for case in CASES
    for stage in sorted(case["expect"])
]


@pytest.mark.parametrize(("case", "stage"), PARAMS)
def test_mutation(case: dict[str, Any], stage: str, mutated) -> None:
    result = mutated(case)
    old_manifest, old = _committed(stage)
    new_manifest = Manifest.from_json(result.outputs[f"{stage}/manifest.json"])
    new = {stack: json.loads(result.outputs[f"{stage}/{stack}.json"]) for stack in result.resolved[stage].stacks}
    diff = compare(stage, "battery", old, new, old_manifest, new_manifest)
    expected = case["expect"][stage]
    found = sorted({(f.verdict, f.cause) for _, _, f in diff.findings()})
    detail = "\n".join(f"  {s}/{r}: {f.verdict} ({f.cause}) {f.message}" for s, r, f in diff.findings())
    assert found == sorted((v, c) for v, c in expected["findings"]), f"{case['name']} in {stage}:\n{detail}"
    assert (4 if diff.risky else 0) == expected["exit"]
    assert diff.risky == any(v in RISKS for v, _ in expected["findings"])


def test_battery_covers_every_class_and_both_sides() -> None:
    """At least the classes of the review-gate issue, and safe cases that must stay quiet."""
    causes = {c for case in CASES for e in case["expect"].values() for _, c in e["findings"]}
    assert {"key attribute type", "index update rule", "unique-in-parent collision", "immutable schema",
            "move between stacks", "stack left the spec", "cascade", "data"} <= causes
    safe = [case for case in CASES if all(e["exit"] == 0 and not e["findings"] for e in case["expect"].values())]
    assert len(safe) >= 8
