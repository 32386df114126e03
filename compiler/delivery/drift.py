"""drift: does a deployed stage still match generated/<stage>, the reviewed artifact?

Two questions, both per stack of the manifest (and any stack of the stage that left it):
- template drift: the template each stack holds now against the one generated/ has,
  judged with the review gate's verdicts (a stack updated by hand, a deploy that never
  happened, a stack that left the spec but still runs);
- resource drift: CloudFormation's drift detection (resources changed outside
  CloudFormation), where the endpoint offers it; where it does not (the moto emulator)
  the report says so instead of pretending the resources were checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..review.diff import Diff
from ..review.diff_render import text as render

__all__ = ["DriftReport", "ResourceDrift"]


@dataclass(frozen=True)
class ResourceDrift:
    stack: str
    logical_id: str
    type: str
    status: str  # MODIFIED | DELETED | DETECTION_FAILED
    differences: tuple[str, ...] = ()


@dataclass(frozen=True)
class DriftReport:
    stage: str
    template: Diff
    resources: tuple[ResourceDrift, ...] = field(default=())
    unchecked: str | None = None  # why resource drift was not detected, when it was not

    @property
    def drifted(self) -> bool:
        return bool(self.template.stacks or self.resources)

    def text(self) -> str:
        lines = [render([self.template]).rstrip("\n")]
        if self.unchecked:
            lines.append(f"resource drift: not checked: {self.unchecked}")
        elif self.resources:
            lines.append(f"resource drift ({len(self.resources)} resource(s) changed outside CloudFormation):")
            for drift in self.resources:
                lines.append(f"  {drift.stack}: {drift.logical_id} ({drift.type}) {drift.status}")
                lines += [f"      {difference}" for difference in drift.differences]
        else:
            lines.append("resource drift: none (CloudFormation drift detection on every deployed stack)")
        stacks = len(self.template.stacks) + len({d.stack for d in self.resources} - {s.stack for s in self.template.stacks})
        lines.append(f"stage {self.stage}: " + (f"DRIFTED ({stacks} stack(s)); `platformc deploy --stage {self.stage}` "
                                                "brings it back to generated/" if self.drifted else "matches generated/"))
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "drifted": self.drifted,
            "template": self.template.to_json(),
            "resources": [vars(d) | {"differences": list(d.differences)} for d in self.resources],
            "resource_drift_checked": self.unchecked is None,
            "unchecked": self.unchecked,
        }


def property_differences(drift: dict[str, Any]) -> tuple[str, ...]:
    """A resource drift's property differences as lines (DescribeStackResourceDrifts)."""
    return tuple(
        f"{d.get('PropertyPath', '?')}: {d.get('DifferenceType', 'NOT_EQUAL')}, expected {d.get('ExpectedValue')}, "
        f"actual {d.get('ActualValue')}"
        for d in drift.get("PropertyDifferences", [])
    )
