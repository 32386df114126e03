"""The AWS CDK the bench times the data tier against, in a virtualenv of its own.

aws-cdk-lib is no dependency of the compiler: the bench installs the pinned CDK once per
machine beside checkov's virtualenv (`compiler.gates.security.pinned_tool`, the user cache),
and CDK runs its JavaScript through Node, which must be on PATH. When either is missing the
bench says why and skips the row instead of failing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from compiler.gates.security import pinned_tool

PINS = ("aws-cdk-lib==2.275.0", "constructs==10.8.1", "pyyaml==6.0.4")


def python() -> tuple[Path | None, str]:
    """(the CDK virtualenv's python, "") or (None, why it is not there)."""
    if shutil.which("node") is None:
        return None, "no node on PATH (CDK runs its constructs in Node)"
    try:
        return pinned_tool("cdk-" + PINS[0].split("==")[1], PINS, "python"), ""
    except RuntimeError as exc:
        return None, (str(exc).splitlines() or ["?"])[-1]
