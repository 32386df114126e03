"""The execution role cannot make an administrator: read as IAM reads it, over the generated
templates of every stage (compiler/iampolicy.py evaluates; tests/delivery/iam_world.py resolves).

Every role a stage creates carries the stage's permissions boundary; the execution role may
write a role only with that boundary on it, may not take it off, may not change the boundary
policy, and the boundary itself allows nothing in IAM or STS. The boundary still allows every
grant the kinds' roles carry, so bounding them takes nothing away.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from compiler.iampolicy import Request, allowed, decide
from tests.conftest import REPO
from tests.delivery.iam_world import ACCOUNT, Stage, policy_documents

STAGES = sorted(p.parent.name for p in (REPO / "generated").glob("*/manifest.json"))
# AWS's limit for a managed policy document, whitespace not counted (IAM quotas)
MANAGED_POLICY_CHARS = 6144


def _bootstrapped(name: str) -> tuple[Stage, str, dict[str, Any], dict[str, Any]]:
    stage = Stage(REPO / "generated" / name)
    found = [(stack, logical, r) for stack, logical, r in stage.resources("AWS::IAM::Role")
             if r.get("Metadata", {}).get("Delivery") == "execution-role"]
    assert len(found) == 1, f"stage {name} has no single execution role"
    stack, _, role = found[0]
    (boundary,) = [r for _, _, r in stage.resources("AWS::IAM::ManagedPolicy")
                   if stage.value(stack, r["Properties"].get("ManagedPolicyName", "")) == stage.boundary.rsplit("/", 1)[1]]
    return stage, stack, role, stage.value(stack, boundary["Properties"]["PolicyDocument"])


@pytest.fixture(scope="module", params=STAGES)
def world(request: pytest.FixtureRequest) -> tuple[Stage, list[dict[str, Any]], dict[str, Any]]:
    stage, stack, role, boundary = _bootstrapped(request.param)
    return stage, policy_documents(stage, stack, role), boundary


def _role(stage: Stage, name: str = "x") -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{stage.manifest['service']}-{stage.manifest['stage']}-{name}"


def test_a_role_is_written_only_with_the_stage_boundary(world: tuple[Stage, list[dict[str, Any]], dict[str, Any]]) -> None:
    stage, execution, _ = world
    other = f"arn:aws:iam::{ACCOUNT}:policy/anything-else"
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:UpdateAssumeRolePolicy",
                   "iam:UpdateRole", "iam:PutRolePermissionsBoundary"):
        assert allowed(execution, Request(action, _role(stage), {"iam:PermissionsBoundary": stage.boundary})), action
        assert not allowed(execution, Request(action, _role(stage))), f"{action} without a boundary"
        assert decide(execution, Request(action, _role(stage), {"iam:PermissionsBoundary": other})) == "deny", action
    # no way around it: off, widened in place, or another policy attached
    assert decide(execution, Request("iam:DeleteRolePermissionsBoundary", _role(stage),
                                     {"iam:PermissionsBoundary": stage.boundary})) == "deny"
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion"):
        assert decide(execution, Request(action, stage.boundary)) == "deny", action
    admin = {"iam:PermissionsBoundary": stage.boundary, "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert not allowed(execution, Request("iam:AttachRolePolicy", _role(stage), admin))
    assert not allowed(execution, Request("iam:CreatePolicy", f"arn:aws:iam::{ACCOUNT}:policy/{stage.manifest['service']}-x"))


def test_the_execution_role_reaches_no_other_stage_and_no_delivery_role(
        world: tuple[Stage, list[dict[str, Any]], dict[str, Any]]) -> None:
    stage, execution, _ = world
    bounded = {"iam:PermissionsBoundary": stage.boundary}
    others = [s for s in STAGES if s != stage.manifest["stage"]]
    for other in others:
        foreign = f"arn:aws:iam::{ACCOUNT}:role/{stage.manifest['service']}-{other}-x"
        assert not allowed(execution, Request("iam:CreateRole", foreign, bounded)), other
    for stack, logical, role in stage.resources("AWS::IAM::Role"):
        if role.get("Metadata", {}).get("Delivery"):
            arn = stage.arn(stack, logical)
            for action in ("iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole", "iam:AttachRolePolicy"):
                assert decide(execution, Request(action, arn, bounded)) == "deny", (action, arn)


def test_the_boundary_allows_nothing_in_iam_or_sts(world: tuple[Stage, list[dict[str, Any]], dict[str, Any]]) -> None:
    stage, _, boundary = world
    for statement in boundary["Statement"]:
        assert statement["Effect"] == "Allow"
        assert not any(a.split(":")[0] in ("iam", "sts", "organizations") for a in statement["Action"]), statement["Sid"]
    for action, resource in (("iam:CreateRole", _role(stage)), ("iam:PassRole", _role(stage)), ("sts:AssumeRole", _role(stage)),
                             ("iam:PutRolePolicy", _role(stage))):
        assert decide([boundary], Request(action, resource)) == "implicit"
    size = len(re.sub(r"\s", "", json.dumps(boundary)))
    assert size <= MANAGED_POLICY_CHARS, f"the boundary is {size} characters; IAM allows {MANAGED_POLICY_CHARS}"


def _examples(pattern: str) -> str:
    """A concrete resource a policy pattern names (`table/x/index/*` -> `table/x/index/i`)."""
    return pattern.replace("*", "i")


def test_every_role_carries_the_boundary_and_loses_nothing_to_it(
        world: tuple[Stage, list[dict[str, Any]], dict[str, Any]]) -> None:
    stage, _, boundary = world
    roles = [(stack, logical, role) for stack, logical, role in stage.resources("AWS::IAM::Role")
             if not role.get("Metadata", {}).get("Delivery")]
    assert roles, "a stage with functions has roles to check"
    for stack, logical, role in roles:
        assert stage.value(stack, role["Properties"].get("PermissionsBoundary", "")) == stage.boundary, f"{stack}/{logical}"
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                for raw in statement["Resource"]:
                    target = stage.target(stack, raw)
                    context = {f"aws:ResourceTag/{k}": v for k, v in (stage.tags(*target) if target else {}).items()}
                    resource = _examples(stage.value(stack, raw))
                    for action in statement["Action"]:
                        request = Request(action, resource, context)
                        assert decide([boundary], request) == "allow", f"{stack}/{logical}: {action} on {resource} is outside the boundary"
