"""The contract between the compiler and the code: environment names and IAM actions.

The handler tests run with each function's environment and role taken from generated/dev,
so these tests show that a drift on either side fails, and that every variable a handler
reads is one the compiler provides.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import replace

import pytest

from tests.conftest import REPO
from tests.handlers.platform import HANDLERS, Platform, api_event, json_body

ADA = {"sub": "user-ada", "email": "ada@example.com"}


def test_a_permission_missing_from_the_role_fails(aws: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    real = aws.function

    def narrower(name: str):
        function = real(name)
        return replace(function, granted=function.granted - {"dynamodb:PutItem"})

    monkeypatch.setattr(aws, "function", narrower)
    with pytest.raises(AssertionError, match=r"accounts-create called \['dynamodb:PutItem'\], which its role does not grant"):
        aws.invoke("accounts-create", api_event("POST", "/accounts", {"name": "x"}, claims=ADA))


def test_a_renamed_environment_variable_fails(aws: Platform, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = aws.function

    def renamed(name: str):
        function = real(name)
        env = {("ACCOUNTS_TABLE_NAME" if k == "ACCOUNTS_TABLE" else k): v for k, v in function.environment.items()}
        return replace(function, environment=env)

    monkeypatch.setattr(aws, "function", renamed)
    response = aws.invoke("accounts-create", api_event("POST", "/accounts", {"name": "x"}, claims=ADA))
    assert response["statusCode"] == 500 and json_body(response) == {"error": "internal", "message": "internal error"}
    assert "environment variable ACCOUNTS_TABLE is not set" in capsys.readouterr().out  # logged, not shown


def _variables_read() -> dict[str, set[str]]:
    """module -> the environment names it reads through config()/table()."""
    found: dict[str, set[str]] = {}
    for path in HANDLERS.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("config", "table") and node.args:
                if isinstance(node.args[0], ast.Constant):
                    names.add(node.args[0].value)
        found[path.stem] = names
    return found


def test_every_variable_a_handler_reads_is_provided_to_a_function_running_it() -> None:
    provided: dict[str, set[str]] = {}
    for path in sorted((REPO / "generated" / "dev").glob("*.json")):
        for resource in json.loads(path.read_text()).get("Resources", {}).values():
            if resource["Type"] == "AWS::Lambda::Function":
                module = resource["Properties"]["Handler"].rsplit(".", 1)[0]
                provided.setdefault(module, set()).update(resource["Properties"]["Environment"]["Variables"])
    read = _variables_read()
    shared = read.pop("shared") | read.pop("membership")  # helpers: read on behalf of their callers
    assert {"EVENTS_BUS_NAME", "ACTIVITY_TABLE", "USER_ACCOUNTS_TABLE", "ACCOUNTS_TABLE"} <= shared
    for module, names in read.items():
        assert names <= provided.get(module, set()), f"{module} reads {sorted(names - provided.get(module, set()))}"
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", n) for names in read.values() for n in names)
