"""P007: in protected stages, every dead-letter queue has an alarm on visible messages."""

from __future__ import annotations

from typing import Any, Iterator

from .base import Rule, Unit, dead_letter_queues, props


def _alarmed_queue_names(unit: Unit) -> set[Any]:
    names: set[Any] = set()
    for template in unit.stage_templates.values():
        for resource in template.get("Resources", {}).values():
            if resource.get("Type") != "AWS::CloudWatch::Alarm":
                continue
            p = props(resource)
            if p.get("Namespace") == "AWS/SQS" and p.get("MetricName") == "ApproximateNumberOfMessagesVisible":
                names.update(json_key(d.get("Value")) for d in p.get("Dimensions", []) if d.get("Name") == "QueueName")
    return names


def json_key(value: Any) -> Any:
    """Dimension values may be literal names or GetAtt(QueueName); compare them as text."""
    import json

    return json.dumps(value, sort_keys=True)


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    if not unit.protect:
        return
    alarmed = _alarmed_queue_names(unit)
    dlqs = dead_letter_queues(unit)
    for logical, queue in unit.resources("AWS::SQS::Queue"):
        if logical not in dlqs:
            continue
        name = props(queue).get("QueueName")
        candidates = {json_key(name), json_key({"Fn::GetAtt": [logical, "QueueName"]})}
        if not candidates & alarmed:
            yield logical, f"dead-letter queue {name} has no alarm on ApproximateNumberOfMessagesVisible"


RULE = Rule("P007", "Alarm on every DLQ", "In protected stages a message in a dead-letter queue raises an alarm.", check, ("dlq_alarm",))
