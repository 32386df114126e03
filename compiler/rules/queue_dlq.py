"""P006: every queue that is not itself a dead-letter queue has one."""

from __future__ import annotations

from typing import Iterator

from .base import Rule, Unit, dead_letter_queues, props


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    dlqs = dead_letter_queues(unit)
    for logical, queue in unit.resources("AWS::SQS::Queue"):
        if logical not in dlqs and "RedrivePolicy" not in props(queue):
            yield logical, "queue has no dead-letter queue (RedrivePolicy)"


RULE = Rule("P006", "Every queue has a DLQ", "Failed messages go to a dead-letter queue, never silently away.", check)
