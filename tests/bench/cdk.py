"""The AWS CDK the bench times the data tier against, in a virtualenv of its own.

aws-cdk-lib is no dependency of the compiler: the bench installs the pinned CDK once per
machine beside checkov's virtualenv (the user cache, `compiler.gates.security.tools_cache`),
and CDK runs its JavaScript through Node, which must be on PATH. When either is missing the
bench says why and skips the row instead of failing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from compiler.gates.security import tools_cache

PINS = ("aws-cdk-lib==2.275.0", "constructs==10.8.1", "pyyaml==6.0.4")


def python() -> tuple[Path | None, str]:
    """(the CDK virtualenv's python, "") or (None, why it is not there)."""
    if shutil.which("node") is None:
        return None, "no node on PATH (CDK runs its constructs in Node)"
    venv = tools_cache() / ("cdk-" + PINS[0].split("==")[1])
    program, stamp = venv / "bin" / "python", venv / ".installed"
    if stamp.exists() and program.exists():
        return program, ""
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    proc = subprocess.run([str(program), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PINS],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        return None, "could not install " + " ".join(PINS) + ": " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    stamp.touch()
    return program, ""
