"""Users handlers: profile and settings, administration needs a group, self-service allowed."""

from __future__ import annotations

from tests.handlers.platform import Platform, api_event, json_body
from tests.handlers.test_flows import sign_up_and_login

ADMIN_GROUPS = "[Admins]"  # how API Gateway passes cognito:groups


def test_profile_and_settings(aws: Platform) -> None:
    session = sign_up_and_login(aws)
    claims = session["claims"]
    aws.invoke("users-get-me", api_event("GET", "/users/me", claims=claims))
    updated = aws.invoke("users-update-profile", api_event("PUT", "/users/me", {"name": "Ada L.", "timezone": "Europe/London"}, claims=claims))
    assert updated["statusCode"] == 200 and json_body(updated)["name"] == "Ada L."
    bad = aws.invoke("users-update-profile", api_event("PUT", "/users/me", {"role": "admin"}, claims=claims))
    assert (bad["statusCode"], json_body(bad)["error"]) == (400, "invalid_field")
    settings = aws.invoke("users-update-settings", api_event("PUT", "/users/me/settings", {"theme": "dark"}, claims=claims))
    assert json_body(settings) == {"theme": "dark"}
    assert json_body(aws.invoke("users-get-settings", api_event("GET", "/users/me/settings", claims=claims))) == {"theme": "dark"}


def test_administration_needs_a_group(aws: Platform) -> None:
    ada = sign_up_and_login(aws)["claims"]
    bob = sign_up_and_login(aws, "bob@example.com", "Bob")["claims"]
    for claims in (ada, bob):
        aws.invoke("users-get-me", api_event("GET", "/users/me", claims=claims))
    assert aws.invoke("users-list", api_event("GET", "/users", claims=bob))["statusCode"] == 403
    other = aws.invoke("users-get", api_event("GET", f"/users/{ada['sub']}", claims=bob, params={"userId": ada["sub"]}))
    assert other["statusCode"] == 403
    admin = {**bob, "cognito:groups": ADMIN_GROUPS}
    listed = aws.invoke("users-list", api_event("GET", "/users", claims=admin))
    assert sorted(u["email"] for u in json_body(listed)["users"]) == ["ada@example.com", "bob@example.com"]
    found = aws.invoke("users-search", api_event("GET", "/users/search", claims=admin, query={"q": "ada@example.com"}))
    assert [u["userId"] for u in json_body(found)["users"]] == [ada["sub"]]


def test_a_user_may_delete_themselves(aws: Platform) -> None:
    ada = sign_up_and_login(aws)["claims"]
    aws.invoke("users-get-me", api_event("GET", "/users/me", claims=ada))
    deleted = aws.invoke("users-delete", api_event("DELETE", f"/users/{ada['sub']}", claims=ada, params={"userId": ada["sub"]}))
    assert deleted["statusCode"] == 204
    admin = {"sub": "user-admin", "cognito:groups": ADMIN_GROUPS}
    gone = aws.invoke("users-get", api_event("GET", f"/users/{ada['sub']}", claims=admin, params={"userId": ada["sub"]}))
    assert gone["statusCode"] == 404
    with_old_token = aws.invoke("users-get", api_event("GET", f"/users/{ada['sub']}", claims=ada, params={"userId": ada["sub"]}))
    assert (with_old_token["statusCode"], json_body(with_old_token)["error"]) == (401, "token_revoked")


def test_the_callers_accounts(aws: Platform) -> None:
    ada = sign_up_and_login(aws)["claims"]
    aws.invoke("accounts-create", api_event("POST", "/accounts", {"name": "Shop"}, claims=ada))
    listed = aws.invoke("users-get-accounts", api_event("GET", "/users/me/accounts", claims=ada))
    assert [(a["name"], a["role"]) for a in json_body(listed)["accounts"]] == [("Shop", "owner")]


def test_an_empty_profile_field_is_a_400_and_stores_nothing(aws: Platform) -> None:
    """`{"name": ""}` used to write a null name, then fail at Cognito (500)."""
    session = sign_up_and_login(aws)
    claims = session["claims"]
    aws.invoke("users-get-me", api_event("GET", "/users/me", claims=claims))
    aws.invoke("users-update-profile", api_event("PUT", "/users/me", {"name": "Ada L."}, claims=claims))
    for value in ("", "   "):
        bad = aws.invoke("users-update-profile", api_event("PUT", "/users/me", {"name": value}, claims=claims))
        assert (bad["statusCode"], json_body(bad)["error"]) == (400, "invalid_field"), bad
    me = json_body(aws.invoke("users-get-me", api_event("GET", "/users/me", claims=claims)))
    assert me["name"] == "Ada L."


def test_only_the_delete_function_may_delete_a_user(aws: Platform) -> None:
    """users-update disables and enables users; a bug in it must not be able to delete one
    (read from the roles in generated/)."""
    deleting = [name for name in ("users-update", "users-delete", "users-update-profile")
                if "cognito-idp:AdminDeleteUser" in aws.function(name).granted]
    assert deleting == ["users-delete"]
    assert {"cognito-idp:AdminDisableUser", "cognito-idp:AdminEnableUser"} <= aws.function("users-update").granted
