"""The registry of kinds is explicit and complete; every kind has golden coverage."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import compiler.kinds as kinds_pkg
from compiler.kinds import BY_REF, BY_SECTION, REGISTRY, all_kinds

from tests.conftest import REPO

# kinds/ holds the kinds and what they build with: the Kind record and Context protocol
# (base), troposphere and IAM helpers (cfn), troposphere objects as template dicts (todict)
HELPERS = ("base", "cfn", "todict")
MODULES = sorted(m.name for m in pkgutil.iter_modules(kinds_pkg.__path__) if m.name not in HELPERS)
GOLDEN = Path(__file__).parent / "golden"


def test_every_kind_module_is_registered() -> None:
    registered = sorted(kind.synthesize.__module__.split(".")[2] for kind in all_kinds())  # compiler.kinds.<module>
    assert registered == MODULES == sorted(module for _, _, module in REGISTRY)


@pytest.mark.parametrize("section, ref, module", REGISTRY, ids=[entry[0] for entry in REGISTRY])
def test_the_registry_names_what_each_module_declares(section: str, ref: str, module: str) -> None:
    """The registry writes a kind's section and reference prefix beside its module so that
    nothing is imported to read them: they must be the module's own."""
    kind = __import__(f"compiler.kinds.{module}", fromlist=["KIND"]).KIND
    assert (kind.section, kind.ref) == (section, ref)
    assert BY_SECTION[section] is kind and BY_REF[ref] is kind


def test_a_spec_loads_only_the_kinds_it_declares(tmp_path: Path) -> None:
    """A compile of tables and queues imports those kinds' modules (and what they import), not
    the API's, the functions' or the edge's: a kind's module builds its models on import."""
    import json
    import os
    import subprocess
    import sys

    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "platform.yaml").write_text((REPO / "tests" / "kinds" / "fixtures" / "platform.yaml").read_text())
    (spec / "data.yaml").write_text("tables:\n  users: {hash_key: userId:S}\nqueues:\n  sync: {}\n")
    script = (
        "import json, sys\nfrom compiler.cli import main\n"
        f"sys.argv = ['platformc', 'compile', '--stage', 'dev', '--spec', {str(spec)!r}, '--out', {str(tmp_path / 'out')!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(json.dumps(sorted(m.split('.')[2] for m in sys.modules if m.count('.') == 2 and m.startswith('compiler.kinds.'))))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    loaded = set(json.loads(run.stdout.splitlines()[-1]))
    assert {"table", "queue"} <= loaded
    assert not loaded & {"api", "function", "distribution", "web_acl", "user_pool", "certificate"}, loaded
    assert json.loads((tmp_path / "out" / "dev" / "data.json").read_text())["Resources"]


@pytest.mark.parametrize("module", MODULES)
def test_every_kind_module_exports_the_same_names(module: str) -> None:
    mod = __import__(f"compiler.kinds.{module}", fromlist=["Spec", "KIND", "synthesize"])
    assert hasattr(mod, "Spec") and hasattr(mod, "KIND") and hasattr(mod, "synthesize")
    assert mod.KIND.spec is mod.Spec and mod.KIND.synthesize is mod.synthesize


def test_sections_and_reference_prefixes_are_unique() -> None:
    assert len(BY_SECTION) == len(BY_REF) == len(all_kinds()) == len(REGISTRY)


@pytest.mark.parametrize("kind", all_kinds(), ids=lambda k: k.section)
def test_every_kind_is_in_the_wiring_golden(kind) -> None:
    """Each kind alone is its fixture (tests/kinds/fixtures/<section>); the `full` golden
    wires every kind with the others."""
    specs = "".join(p.read_text() for p in (GOLDEN / "full" / "spec").rglob("*.yaml"))
    assert f"\n{kind.section}:" in "\n" + specs
