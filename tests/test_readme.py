"""README's quick start works when pasted line by line into a fresh shell: its shell blocks are
extracted and each local line run with bash in a copy of the repository (the same .venv),
with an environment holding only PATH and HOME. `make test` is this very suite: it is the
one line not run here (CI runs it)."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

NOT_RUN = {"make test": "the test suite itself (CI runs it: .ci/run)"}


def _quick_start() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    lines = [line.split("#", 1)[0].strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S) for line in block.splitlines()]
    return [line for line in lines if line]


def _copy(root: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)  # mtimes kept: make sees the same .venv as up to date
    (root / ".venv").symlink_to(REPO / ".venv")
    return root


def test_the_quick_start_runs_line_by_line_in_a_fresh_shell(tmp_path: Path) -> None:
    lines = _quick_start()
    assert lines and set(NOT_RUN) <= set(lines), lines
    root = _copy(tmp_path / "clone")
    shutil.rmtree(root / "generated" / "dev")  # what the quick start's compile must write again
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    for line in lines:
        if line in NOT_RUN:
            continue
        done = subprocess.run(["bash", "-c", line], cwd=root, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
    compared = filecmp.dircmp(REPO / "generated" / "dev", root / "generated" / "dev")
    assert not (compared.left_only or compared.right_only or compared.diff_files), (
        compared.left_only, compared.right_only, compared.diff_files)
