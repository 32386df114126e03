"""Accounts handlers: membership checks, sub-accounts, hierarchy, switching, deletion rules."""

from __future__ import annotations

import pytest

from tests.handlers.platform import Platform, api_event, json_body

ADA = {"sub": "user-ada", "email": "ada@example.com"}
BOB = {"sub": "user-bob", "email": "bob@example.com"}


def _create(aws: Platform, claims: dict, name: str, parent: str | None = None) -> dict:
    if parent:
        event = api_event("POST", f"/accounts/{parent}/sub-accounts", {"name": name}, claims=claims, params={"accountId": parent})
        response = aws.invoke("accounts-create-sub-account", event)
    else:
        response = aws.invoke("accounts-create", api_event("POST", "/accounts", {"name": name}, claims=claims))
    assert response["statusCode"] == 201, response
    return json_body(response)


def _call(aws: Platform, function: str, method: str, account_id: str, claims: dict, body: object = None) -> dict:
    return aws.invoke(function, api_event(method, f"/accounts/{account_id}", body, claims=claims, params={"accountId": account_id}))


def test_a_user_never_sees_another_accounts_data(aws: Platform) -> None:
    mine = _create(aws, ADA, "Ada's")
    for function, method, body in [
        ("accounts-get", "GET", None),
        ("accounts-update", "PUT", {"name": "Bob was here"}),
        ("accounts-delete", "DELETE", None),
        ("accounts-hierarchy", "GET", None),
    ]:
        response = _call(aws, function, method, mine["accountId"], BOB, body)
        assert response["statusCode"] == 404, (function, response)  # as if it did not exist
    assert json_body(aws.invoke("accounts-list", api_event("GET", "/accounts", claims=BOB))) == {"accounts": []}
    switched = aws.invoke("accounts-switch", api_event("POST", "/accounts/switch", {"accountId": mine["accountId"]}, claims=BOB))
    assert switched["statusCode"] == 404
    assert json_body(_call(aws, "accounts-get", "GET", mine["accountId"], ADA))["name"] == "Ada's"


def test_sub_accounts_hierarchy_and_deletion_order(aws: Platform) -> None:
    root = _create(aws, ADA, "Root")
    child = _create(aws, ADA, "Child", parent=root["accountId"])
    _create(aws, ADA, "Grandchild", parent=child["accountId"])
    tree = json_body(_call(aws, "accounts-hierarchy", "GET", root["accountId"], ADA))
    assert [c["name"] for c in tree["children"]] == ["Child"]
    assert [g["name"] for g in tree["children"][0]["children"]] == ["Grandchild"]
    blocked = _call(aws, "accounts-delete", "DELETE", root["accountId"], ADA)
    assert (blocked["statusCode"], json_body(blocked)["error"]) == (409, "has_sub_accounts")


def test_update_and_switch(aws: Platform) -> None:
    account = _create(aws, ADA, "Before")
    updated = _call(aws, "accounts-update", "PUT", account["accountId"], ADA, {"name": "After"})
    assert json_body(updated)["name"] == "After"
    aws.invoke("users-get-me", api_event("GET", "/users/me", claims=ADA))
    switched = aws.invoke("accounts-switch", api_event("POST", "/accounts/switch", {"accountId": account["accountId"]}, claims=ADA))
    assert json_body(switched) == {"currentAccountId": account["accountId"], "role": "owner"}
    assert json_body(aws.invoke("users-get-me", api_event("GET", "/users/me", claims=ADA)))["currentAccountId"] == account["accountId"]


def test_delete_removes_the_account_and_its_memberships(aws: Platform) -> None:
    account = _create(aws, ADA, "Short-lived")
    assert _call(aws, "accounts-delete", "DELETE", account["accountId"], ADA)["statusCode"] == 204
    assert _call(aws, "accounts-get", "GET", account["accountId"], ADA)["statusCode"] == 404


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 7}, {"name": "x" * 129}])
def test_create_rejects_bad_bodies(aws: Platform, body: dict) -> None:
    response = aws.invoke("accounts-create", api_event("POST", "/accounts", body, claims=ADA))
    assert response["statusCode"] == 400


def test_unauthenticated_call_is_refused(aws: Platform) -> None:
    assert aws.invoke("accounts-list", api_event("GET", "/accounts"))["statusCode"] == 401


def test_an_update_racing_a_delete_leaves_no_ownerless_item(aws: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner's check passes, then a delete lands before the write: the write must not
    bring the account back as an item nobody owns (404 instead)."""
    account = _create(aws, ADA, "Racing")
    with aws.running("accounts-update") as (_, module):
        checked = module._require

        def deleted_meanwhile(*args: object) -> object:
            result = checked(*args)
            module.table("ACCOUNTS_TABLE").delete_item(Key={"accountId": account["accountId"]})
            return result

        monkeypatch.setattr(module, "_require", deleted_meanwhile)
    response = _call(aws, "accounts-update", "PUT", account["accountId"], ADA, {"name": "Ghost"})
    assert (response["statusCode"], json_body(response)["error"]) == (404, "not_found")
    with aws.running("accounts-get") as (_, module):
        assert "Item" not in module.table("ACCOUNTS_TABLE").get_item(Key={"accountId": account["accountId"]})


def test_an_account_name_cannot_be_emptied(aws: Platform) -> None:
    account = _create(aws, ADA, "Named")
    response = _call(aws, "accounts-update", "PUT", account["accountId"], ADA, {"name": ""})
    assert response["statusCode"] == 400
    assert json_body(_call(aws, "accounts-get", "GET", account["accountId"], ADA))["name"] == "Named"
