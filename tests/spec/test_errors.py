"""Error goldens: one failing spec per error class, with the exact rendered diagnostics.

Each case is tests/spec/errors/<case>/spec/ (its spec files; tests/spec/errors/platform.yaml is the
platform of every case that has none of its own), an optional handlers/ folder, and
expected.txt (what the user sees, paths relative to the case). `pytest --update-golden`
rewrites expected.txt. The CLI test below checks the contract around it: exit 1, no
traceback, nothing written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.diagnostics import render_text
from compiler.spec.load import PLATFORM_FILE
from compiler.build.pipeline import BuildError, build

ERRORS = Path(__file__).parent / "errors"
CASES = sorted(p.name for p in ERRORS.iterdir() if p.is_dir())


def assemble(case: str, root: Path) -> Path:
    """The case as a repository under `root`: spec/ (with the shared platform.yaml unless the
    case has its own) and handlers/; returns root."""
    shutil.copytree(ERRORS / case / "spec", root / "spec")
    if not (root / "spec" / PLATFORM_FILE).exists():
        shutil.copy(ERRORS / PLATFORM_FILE, root / "spec" / PLATFORM_FILE)
    if (handlers := ERRORS / case / "handlers").is_dir():
        shutil.copytree(handlers, root / "handlers")
    return root


@pytest.mark.parametrize("case", CASES)
def test_error_golden(case: str, update_golden: bool, tmp_path: Path) -> None:
    root = assemble(case, tmp_path)
    with pytest.raises(BuildError) as info:
        build(root / "spec", "all", display_root=root)
    text = render_text(info.value.diagnostics, info.value.files)
    expected = ERRORS / case / "expected.txt"
    if update_golden:
        expected.write_text(text)
    assert text == expected.read_text()


@pytest.mark.parametrize("case", CASES)
def test_cli_reports_and_writes_nothing(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assemble(case, tmp_path)
    out = tmp_path / "generated"
    (out / "dev").mkdir(parents=True)
    (out / "dev" / "keep.json").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["compile", "--stage", "all"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error[E" in result.output and "spec/" in result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["dev", "dev/keep.json"]


def test_a_huge_scalar_is_reported_once_and_briefly(tmp_path: Path) -> None:
    """A 200 KB value (here a run of URLs, the worst case of the credential patterns) reaches
    its error in one linear pass, and the report shows a window of the line and an elided
    message, not the value twice over."""
    huge = "http://" * 30_000
    root = assemble("wrong-type", tmp_path)
    (root / "spec" / "huge.yaml").write_text(f"queues:\n  q:\n    fifo: true\n    delay: {huge}\n    handler: {huge}\n")
    with pytest.raises(BuildError) as info:
        build(root / "spec", "dev", display_root=root)
    text = render_text(info.value.diagnostics, info.value.files)
    assert "spec/huge.yaml:4:12: error[E203]" in text and "spec/huge.yaml:5:5: error[E202]" in text
    assert len(text) < 4_000 and max(len(line) for line in text.splitlines()) < 600
