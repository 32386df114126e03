"""Credentials never belong in a spec: find values that look like one.

Run by `validate` over every spec file, before anything else looks at the values. A hit is
an error at the value (E213) that says what it looks like; secrets go in Secrets Manager
(`secrets:` kind) and reach functions through `access:`.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..diagnostics import Diagnostic, KeyPath, Where
from ..kinds import BY_REF
from ..model import NAME_PATTERN, reference_kind

# What each looks like, a piece of text every match of it holds (a plain `in` finds those
# ~9x faster than the pattern, whose leading \b keeps sre from skipping ahead), the pattern.
PATTERNS = (
    ("an AWS access key id", ("AKIA", "ASIA"), re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", ("PRIVATE KEY-----",), re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a Stripe key", ("_live_", "_test_"), re.compile(r"\b(sk|rk)_(live|test)_[A-Za-z0-9]{10,}")),
    ("a GitHub token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}")),
    ("a Slack token", ("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Slack webhook", ("hooks.slack.com/services/T",), re.compile(r"hooks\.slack\.com/services/T[A-Za-z0-9]+/")),
    ("a JSON web token", ("eyJ",), re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.")),
    # The scheme starts at a word boundary and is bounded (schemes are short): each start costs
    # a bounded scan, so a long value is read in linear time (unbounded, 200 KB took a minute).
    ("a URL with a password", ("://",), re.compile(r"\b[a-z][a-z0-9+.-]{0,31}://[^/\s:@]+:[^/\s@]+@")),
)
URL = re.compile(r"https?://", re.I)
TOKEN_PARAMETER = re.compile(r"[?&](token|key|secret|signature|sig|password)=[^&\s]{8,}", re.I)


def _url_with_token(value: str) -> bool:
    """A URL carrying a token in its query. Read word by word (a URL has no spaces): one regex
    `https?://\\S*[?&]token=` would rescan the rest of a long word from every `http` in it."""
    for word in value.split():
        if (url := URL.search(word)) and TOKEN_PARAMETER.search(word, url.end()):
            return True
    return False

SECRET_KEY = re.compile(r"(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)", re.I)


def _strings(value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, path + (i,))


def _reference(value: str) -> bool:
    """`kind:name` of a kind the compiler knows: a reference to a resource, not a value."""
    return reference_kind(value) in BY_REF and re.match(NAME_PATTERN, value.split(":", 1)[1]) is not None


def _looks_like(path: KeyPath, value: str) -> str | None:
    for what, _, pattern in PATTERNS:
        if pattern.search(value):
            return what
    if _url_with_token(value):
        return "a URL with a token"
    key = next((p for p in reversed(path) if isinstance(p, str)), "")
    # A value under a secret-sounding key that is long and has no spaces: prose and
    # durations (`access_token: 1h`, reasons) do not match.
    if (SECRET_KEY.search(key) and len(value) >= 12 and " " not in value and re.search(r"\d", value)
            and not _reference(value)):
        return f"a secret value for '{key}'"
    return None


def _gather(value: Any, key: str, strings: list[str]) -> bool:
    """Every string of `value` into `strings`, as `_strings` walks them (`key`: the nearest
    mapping key above); True at the first of 12 characters or more under a secret-sounding
    key, which the full scan must see."""
    if isinstance(value, str):
        if len(value) >= 12 and key and SECRET_KEY.search(key):
            return True
        strings.append(value)
    elif isinstance(value, dict):
        for name, item in value.items():  # loops, not any(): this walk is most of the check's time
            if _gather(item, name if isinstance(name, str) else key, strings):
                return True
    elif isinstance(value, list):
        for item in value:
            if _gather(item, key, strings):
                return True
    return False


def _suspect(data: Any) -> bool:
    """Whether any string of `data` could look like a credential to `_looks_like`: one
    under a secret-sounding key (`_gather`), or a pattern's match (or a URL with a token) in
    the strings joined by newlines, searched only where its text occurs. No pattern matches
    across a line break (none takes one where it takes other characters; whitespace is excluded
    where it takes any), so a match there is a match in one string. A file it passes gets
    the full scan. At 100x (44,000 strings, none a credential) the check takes 0.05 s and
    the full scan 0.23 s."""
    strings: list[str] = []
    if _gather(data, "", strings):
        return True
    joined = "\n".join(strings)
    for _, needles, pattern in PATTERNS:
        if any(needle in joined for needle in needles) and pattern.search(joined):
            return True
    return "://" in joined and _url_with_token(joined)


def find(file: str, data: Any) -> list[Diagnostic]:
    if not _suspect(data):
        return []
    return [
        Diagnostic(
            "E213",
            f"this looks like {what}: credentials never go in a spec",
            Where(file, path),
            help="declare it under `secrets:`, set its value in Secrets Manager, and give functions "
            "`access: {secret:NAME: read}`",
        )
        for path, value in _strings(data)
        if (what := _looks_like(path, value)) is not None
    ]
