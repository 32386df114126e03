"""`platformc new service NAME`: what it writes compiles, lints clean and its test passes, in a
copy of the repository; it never overwrites and says why it refuses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


def _copy(root: Path) -> Path:
    for folder in ("spec", "handlers", "generated", "tests"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    for name in ("pyproject.toml", "cfn-lint.yaml"):
        shutil.copy(REPO / name, root / name)
    return root


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*args], cwd=root, capture_output=True, text=True)


def test_a_new_service_compiles_lints_and_its_test_passes(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    made = _run(root, str(BIN / "platformc"), "new", "service", "orders")
    assert made.returncode == 0, made.stdout + made.stderr
    assert [line.split()[-1] for line in made.stdout.splitlines() if line.startswith("wrote ")] == [
        "spec/api/orders.yaml", "handlers/orders.py", "tests/handlers/test_orders.py"]
    spec = (root / "spec" / "api" / "orders.yaml").read_text()
    assert spec.startswith("# yaml-language-server") and "- GET /orders/{id}" in spec
    # what each stage reserves with the new service, against its budget, read from the stages' manifests after compiling
    budgets = {m.group(1): (int(m.group(2)), int(m.group(3)), int(m.group(4))) for m in re.finditer(
        r"stage (\w+): functions reserve (\d+) of the budget (\d+) \((-?\d+) left", made.stdout)}
    assert set(budgets) == {"dev", "staging", "prod"} and all(b - r == left for r, b, left in budgets.values()), made.stdout

    compiled = _run(root, str(BIN / "platformc"), "compile", "--stage", "all")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    assert (root / "generated" / "dev" / "api-orders.json").exists()
    for stage, (reserved, _, _) in budgets.items():  # the figures are the templates' reservations
        held = sum(r["Properties"].get("ReservedConcurrentExecutions", 0) for path in (root / "generated" / stage).glob("*.json")
                   if path.name != "manifest.json" for r in json.loads(path.read_text())["Resources"].values()
                   if r["Type"] == "AWS::Lambda::Function")
        assert held == reserved, (stage, held, reserved)
    linted = _run(root, str(BIN / "platformc"), "lint", "--stage", "dev")
    assert linted.returncode == 0, linted.stdout + linted.stderr
    tested = _run(root, sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "tests/handlers/test_orders.py")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed" in tested.stdout

    again = _run(root, str(BIN / "platformc"), "new", "service", "orders")  # its table is declared now
    assert again.returncode == 1 and "already declares a table 'orders'" in again.stderr
    (root / "handlers" / "shipments.py").write_text("# someone's work in progress\n")
    blocked = _run(root, str(BIN / "platformc"), "new", "service", "shipments")
    assert blocked.returncode == 1 and "handlers/shipments.py exist already: nothing was written" in blocked.stderr
    assert not (root / "spec" / "api" / "shipments.yaml").exists()
    assert (root / "handlers" / "shipments.py").read_text() == "# someone's work in progress\n"


@pytest.mark.parametrize(("args", "message"), [
    (["Orders"], "'Orders' is not a name"),
    (["users"], "already declares a table 'users'"),
    (["orders", "--api", "nope"], "declares no api 'nope' (it has: main)"),
])
def test_a_service_that_cannot_be_written_is_refused_before_anything_is_written(tmp_path: Path, args: list[str],
                                                                                 message: str) -> None:
    root = _copy(tmp_path)
    def files() -> list[Path]:  # the user's files: caches (.cache/, the handler scan's) aside
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.relative_to(root).parts[0] != ".cache")

    before = files()
    refused = _run(root, str(BIN / "platformc"), "new", "service", *args)
    assert refused.returncode == 1 and message in refused.stderr and "Traceback" not in refused.stderr
    assert files() == before
