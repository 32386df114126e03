"""access: what a change of a role, a policy, a route, an authorizer or access held in settings widens (the fixture
pairs in tests/review/access.yaml), and the grants read from the repository's templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.review import access, settings
from compiler.manifest import Manifest
from tests.conftest import REPO

PAIRS: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "access.yaml").read_text())


@pytest.mark.parametrize("pair", PAIRS, ids=[p["name"] for p in PAIRS])
def test_pair(pair: dict[str, Any]) -> None:
    found = access.widening(pair["old"], pair["new"]) + settings.widening(pair["old"], pair["new"])
    assert [w.cause for w in found] == pair["expect"], [w.message for w in found]
    text = "\n".join(w.message for w in found)
    for part in pair.get("has", []):
        assert part in text, text
    assert all(w.cause in access.FIXES or w.cause in settings.FIXES for w in found)


def test_the_pairs_cover_every_cause_and_both_answers() -> None:
    causes = {c for p in PAIRS for c in p["expect"]}
    assert causes == set(access.FIXES) | set(settings.FIXES)
    assert sum(1 for p in PAIRS if not p["expect"]) >= 6


def _templates(stage: str) -> dict[str, dict[str, Any]]:
    manifest = Manifest.read(REPO / "generated", stage)
    assert manifest is not None
    return {s: json.loads(manifest.template_path(REPO / "generated", s).read_text()) for s in manifest.stacks}


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_resource_of_the_repository_is_unchanged_against_itself(stage: str) -> None:
    """No resource widens against itself, and nothing of a role is skipped: every action
    of its statements and every managed policy is in its grants."""
    for template in _templates(stage).values():
        for resource in template["Resources"].values():
            assert access.widening(resource, resource) == []
            if resource["Type"] == access.ROLE:
                props = resource["Properties"]
                docs = [props["AssumeRolePolicyDocument"], *(p["PolicyDocument"] for p in props.get("Policies", []))]
                actions = {a for doc in docs for s in doc["Statement"]
                           for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
                found = access.grants(resource)
                assert actions == {g.action for g in found if g.action != "managed policy"}
                assert {access.show(a) for a in props.get("ManagedPolicyArns", [])} == {
                    g.resource for g in found if g.action == "managed policy"}


def test_a_role_names_the_functions_that_run_with_it() -> None:
    for template in _templates("dev").values():
        resources = template["Resources"]
        for logical, resource in resources.items():
            if resource["Type"] == access.FUNCTION:
                role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
                assert resource["Properties"]["FunctionName"] in access.role_users(resources, role)


def test_show_keeps_globs_and_names_intrinsics() -> None:
    value = {"Fn::Sub": ["${T}/index/*", {"T": {"Fn::ImportValue": "listbackup-dev-table-users:arn"}}]}
    assert access.show(value) == "${import:listbackup-dev-table-users:arn}/index/*"
    assert access.show({"Fn::GetAtt": ["Logs", "Arn"]}) == "${Logs.Arn}"
    assert access.show({"Fn::Join": ["", [{"Ref": "B"}, "/*"]]}) == "${B}/*"
    assert access.show({"Fn::Sub": "${Bucket.Arn}/*"}) == "${Bucket.Arn}/*"
