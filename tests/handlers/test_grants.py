"""No unused grant: every access level a function holds is exercised by its handler's tests.

tests/handlers/platform.py records each call a handler makes (IAM action and the resource
it names) during the handler tests; this test runs after all of them (conftest.py orders it
last) and compares each function's `access:` levels in the dev stage with those calls. A
level nobody calls is a permission an attacker gets for free through a bug in that
handler: remove it, or list it in REASONS with why it must stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.kinds import BY_REF
from compiler.kinds.function.spec import levels
from compiler.build.pipeline import build
from tests.conftest import REPO
from tests.handlers.platform import USED

# (function, resource, level) -> why it stays although no handler test calls it
REASONS: dict[tuple[str, str, str], str] = {}
# Levels that are several narrower ones: each part must be used, or read-write is too wide.
PARTS = {("table", "read-write"): ("read", "write"), ("bucket", "read-write"): ("read", "write"),
         ("user-pool", "admin"): ("read", "attributes", "users", "groups")}


def _actions(kind: str, level: str) -> set[str]:
    return {action for grant in BY_REF[kind].access[level] for action in grant.actions}


def _unused(function: str, kind: str, level: str, target: str) -> list[str]:
    calls = USED.get(function, set())
    parts = PARTS.get((kind, level), (level,))
    missing = []
    for part in parts:
        others = set().union(*(_actions(kind, p) for p in parts if p != part)) if len(parts) > 1 else set()
        own = _actions(kind, part) - others  # actions only this part grants
        if own and not any(action in own and name == target for action, name in calls):
            missing.append(part)
    return missing


def test_every_granted_level_is_called_by_its_handler(request: pytest.FixtureRequest) -> None:
    here = Path(__file__).parent
    suite = {p.name for p in here.glob("test_*.py")}
    ran = {item.path.name for item in request.session.items if item.path.parent == here}
    if request.config.option.keyword or request.config.option.markexpr or ran != suite:
        pytest.skip("needs every handler test in the same run (`make test` runs them all)")
    resolved = build(REPO / "spec", "dev", display_root=REPO).resolved["dev"]
    unused = []
    hints: dict[str, str] = {}
    for resource in sorted(resolved.index.values(), key=lambda r: r.name):
        if resource.kind.ref != "function":
            continue
        for ref, value in sorted(resource.spec.access.items()):
            target = resolved.naming.physical(ref.name)
            for level in levels(value):
                for part in _unused(resource.name, ref.kind, level, target):
                    if (resource.name, str(ref), level) not in REASONS:
                        unused.append(f"{resource.name}: {ref} {level}" + (f" (its {part} part)" if part != level else ""))
                        hints.setdefault(resource.name, _hint(resource.name, resource.spec, f"{ref} {part}"))
    assert unused == [], ("granted but never called by the handler tests:\n  " + "\n  ".join(unused) +
                          "\n\nCall each in a handler test (or remove the grant from the spec, or list it in REASONS "
                          "with why it stays):\n" + "\n".join(hints.values()))


def _hint(function: str, spec: Any, grant: str) -> str:
    """Where a test that exercises `grant` goes, and its shape (tests/handlers/platform.py
    records every call the handler makes)."""
    module = str(spec.handler).split(".")[0]
    path = Path(__file__).parent / f"test_{module}.py"
    where = f"{path.relative_to(REPO)} ({'add to it' if path.exists() else 'a new file'})"
    if spec.routes:
        method, route = spec.routes[0].route.split(" ", 1)
        event, what = f'api_event("{method}", "{route}", claims=...)', "a request"
    else:
        event, what = "{...}", "the event its trigger sends"
    name = function.replace("-", "_")
    return (f"  {where}:\n"
            f"    def test_{name}_uses_what_it_is_granted(aws: Platform) -> None:\n"
            f"        # {what} that makes it use {grant}\n"
            f'        response = aws.invoke("{function}", {event})\n'
            f"        assert ...  # what the call did, read back from the table, bucket, queue or bus")


def test_an_unused_grant_is_reported_with_the_test_to_write() -> None:
    """The failure names the handler test file (there, or to add) and shows a call to make."""
    resolved = build(REPO / "spec", "dev", display_root=REPO).resolved["dev"]
    routed = next(r for r in sorted(resolved.index.values(), key=lambda r: r.name)
                  if r.kind.ref == "function" and r.spec.routes)
    hint = _hint(routed.name, routed.spec, "table:users write")
    module = str(routed.spec.handler).split(".")[0]
    method, route = routed.spec.routes[0].route.split(" ", 1)
    assert hint.startswith(f"  tests/handlers/test_{module}.py (")
    assert "# a request that makes it use table:users write" in hint
    assert f'aws.invoke("{routed.name}", api_event("{method}", "{route}", claims=...))' in hint
