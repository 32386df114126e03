"""How a Diff is shown: colored text for a terminal, Markdown for a PR comment, JSON."""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from .diff import BLOCKED, DATA_LOSS, REPLACE, RETAINED, RISKS, STEPS, Diff, Finding, PropertyChange, ResourceChange

SIGN = {"add": "+", "remove": "-", "modify": "~"}
COLOR = {REPLACE: "yellow", DATA_LOSS: "red", BLOCKED: "magenta", RETAINED: "cyan", STEPS: "blue", "add": "green", "remove": "red", "modify": "yellow"}
MAX_VALUE = 100


def _value(value: Any) -> str:
    text = "(none)" if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _summary(diffs: Sequence[Diff]) -> str:
    counts: dict[str, int] = {}
    for diff in diffs:
        for verdict, n in diff.verdicts.items():
            counts[verdict] = counts.get(verdict, 0) + n
    stacks = sum(len(d.stacks) for d in diffs)
    resources = sum(len(s.resources) for d in diffs for s in d.stacks)
    risks = ", ".join(f"{v} {counts[v]}" for v in (REPLACE, DATA_LOSS, BLOCKED, RETAINED, STEPS) if v in counts) or "no risks"
    return f"{stacks} stack(s) and {resources} resource(s) change; {risks}"


def risks(diff: Diff) -> list[tuple[str, Finding]]:
    """Every finding that makes the diff risky (REPLACE, DATA LOSS, BLOCKED), with where it is:
    shown first, each with its reason, so a reviewer cannot scroll past one."""
    found = [(stack.stack, f) for stack in diff.stacks for f in stack.findings if f.verdict in RISKS]
    found += [(f"{stack.stack}/{r.logical_id}", f) for stack in diff.stacks for r in stack.resources
              for f in r.findings if f.verdict in RISKS]
    return found


def text(diffs: Sequence[Diff], color: bool = False) -> str:
    import click

    def paint(s: str, key: str) -> str:
        return click.style(s, fg=COLOR.get(key), bold=key in (DATA_LOSS, BLOCKED)) if color else s

    lines: list[str] = []
    for diff in diffs:
        lines.append(f"stage {diff.stage}, against {diff.against}:" + ("" if diff.stacks else " no changes"))
        if found := risks(diff):
            lines.append(f"  risks ({len(found)}), before the details:")
            lines += [f"    {paint(f.verdict, f.verdict)} {where} ({f.cause}): {f.note}" for where, f in found]
        for stack in diff.stacks:
            badges = " ".join(paint(v, v) for v in stack.verdicts)
            lines.append(f"{paint(SIGN[stack.action], stack.action)} stack {stack.stack} {badges}".rstrip())
            lines += [f"    ! {_finding(f)}" for f in stack.findings]
            for resource in stack.resources:
                lines += _text_resource(resource, paint)
    lines.append(_summary(diffs))
    return "\n".join(lines) + "\n"


def _text_resource(resource: ResourceChange, paint: Callable[[str, str], str]) -> list[str]:
    badges = " ".join(paint(v, v) for v in resource.verdicts)
    source = f"  ({resource.source})" if resource.source else ""
    lines = [f"  {paint(SIGN[resource.action], resource.action)} {resource.logical_id} {resource.type}{source} {badges}".rstrip()]
    lines += [_text_change(change) for change in resource.changes]
    lines += [f"      ! {_finding(f)}" for f in resource.findings]
    return lines


def _finding(finding: Finding) -> str:
    """`VERDICT (cause): what happens. Fix: what to do`."""
    return f"{finding.verdict or 'note'} ({finding.cause}): {finding.note}"


def _text_change(change: PropertyChange) -> str:
    mark = "  [replaces]" if change.replaces else ""
    return f"      {change.path}: {_value(change.old)} -> {_value(change.new)}{mark}"


def markdown(diffs: Sequence[Diff]) -> str:
    out = ["## Infrastructure diff", "", f"**{_summary(diffs)}**", ""]
    for diff in diffs:
        out.append(f"### Stage `{diff.stage}` (against `{diff.against}`)")
        if not diff.stacks:
            out += ["", "No changes.", ""]
            continue
        if found := risks(diff):
            out += ["", f"**Risks ({len(found)})**", ""]
            out += [f"- **{f.verdict}** `{where}` ({f.cause}): {f.note}" for where, f in found]
        out += ["", "| | stack | resource | type | verdict | spec |", "|---|---|---|---|---|---|"]
        for stack in diff.stacks:
            out.append(f"| {SIGN[stack.action]} | `{stack.stack}` | | | {_badges(stack.verdicts)} | |")
            for r in stack.resources:
                source = f"`{r.source}`" if r.source else ""
                out.append(f"| {SIGN[r.action]} | `{stack.stack}` | `{r.logical_id}` | `{r.type}` | {_badges(r.verdicts)} | {source} |")
        details = [_md_details(stack.stack, [_finding(f) for f in stack.findings], stack.resources) for stack in diff.stacks]
        out += ["", *[d for d in details if d]]
    return "\n".join(out).rstrip() + "\n"


def _badges(verdicts: Sequence[str]) -> str:
    return " ".join(f"**{v}**" for v in verdicts)


def _md_details(stack: str, notes: Sequence[str], resources: Sequence[ResourceChange]) -> str:
    body = [f"- {note}" for note in notes]  # stack findings, already as text
    for r in resources:
        if not (r.changes or r.notes):
            continue
        body.append(f"- `{r.logical_id}`")
        body += [f"  - `{c.path}`: `{_value(c.old)}` → `{_value(c.new)}`{' (replaces)' if c.replaces else ''}" for c in r.changes]
        body += [f"  - ⚠ {_finding(f)}" for f in r.findings]
    if not body:
        return ""
    return "\n".join([f"<details><summary>{stack}: details</summary>", "", *body, "", "</details>", ""])


def as_json(diffs: Sequence[Diff]) -> str:
    found = [{"stage": d.stage, "where": where, "verdict": f.verdict, "cause": f.cause, "note": f.note}
             for d in diffs for where, f in risks(d)]
    return json.dumps({"diffs": [d.to_json() for d in diffs], "risks": found, "summary": _summary(diffs)},
                      indent=2, sort_keys=True) + "\n"
