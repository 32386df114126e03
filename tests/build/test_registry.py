"""The registry of kinds is explicit and complete; every kind has golden coverage."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import compiler.kinds as kinds_pkg
from compiler.kinds import BY_REF, BY_SECTION, KINDS

# kinds/ holds the kinds and what they build with: the Kind record and Context protocol
# (base), troposphere and IAM helpers (cfn), troposphere objects as template dicts (todict)
HELPERS = ("base", "cfn", "todict")
MODULES = sorted(m.name for m in pkgutil.iter_modules(kinds_pkg.__path__) if m.name not in HELPERS)
GOLDEN = Path(__file__).parent / "golden"


def test_every_kind_module_is_registered() -> None:
    registered = sorted(kind.synthesize.__module__.split(".")[2] for kind in KINDS)  # compiler.kinds.<module>
    assert registered == MODULES


@pytest.mark.parametrize("module", MODULES)
def test_every_kind_module_exports_the_same_names(module: str) -> None:
    mod = __import__(f"compiler.kinds.{module}", fromlist=["Spec", "KIND", "synthesize"])
    assert hasattr(mod, "Spec") and hasattr(mod, "KIND") and hasattr(mod, "synthesize")
    assert mod.KIND.spec is mod.Spec and mod.KIND.synthesize is mod.synthesize


def test_sections_and_reference_prefixes_are_unique() -> None:
    assert len(BY_SECTION) == len(BY_REF) == len(KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.section)
def test_every_kind_is_in_the_wiring_golden(kind) -> None:
    """Each kind alone is its fixture (tests/kinds/fixtures/<section>); the `full` golden
    wires every kind with the others."""
    specs = "".join(p.read_text() for p in (GOLDEN / "full" / "spec").rglob("*.yaml"))
    assert f"\n{kind.section}:" in "\n" + specs
