"""The credentials scan: a file's strings are checked at once first (`_suspect`), and the
findings are those of checking every string on its own, wherever the value stands."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.spec import credentials

# values each kind of credential looks like, every variant a pattern allows at its start
HITS = [
    "AKIAABCDEFGHIJKLMNOP", "ASIAABCDEFGHIJKLMNOP", "id=AKIAABCDEFGHIJKLMNOP;",
    "-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----\nMIIE...",
    "sk_live_abcdefghijklmnop", "rk_test_abcdefghijklmnop", "sk_test_0123456789",
    *(f"gh{letter}_{'a' * 36}" for letter in "pousr"),
    *(f"xox{letter}-1234567890-abc" for letter in "abposr"),
    "https://hooks.slack.com/services/T000/B000/XXXX",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
    "postgres://user:pw@db.example.com/x", "see ftp://a:b@c.example.com",
    "https://x.example.com/a?token=abcdef123456", "HTTP://x.example.com/a?b=1&Signature=abcdefgh1",
]
ORDINARY = ["listbackup", "GET /users/{id}", "queue:sync", "https://example.com/docs?page=2", "A" * 40,
            "sk_live", "eyJ", "ghp_short", "a://b", "AKIA", "-----BEGIN PUBLIC KEY-----", "1h"]


def _every_string(data: Any) -> list[tuple[Any, str]]:
    """What the scan reports, found by checking every string on its own."""
    return [(path, what) for path, value in credentials._strings(data)
            if (what := credentials._looks_like(path, value)) is not None]


def _placed(value: str) -> list[Any]:
    """`value` among ordinary strings: at the top, in lists, nested, under keys of every sort,
    first and last, alone on a line of a longer text."""
    return [
        value,
        {"description": value},
        {"functions": {"f": {"environment": {"X": value, "Y": "plain"}}}},
        {"a": ["x", ["y", value]], "b": {"c": "z"}},
        {"a": [*ORDINARY, value]},
        {"a": [value, *ORDINARY]},
        {"reasons": {"r": f"first line\n{value}\nlast line"}},
        {"db_password": value},
        {"api-key": [value]},
    ]


@pytest.mark.parametrize("value", HITS)
def test_a_credential_is_found_wherever_it_stands(value: str) -> None:
    for data in _placed(value):
        found = [(d.where.path, d.message) for d in credentials.find("s.yaml", data)]
        expected = _every_string(data)
        assert expected, data
        assert found == [(path, f"this looks like {what}: credentials never go in a spec") for path, what in expected]


@pytest.mark.parametrize("value", ORDINARY + ["hunter2hunter22", "db:hunter2hunter2"])
def test_ordinary_values_and_secret_keys_give_the_same_verdict_as_every_string(value: str) -> None:
    """Values that are no credential, and values under secret-sounding keys (where a long
    value with a digit is one): the same findings as checking every string."""
    for data in _placed(value):
        found = [(d.where.path, d.message.split(":")[0]) for d in credentials.find("s.yaml", data)]
        assert found == [(path, f"this looks like {what}") for path, what in _every_string(data)], data
