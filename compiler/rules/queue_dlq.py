"""P006: every queue that is not itself a dead-letter queue has one."""

from __future__ import annotations

from typing import Iterator

from .base import Rule, Unit, props


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    queues = dict(unit.resources("AWS::SQS::Queue"))
    targets = {
        (props(q).get("RedrivePolicy") or {}).get("deadLetterTargetArn", {}).get("Fn::GetAtt", [None])[0]
        for q in queues.values()
        if isinstance((props(q).get("RedrivePolicy") or {}).get("deadLetterTargetArn"), dict)
    }
    for logical, queue in queues.items():
        is_dlq = logical in targets or "RedriveAllowPolicy" in props(queue)
        if not is_dlq and "RedrivePolicy" not in props(queue):
            yield logical, "queue has no dead-letter queue (RedrivePolicy)"


RULE = Rule("P006", "Every queue has a DLQ", "Failed messages go to a dead-letter queue, never silently away.", check)
