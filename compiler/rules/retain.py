"""P009: in protected stages, stateful resources survive deletion and replacement."""

from __future__ import annotations

from typing import Iterator

from .base import Rule, Unit

STATEFUL = (
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::Cognito::UserPool",
    "AWS::SecretsManager::Secret",
    "AWS::Logs::LogGroup",
)


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    if not unit.protect:
        return
    for logical, resource in unit.resources(*STATEFUL):
        missing = [p for p in ("DeletionPolicy", "UpdateReplacePolicy") if resource.get(p) != "Retain"]
        if missing:
            yield logical, f"{resource['Type']} in {unit.stage} without Retain ({', '.join(missing)})"


RULE = Rule("P009", "Retain stateful resources", "Protected stages never delete data with a stack or replacement.", check, ("retain",))
