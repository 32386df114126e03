"""committed: generated/ as committed at a git ref — the manifest and templates `diff`
compares against, read with `git show` (blobs: a symlink is text, never followed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from ..manifest import FILE as MANIFEST
from ..manifest import Manifest, template_file


def committed(out_dir: Path, stage: str, ref: str) -> tuple[Manifest | None, dict[str, dict[str, Any]]]:
    """The manifest and templates of `out_dir/<stage>` as committed at `ref` (nothing if absent)."""
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=out_dir.parent, capture_output=True, text=True, check=True
    ).stdout.strip()
    prefix = out_dir.resolve().relative_to(Path(top).resolve()).as_posix()

    def show(path: str) -> str | None:
        proc = subprocess.run(["git", "show", f"{ref}:{prefix}/{stage}/{path}"], cwd=top, capture_output=True, text=True)
        return proc.stdout if proc.returncode == 0 else None

    text = show(MANIFEST)
    if text is None:
        return None, {}
    manifest = Manifest.from_json(text)
    templates = {}
    for stack in manifest.stacks:
        if (body := show(template_file(stack))) is not None:
            templates[stack] = json.loads(body)
    return manifest, templates


def committed_stages(out_dir: Path, ref: str) -> list[str]:
    """The stage folders of `out_dir` at `ref` that hold a manifest, sorted."""
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=out_dir.parent, capture_output=True, text=True, check=True
    ).stdout.strip()
    prefix = out_dir.resolve().relative_to(Path(top).resolve()).as_posix()
    proc = subprocess.run(["git", "ls-tree", "-r", "--name-only", ref, "--", f"{prefix}/"], cwd=top,
                          capture_output=True, text=True)
    names = proc.stdout.splitlines() if proc.returncode == 0 else []
    return sorted({n.split("/")[-2] for n in names if n.endswith(f"/{MANIFEST}") and n.count("/") == prefix.count("/") + 2})


def resolve_ref(repo: Path, ref: str) -> str:
    """Fail early, with git's own message, on a ref that does not exist."""
    proc = subprocess.run(["git", "rev-parse", "--short", "--verify", f"{ref}^{{commit}}"], cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ValueError(f"unknown git ref '{ref}': {proc.stderr.strip()}")
    return proc.stdout.strip()
