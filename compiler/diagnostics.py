"""Diagnostics: what went wrong, where, and how to show it.

Every stage reports problems as `Diagnostic` records that carry a *key path* into a spec
file, never a line number. Only `render()` turns a path into `file:line:col`, by asking the
file's position index for the longest existing prefix of the path. That keeps positions in
one place (they are recorded once by `load`) and lets later stages point at the spec even
though they only see validated models.

Codes are stable and grouped by stage: E1xx load (YAML), E2xx validate (shape, values),
E3xx resolve (names, references, stacks), E4xx lint (cfn-lint passthrough).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping, NamedTuple, Protocol, Sequence

KeyPath = tuple[str | int, ...]


class Span(NamedTuple):
    """A 1-based region of a text file (end is exclusive on the column). A named tuple:
    load records one for every key and value of the spec (160,000 at 100x)."""

    line: int
    col: int
    end_line: int
    end_col: int


class Locator(Protocol):
    """What a loaded spec file offers the renderer: key path -> span."""

    @property
    def path(self) -> str: ...

    @property
    def lines(self) -> Sequence[str]: ...

    def locate(self, path: KeyPath, at: str = "value") -> Span: ...


@dataclass(frozen=True)
class Where:
    """A place in a spec file: a key path (preferred) or an explicit span (parse errors)."""

    file: str
    path: KeyPath = ()
    at: str = "value"  # "value" or "key": which side of `key: value` to point at
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    where: Where | None = None
    help: str | None = None
    related: tuple[tuple[str, Where], ...] = ()  # (what, where), e.g. ("first defined", ...)
    severity: str = "error"


class SpecError(Exception):
    """The spec is wrong. Carries every diagnostic of the stage that stopped the run."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        super().__init__(f"{len(diagnostics)} spec error(s)")
        self.diagnostics = tuple(diagnostics)


class InternalError(Exception):
    """A bug in the compiler (valid input must never raise this). Shown with a traceback."""


@dataclass(frozen=True)
class Located:
    """A diagnostic with its position looked up: what the text and JSON renderers print."""

    diagnostic: Diagnostic
    file: str | None
    span: Span | None
    related: tuple[tuple[str, str | None, Span | None], ...] = field(default=())

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        span = self.span or Span(0, 0, 0, 0)
        return (self.file or "", span.line, span.col, self.diagnostic.code, self.diagnostic.message)


def _lookup(where: Where | None, files: Mapping[str, Locator]) -> tuple[str | None, Span | None]:
    if where is None:
        return None, None
    if where.span is not None:
        return where.file, where.span
    src = files.get(where.file)
    if src is None:
        return where.file, None
    return where.file, src.locate(where.path, where.at)


def locate_all(diags: Iterable[Diagnostic], files: Mapping[str, Locator]) -> list[Located]:
    """Look every diagnostic up, drop exact repeats, and sort by file, line, column."""
    seen: set[tuple[object, ...]] = set()
    out: list[Located] = []
    for d in diags:
        file, span = _lookup(d.where, files)
        related = tuple((what, *_lookup(w, files)) for what, w in d.related)
        key = (file, span, d.code, d.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(Located(d, file, span, related))
    return sorted(out, key=lambda located: located.sort_key)


def _position(file: str | None, span: Span | None) -> str:
    if file is None:
        return "platformc"
    if span is None:
        return file
    return f"{file}:{span.line}:{span.col}"


SNIPPET_WIDTH = 120  # characters of a source line a snippet shows
SNIPPET_LEAD = 30  # of which, before the span
MESSAGE_WIDTH = 300  # characters of a message (which may quote a value) before its middle is elided


def _snippet(src: Locator | None, span: Span | None) -> list[str]:
    if src is None or span is None or not 1 <= span.line <= len(src.lines):
        return []
    # control characters would act on the terminal: each shows as one replacement character
    text = "".join("\ufffd" if ord(c) < 32 and c != "\t" or 127 <= ord(c) < 160 else c for c in src.lines[span.line - 1].rstrip("\n"))
    width = span.end_col - span.col if span.end_line == span.line else len(text) - span.col + 1
    col = span.col - 1
    if len(text) > SNIPPET_WIDTH:  # a long line: a window of it from a little before the span
        start = max(0, min(col - SNIPPET_LEAD, len(text) - SNIPPET_WIDTH))
        end = start + SNIPPET_WIDTH
        head, tail = ("…" if start else ""), ("…" if end < len(text) else "")
        text = head + text[start:end] + tail
        width = min(width, end - col)
        col = col - start + len(head)
    gutter = " " * len(str(span.line))
    return [
        f"  {span.line} | {text}",
        f"  {gutter} | {' ' * col}{'^' * max(1, width)}",
    ]


def _capped(message: str) -> str:
    """A message that quotes a huge value keeps its head and tail, not all 200 KB of it."""
    if len(message) <= MESSAGE_WIDTH:
        return message
    half = MESSAGE_WIDTH // 2
    return f"{message[:half]}… ({len(message) - 2 * half} characters) …{message[-half:]}"


def render_text(diags: Iterable[Diagnostic], files: Mapping[str, Locator]) -> str:
    """`file:line:col: error[CODE]: message`, a source snippet, then help and related places."""
    chunks: list[str] = []
    located = locate_all(diags, files)
    for item in located:
        d = item.diagnostic
        lines = [f"{_position(item.file, item.span)}: {d.severity}[{d.code}]: {_capped(d.message)}"]
        lines += _snippet(files.get(item.file or ""), item.span)
        for what, file, span in item.related:
            lines.append(f"  = note: {what} at {_position(file, span)}")
        if d.help:
            lines.append(f"  = help: {d.help}")
        chunks.append("\n".join(lines))
    errors = sum(1 for item in located if item.diagnostic.severity == "error")
    if located:
        chunks.append(f"{errors} error(s), {len(located) - errors} warning(s)")
    return "\n".join(chunks) + ("\n" if chunks else "")


def render_json(diags: Iterable[Diagnostic], files: Mapping[str, Locator]) -> str:
    records = []
    for item in locate_all(diags, files):
        d = item.diagnostic
        span = item.span
        records.append(
            {
                "code": d.code,
                "severity": d.severity,
                "message": _capped(d.message),
                "file": item.file,
                "line": span.line if span else None,
                "column": span.col if span else None,
                "help": d.help,
                "related": [
                    {"what": what, "file": f, "line": s.line if s else None, "column": s.col if s else None}
                    for what, f, s in item.related
                ],
            }
        )
    return json.dumps(records, indent=2, sort_keys=True) + "\n"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' help text, or None when nothing is close enough."""
    import difflib

    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
