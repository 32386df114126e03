"""P005: no `*` action or resource in an Allow, except where AWS offers no resource scope."""

from __future__ import annotations

from typing import Any, Iterator

from ..awstypes import WILDCARD_ALLOWED
from .base import Rule, Unit, props

POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy")


def _documents(resource: dict[str, Any]) -> list[dict[str, Any]]:
    p = props(resource)
    if resource.get("Type") == "AWS::IAM::Role":
        return [policy.get("PolicyDocument", {}) for policy in p.get("Policies", [])]
    return [p.get("PolicyDocument", {})]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    for logical, resource in unit.resources("AWS::IAM::Role", *POLICY_TYPES):
        for document in _documents(resource):
            for statement in document.get("Statement", []):
                if statement.get("Effect") != "Allow":
                    continue
                actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
                wild = [a for a in actions if a == "*" or a.endswith(":*")]
                if wild:
                    yield logical, f"statement {statement.get('Sid', '?')} allows wildcard actions {', '.join(wild)}"
                if "*" in _as_list(statement.get("Resource", [])) and not set(actions) <= WILDCARD_ALLOWED:
                    others = sorted(set(actions) - WILDCARD_ALLOWED)
                    yield logical, f"statement {statement.get('Sid', '?')} allows {', '.join(others)} on every resource (*)"


RULE = Rule(
    "P005",
    "No IAM wildcards",
    "Allow statements name their actions and resources; `*` resources only for the documented allow-list.",
    check,
)
