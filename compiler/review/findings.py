"""findings: the review gate's vocabulary. Verdicts and the causes behind them, and the
change records a diff is made of (a property's change, a resource's, a stack's, a stage's),
each with its findings: what happens and the fix in words (docs/review.md lists them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator


REPLACE, DATA_LOSS, BLOCKED, RETAINED, STEPS = "REPLACE", "DATA LOSS", "BLOCKED", "RETAINED", "STEPS"
BROADENS = "BROADENS"
DESTRUCTIVE = (REPLACE, DATA_LOSS, BLOCKED)  # what deploy refuses without --allow-risk
RISKS = (*DESTRUCTIVE, BROADENS)  # what the review gate stops on (exit 4)

# Causes: stable words, listed with their fixes in docs/review.md.
CREATE_ONLY = "create-only property"
TYPE_CHANGE = "type change"
KEY_TYPE = "key attribute type"
CASCADE = "cascade"
INDEX_RULE = "index update rule"
NAME_COLLISION = "name collision"
UNIQUE_IN_PARENT = "unique-in-parent collision"
IMMUTABLE_SCHEMA = "immutable schema"
UPDATE_FAILS = "cannot be updated"
EXPORT_IN_USE = "export in use"
PRODUCER_REMOVED = "producer removed"
MOVE = "move between stacks"
STACK_LEFT = "stack left the spec"
DATA = "data"


@dataclass(frozen=True)
class Finding:
    verdict: str
    cause: str
    message: str
    fix: str = ""

    @property
    def note(self) -> str:
        return f"{self.message}. Fix: {self.fix}" if self.fix else self.message


@dataclass(frozen=True)
class PropertyChange:
    path: str
    old: Any
    new: Any
    replaces: bool = False


class _Judged:
    """Verdicts (one badge each, in finding order) and notes of a record with findings."""

    findings: tuple[Finding, ...]

    @property
    def verdicts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.verdict for f in self.findings if f.verdict))

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f.note for f in self.findings)


@dataclass(frozen=True)
class ResourceChange(_Judged):
    logical_id: str
    type: str
    action: str  # "add", "remove", "modify"
    source: str | None
    changes: tuple[PropertyChange, ...] = ()
    findings: tuple[Finding, ...] = ()
    properties: tuple[tuple[str, Any], ...] = ()  # an added resource's key properties
    access: tuple[str, ...] = ()  # an added resource's policies, in full


@dataclass(frozen=True)
class StackChange(_Judged):
    stack: str
    action: str  # "add", "remove", "modify"
    resources: tuple[ResourceChange, ...] = ()
    findings: tuple[Finding, ...] = ()
    steps: int = 1  # updates deploy applies to this stack


@dataclass(frozen=True)
class Diff:
    stage: str
    against: str
    stacks: tuple[StackChange, ...] = field(default=())

    @property
    def verdicts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for stack in self.stacks:
            for verdict in [*stack.verdicts, *(v for r in stack.resources for v in r.verdicts)]:
                counts[verdict] = counts.get(verdict, 0) + 1
        return counts

    @property
    def risky(self) -> bool:
        return any(v in RISKS for v in self.verdicts)

    def findings(self) -> Iterator[tuple[str, str | None, Finding]]:
        """(stack, logical id or None, finding) for every finding of the stage."""
        for stack in self.stacks:
            yield from ((stack.stack, None, f) for f in stack.findings)
            yield from ((stack.stack, r.logical_id, f) for r in stack.resources for f in r.findings)

    def to_json(self) -> dict[str, Any]:
        def finding(f: Finding) -> dict[str, str]:
            return {"verdict": f.verdict, "cause": f.cause, "message": f.message, "fix": f.fix}

        def resource(r: ResourceChange) -> dict[str, Any]:
            return {
                "logical_id": r.logical_id, "type": r.type, "action": r.action, "source": r.source,
                "changes": [vars(c) for c in r.changes], "verdicts": list(r.verdicts), "notes": list(r.notes),
                "findings": [finding(f) for f in r.findings],
                "properties": dict(r.properties), "access": list(r.access),
            }

        stacks = [
            {
                "stack": s.stack, "action": s.action, "steps": s.steps, "verdicts": list(s.verdicts), "notes": list(s.notes),
                "findings": [finding(f) for f in s.findings], "resources": [resource(r) for r in s.resources],
            }
            for s in self.stacks
        ]
        return {"stage": self.stage, "against": self.against, "verdicts": self.verdicts, "stacks": stacks}


