"""iampolicy: how IAM decides one request against identity policies and a permissions boundary.

The evaluation logic of AWS's IAM User Guide ("Policy evaluation logic", "Condition
operators", "IAM JSON policy elements"), for the policy documents the compiler emits:
- an explicit Deny in any statement that applies wins; else any Allow allows; else the
  request is implicitly denied;
- with a permissions boundary, a request is allowed only when both the identity policies and
  the boundary allow it, and neither denies it;
- a statement applies when its Action (or NotAction) matches the action, case-insensitively,
  its Resource (or NotResource) matches the ARN, case-sensitively, with `*` and `?` wildcards,
  and every condition holds: operators are ANDed, keys within one operator are ANDed, values
  of one key are ORed;
- a condition key missing from the request fails every operator except the negated ones
  (`StringNotEquals`, `ArnNotLike`...), `...IfExists` and `Null: true`; keys are
  case-insensitive; `ForAnyValue:` / `ForAllValues:` compare multi-valued keys.

Documents are plain JSON values with every intrinsic function already resolved. An operator
this module does not know raises ValueError: it never passes a condition it cannot read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

Decision = Literal["allow", "deny", "implicit"]
Context = Mapping[str, "str | Sequence[str]"]


@dataclass(frozen=True)
class Request:
    action: str  # service:Operation
    resource: str  # an ARN, or "*" for actions that act on no resource
    context: Context = field(default_factory=dict)  # condition keys present in the request


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# operator -> (compare one request value with one policy value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda have, want: have == want, False),
    "StringNotEquals": (lambda have, want: have == want, True),
    "StringEqualsIgnoreCase": (lambda have, want: have.lower() == want.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda have, want: have.lower() == want.lower(), True),
    "StringLike": (lambda have, want: _glob(want, have), False),
    "StringNotLike": (lambda have, want: _glob(want, have), True),
    "ArnEquals": (lambda have, want: _glob(want, have), False),
    "ArnLike": (lambda have, want: _glob(want, have), False),
    "ArnNotEquals": (lambda have, want: _glob(want, have), True),
    "ArnNotLike": (lambda have, want: _glob(want, have), True),
    "Bool": (lambda have, want: have.lower() == want.lower(), False),
}


def _condition_holds(operator: str, key: str, wanted: Any, context: Context) -> bool:
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    present = {k.lower(): v for k, v in context.items()}
    have = present.get(key.lower())
    policy_values = [_text(v) for v in _listed(wanted)]
    if name == "Null":
        return any((have is None) == (v.lower() == "true") for v in policy_values)
    if name not in _OPERATORS:
        raise ValueError(f"condition operator {operator!r} is not one this evaluator reads")
    compare, negated = _OPERATORS[name]
    if have is None:
        return if_exists or negated or qualifier == "ForAllValues"
    values = [_text(v) for v in _listed(have)]

    def matches(value: str) -> bool:
        return any(compare(value, want) for want in policy_values)

    if qualifier == "ForAllValues":
        return all(matches(v) != negated for v in values)
    found = any(matches(v) for v in values)
    return not found if negated else found


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not any(_glob(a, request.action, ignore_case=True) for a in _listed(statement["Action"])):
            return False
    elif any(_glob(a, request.action, ignore_case=True) for a in _listed(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_glob(r, request.resource) for r in _listed(statement["Resource"])):
            return False
    elif any(_glob(r, request.resource) for r in _listed(statement.get("NotResource", []))):
        return False
    return all(_condition_holds(operator, key, wanted, request.context)
               for operator, keys in (statement.get("Condition") or {}).items() for key, wanted in keys.items())


def statements(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for document in documents for s in _listed(document.get("Statement", []))]


def decide(documents: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """IAM's answer for one request against identity policies (no boundary)."""
    allowed = False
    for statement in statements(documents):
        if _applies(statement, request):
            if statement.get("Effect") == "Deny":
                return "deny"
            allowed = True
    return "allow" if allowed else "implicit"


def allowed(documents: Iterable[Mapping[str, Any]], request: Request, boundary: Mapping[str, Any] | None = None) -> bool:
    """Whether the request is allowed: by the identity policies and, if any, within the boundary."""
    if decide(documents, request) != "allow":
        return False
    return boundary is None or decide([boundary], request) == "allow"
