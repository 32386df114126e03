"""What a policy rule is, and what it sees: one stage's templates, read as JSON.

Rules run on the generated templates (like cfn-lint), so they judge exactly what will be
deployed. A rule yields (logical id, message) for each violation; the runner maps it back
to the spec through the resource's `Metadata.Source` and honours the resource's
suppressions (`Metadata.Suppress`, from `suppress:` in the spec) and the unsafe choices
made with a reason (`Metadata.UnsafeChoices`) that the rule names in `waived_by`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

Template = dict[str, Any]


@dataclass(frozen=True)
class Unit:
    """One stack's template, with the rest of its stage for rules that look across stacks."""

    stage: str
    stack: str
    protect: bool  # the stage retains stateful resources (prod)
    template: Template
    stage_templates: Mapping[str, Template]

    def resources(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical, resource in sorted(self.template.get("Resources", {}).items()):
            if not types or resource.get("Type") in types:
                yield logical, resource


@dataclass(frozen=True)
class Rule:
    id: str  # stable: users cite and suppress it
    title: str
    description: str
    check: Callable[[Unit], Iterator[tuple[str, str]]]
    waived_by: tuple[str, ...] = field(default=())  # unsafe-choice fields that acknowledge it


def props(resource: dict[str, Any]) -> dict[str, Any]:
    value = resource.get("Properties", {})
    return value if isinstance(value, dict) else {}


def _target(arn: Any) -> str | None:
    return arn["Fn::GetAtt"][0] if isinstance(arn, dict) and isinstance(arn.get("Fn::GetAtt"), list) else None


def dead_letter_queues(unit: Unit) -> set[str]:
    """Logical ids of the template's dead-letter queues: a queue's redrive target, a
    function's dead-letter target (asynchronous invocations), or a queue that says who may
    use it as one (RedriveAllowPolicy)."""
    found = {_target((props(q).get("RedrivePolicy") or {}).get("deadLetterTargetArn")) for _, q in unit.resources("AWS::SQS::Queue")}
    found |= {_target((props(f).get("DeadLetterConfig") or {}).get("TargetArn")) for _, f in unit.resources("AWS::Lambda::Function")}
    found |= {logical for logical, q in unit.resources("AWS::SQS::Queue") if "RedriveAllowPolicy" in props(q)}
    return {logical for logical in found if logical is not None}
