"""P008: every log group has a retention, and every function logs to an explicit group."""

from __future__ import annotations

from typing import Iterator

from .base import Rule, Unit, props


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    for logical, resource in unit.resources("AWS::Logs::LogGroup"):
        if "RetentionInDays" not in props(resource):
            yield logical, "log group keeps logs forever (no RetentionInDays)"
    for logical, resource in unit.resources("AWS::Lambda::Function"):
        if not (props(resource).get("LoggingConfig") or {}).get("LogGroup"):
            yield logical, "function logs to the implicit log group, which never expires"


RULE = Rule("P008", "Log retention", "Every log group expires its logs.", check)
