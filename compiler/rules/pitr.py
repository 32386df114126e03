"""P002: tables in protected stages have point-in-time recovery."""

from __future__ import annotations

from typing import Iterator

from .base import Rule, Unit, props


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    if not unit.protect:
        return
    for logical, resource in unit.resources("AWS::DynamoDB::Table"):
        spec = props(resource).get("PointInTimeRecoverySpecification") or {}
        if spec.get("PointInTimeRecoveryEnabled") is not True:
            yield logical, f"table has no point-in-time recovery in {unit.stage}"


RULE = Rule(
    "P002", "PITR in protected stages", "Tables of protected stages keep point-in-time recovery.", check,
    ("point_in_time_recovery",),
)
