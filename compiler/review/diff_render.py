"""How a Diff is shown: colored text for a terminal, Markdown for a PR comment, JSON."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Sequence

from .findings import BLOCKED, BROADENS, DATA_LOSS, REPLACE, RETAINED, RISKS, STEPS, Diff, Finding, PropertyChange, ResourceChange

SIGN = {"add": "+", "remove": "-", "modify": "~"}
COLOR = {BROADENS: "bright_red", REPLACE: "yellow", DATA_LOSS: "red", BLOCKED: "magenta", RETAINED: "cyan", STEPS: "blue", "add": "green", "remove": "red", "modify": "yellow"}
MAX_VALUE = 100
CONTEXT = 24  # characters kept before and after the first and last difference of long values


def _raw(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _value(value: Any) -> str:
    return _cut(_raw(value))


def _pair(old: Any, new: Any) -> str:
    """`old -> new`, readable however long: lists of plain values as what left and what
    came (in full), long texts around where they differ (never two identical prefixes)."""
    if (isinstance(old, list) or isinstance(new, list)) and isinstance(old or [], list) and isinstance(new or [], list) and \
            not any(isinstance(v, (dict, list)) for v in [*(old or []), *(new or [])]):
        old, new = old or [], new or []
        gone = [_raw(v) for v in old if v not in new]
        came = [_raw(v) for v in new if v not in old]
        parts = ([f"-{', -'.join(gone)}"] if gone else []) + ([f"+{', +'.join(came)}"] if came else [])
        return " ".join(parts) or f"{_raw(old)} -> {_raw(new)} (order)"
    a, b = _raw(old), _raw(new)
    if max(len(a), len(b)) > MAX_VALUE and old is not None and new is not None:
        start = len(os.path.commonprefix([a, b]))
        end = len(os.path.commonprefix([a[start:][::-1], b[start:][::-1]]))
        cut = max(0, start - CONTEXT)
        a = ("…" if cut else "") + a[cut: len(a) - max(0, end - CONTEXT)] + ("…" if end > CONTEXT else "")
        b = ("…" if cut else "") + b[cut: len(b) - max(0, end - CONTEXT)] + ("…" if end > CONTEXT else "")
    return f"{_cut(a)} -> {_cut(b)}"


def _summary(diffs: Sequence[Diff]) -> str:
    counts: dict[str, int] = {}
    for diff in diffs:
        for verdict, n in diff.verdicts.items():
            counts[verdict] = counts.get(verdict, 0) + n
    stacks = sum(len(d.stacks) for d in diffs)
    resources = sum(len(s.resources) for d in diffs for s in d.stacks)
    risks = ", ".join(f"{v} {counts[v]}" for v in (BROADENS, REPLACE, DATA_LOSS, BLOCKED, RETAINED, STEPS) if v in counts) or "no risks"
    return f"{stacks} stack(s) and {resources} resource(s) change; {risks}"


def risks(diff: Diff) -> list[tuple[str, Finding]]:
    """Every finding that makes the diff risky (BROADENS, REPLACE, DATA LOSS, BLOCKED), with where it is:
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
    lines += [line for change in resource.changes for line in _text_change(change)]
    lines += [f"      {path} = {_value(value)}" for path, value in resource.properties]
    lines += [f"      access: {line}" for line in resource.access]
    lines += [f"      ! {_finding(f)}" for f in resource.findings]
    return lines


def _finding(finding: Finding) -> str:
    """`VERDICT (cause): what happens. Fix: what to do`."""
    return f"{finding.verdict or 'note'} ({finding.cause}): {finding.note}"


def _expanded(change: PropertyChange) -> list[PropertyChange]:
    """A mapping added or removed whole, too long for one line, as its fields (a new policy
    statement: its actions in full)."""
    whole = change.new if change.old is None else change.old if change.new is None else None
    if not isinstance(whole, dict) or len(_raw(whole)) <= MAX_VALUE:
        return [change]
    return [PropertyChange(f"{change.path}.{key}", None if change.old is None else value,
                           value if change.old is None else None, change.replaces)
            for key, value in sorted(whole.items())]


def _text_change(change: PropertyChange) -> list[str]:
    mark = "  [replaces]" if change.replaces else ""
    return [f"      {c.path}: {_pair(c.old, c.new)}{mark}" for c in _expanded(change)]


MAX_COMMENT = 60_000  # characters of the PR comment (GitHub refuses a comment over 65,536)


def markdown(diffs: Sequence[Diff], limit: int = MAX_COMMENT, full: str | None = None) -> str:
    """The PR comment: every risk of every stage first, in full; then per stage its changes
    folded in `<details>` (a stage with the same changes as one before it says so, or lists
    only what it adds). Over `limit`, the per-resource details go first, then table rows,
    each with where the full diff is (`full`: e.g. the workflow artifact's link); the risks
    always stay."""
    head = ["## Infrastructure diff", "", f"**{_summary(diffs)}**", ""]
    found = [(diff.stage, where, f) for diff in diffs for where, f in risks(diff)]
    head += [f"### Risks ({len(found)})", ""] if found else ["No change widens access, replaces, loses data or is blocked.", ""]
    head += [f"- **{f.verdict}** `{stage}` `{where}` ({f.cause}): {f.note}" for stage, where, f in found]
    stages = [_md_stage(diff) for diff in diffs]
    where = f" The full diff: {full}" if full else " The full diff: `platformc diff --stage all`."
    for keep_details, keep_rows in ((True, None), (False, None), *((False, n) for n in (200, 100, 50, 20, 5, 0))):
        body = _md_stages(diffs, stages, keep_details, keep_rows, where)
        text = "\n".join([*head, "", *body]).rstrip() + "\n"
        if len(text) <= limit:
            return text
    return text  # the risks alone: never cut


def _md_stage(diff: Diff) -> tuple[list[str], list[str]]:
    """(table rows, detail blocks) of one stage."""
    rows = []
    for stack in diff.stacks:
        rows.append(f"| {SIGN[stack.action]} | `{stack.stack}` | | | {_badges(stack.verdicts)} | |")
        for r in stack.resources:
            source = f"`{r.source}`" if r.source else ""
            rows.append(f"| {SIGN[r.action]} | `{stack.stack}` | `{r.logical_id}` | `{r.type}` | {_badges(r.verdicts)} | {source} |")
    details = [_md_details(stack.stack, [_finding(f) for f in stack.findings], stack.resources) for stack in diff.stacks]
    return rows, [d for d in details if d]


def _generic(row: str, stage: str) -> str:
    """A table row with what differs between stages by construction taken out: the stage's
    name, and the digest a function version's logical id carries (its definition differs per
    stage: kinds/function `version_and_alias`)."""
    return re.sub(r"(Version)[0-9a-f]{10}`", r"\1…`", re.sub(rf"\b{re.escape(stage)}\b", "<stage>", row))


def _md_stages(diffs: Sequence[Diff], stages: Sequence[tuple[list[str], list[str]]], keep_details: bool,
               keep_rows: int | None, where: str) -> list[str]:
    out: list[str] = []
    shown: list[tuple[str, set[str]]] = []  # stages already shown: name, rows with the stage's name generic
    for diff, (rows, details) in zip(diffs, stages):
        generic = [_generic(row, diff.stage) for row in rows]
        title = f"### Stage `{diff.stage}` (against `{diff.against}`)"
        if not rows:
            out += [title, "", "No changes.", ""]
            continue
        like = next(((name, seen) for name, seen in shown if seen <= set(generic)), None)
        shown.append((diff.stage, set(generic)))
        extra = [row for row, g in zip(rows, generic) if like is None or g not in like[1]]
        if like is not None and not extra:
            out += [title, "", f"The same {len(rows)} changes as `{like[0]}`.", ""]
            continue
        summary = (f"{diff.stage}: as {like[0]}, plus {len(extra)} change(s)" if like is not None
                   else f"{diff.stage}: {len(rows)} change(s)")
        listed = extra if keep_rows is None else extra[:keep_rows]
        out += [title, "", f"<details><summary>{summary}</summary>", "",
                "| | stack | resource | type | verdict | spec |", "|---|---|---|---|---|---|", *listed]
        if len(listed) < len(extra):
            out += ["", f"… and {len(extra) - len(listed)} more row(s), left out to fit the comment.{where}"]
        if keep_details and like is None:
            out += ["", *details]
        elif details:
            out += ["", f"Per-resource details left out{' to fit the comment' if like is None else ''}.{where}"]
        out += ["", "</details>", ""]
    return out


def _badges(verdicts: Sequence[str]) -> str:
    return " ".join(f"**{v}**" for v in verdicts)


def _md_details(stack: str, notes: Sequence[str], resources: Sequence[ResourceChange]) -> str:
    body = [f"- {note}" for note in notes]  # stack findings, already as text
    for r in resources:
        if not (r.changes or r.notes or r.properties or r.access):
            continue
        body.append(f"- `{r.logical_id}`")
        body += [f"  - `{c.path}`: `{_pair(c.old, c.new)}`{' (replaces)' if c.replaces else ''}"
                 for change in r.changes for c in _expanded(change)]
        body += [f"  - `{path}` = `{_value(value)}`" for path, value in r.properties]
        body += [f"  - access: `{line}`" for line in r.access]
        body += [f"  - ⚠ {_finding(f)}" for f in r.findings]
    if not body:
        return ""
    return "\n".join([f"<details><summary>{stack}: details</summary>", "", *body, "", "</details>", ""])


def as_json(diffs: Sequence[Diff]) -> str:
    found = [{"stage": d.stage, "where": where, "verdict": f.verdict, "cause": f.cause, "note": f.note}
             for d in diffs for where, f in risks(d)]
    return json.dumps({"diffs": [d.to_json() for d in diffs], "risks": found, "summary": _summary(diffs)},
                      indent=2, sort_keys=True) + "\n"
