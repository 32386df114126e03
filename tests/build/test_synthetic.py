"""The benchmark's generator makes valid platforms (else `make bench` measures an error)."""

from __future__ import annotations

from pathlib import Path

from compiler.build.pipeline import build
from tests.bench.synthetic import generate
from tests.conftest import REPO


def test_generated_platform_compiles_and_scales(tmp_path: Path) -> None:
    spec = generate(REPO / "spec", tmp_path / "spec", 3)
    once = build(REPO / "spec", "all", display_root=REPO)
    thrice = build(spec, "all", display_root=tmp_path)  # every stage: settings differ per stage
    def count(result, stage: str, bootstrap: bool = False) -> int:
        return sum(len(s.resources) for s in result.resolved[stage].stacks.values()
                   if any(r.kind.bootstrap for r in s.resources) == bootstrap)

    def stacks(result, stage: str, bootstrap: bool = False) -> int:
        return sum(any(r.kind.bootstrap for r in s.resources) == bootstrap for s in result.resolved[stage].stacks.values())

    for stage in once.stages:
        assert count(thrice, stage) == 3 * count(once, stage)
        assert stacks(thrice, stage) == 3 * stacks(once, stage)
        # one bootstrap stack per stage, however large the platform
        assert (count(thrice, stage, True), stacks(thrice, stage, True)) == (count(once, stage, True), 1)
