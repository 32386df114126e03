"""Least privilege across everything the repository compiles to: every Allow statement of
every policy (roles, queue and bucket policies) names its resources; `*` only for actions
AWS cannot scope (WILDCARD_ALLOWED, documented in compiler/awstypes.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from compiler.awstypes import WILDCARD_ALLOWED
from compiler.build.pipeline import build
from tests.conftest import REPO

OUTPUTS = build(REPO / "spec", "all", display_root=REPO).outputs
TEMPLATES = sorted(path for path in OUTPUTS if path.endswith(".json") and not path.endswith("manifest.json"))


def allow_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        docs = [p["PolicyDocument"] for p in props.get("Policies", [])] if resource["Type"] == "AWS::IAM::Role" else []
        docs += [props["PolicyDocument"]] if "PolicyDocument" in props else []
        found += [(logical, s) for doc in docs for s in doc["Statement"] if s["Effect"] == "Allow"]
    return found


@pytest.mark.parametrize("path", TEMPLATES)
def test_no_wildcard_resource_outside_the_allow_list(path: str) -> None:
    for logical, statement in allow_statements(json.loads(OUTPUTS[path])):
        resources = statement.get("Resource", [])
        if "*" in resources or any(isinstance(r, str) and r.endswith(":*") and "log-group" not in r for r in resources):
            assert set(statement["Action"]) <= WILDCARD_ALLOWED, f"{path} {logical}: {statement}"
        assert not any(a.endswith(":*") or a == "*" for a in statement["Action"]), f"{path} {logical}: wildcard action"


def test_the_platform_has_roles_to_check() -> None:
    roles = [p for p in TEMPLATES if any(s for s in allow_statements(json.loads(OUTPUTS[p])))]
    assert len(roles) >= 5  # the allow-list test above is not vacuous
