"""Same spec -> same bytes: across runs, hash seeds and file discovery order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from compiler import load
from compiler.pipeline import build
from tests.conftest import REPO


def _compile_in_subprocess(out: Path, seed: str) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    cmd = [sys.executable, "-m", "compiler", "compile", "--stage", "all", "--out", str(out)]
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_two_hash_seeds_give_identical_bytes(tmp_path: Path) -> None:
    first = _compile_in_subprocess(tmp_path / "a", "0")
    second = _compile_in_subprocess(tmp_path / "b", "4242")
    assert first and first == second


def test_discovery_order_does_not_matter(monkeypatch) -> None:
    forward = build(REPO / "spec", "all", display_root=REPO).outputs
    original = load.discover
    monkeypatch.setattr(load, "discover", lambda spec_dir: list(reversed(original(spec_dir))))
    backward = build(REPO / "spec", "all", display_root=REPO).outputs
    assert forward == backward


def test_output_has_no_absolute_paths_or_timestamps() -> None:
    outputs = build(REPO / "spec", "all", display_root=REPO).outputs
    for text in outputs.values():
        assert str(REPO) not in text
        assert "2026-" not in text and "2025-" not in text
