"""Auth handlers: Cognito errors as HTTP statuses, lockout, tokens, MFA and passwords."""

from __future__ import annotations

import boto3
import pytest

from tests.handlers.platform import REGION, Platform, api_event, json_body
from tests.handlers.test_flows import PASSWORD, sign_up_and_login


def _post(aws: Platform, function: str, path: str, body: object, **kw: object) -> dict:
    return aws.invoke(function, api_event("POST", path, body, **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("{not json", 400, "invalid_json"),
        ("[1, 2]", 400, "invalid_body"),
        ({"password": PASSWORD, "name": "A"}, 400, "missing_field"),
        ({"email": "not-an-email", "password": PASSWORD, "name": "A"}, 400, "invalid_field"),
        ({"email": "a@example.com", "password": 12345678, "name": "A"}, 400, "invalid_field"),
    ],
)
def test_register_rejects_bad_requests(aws: Platform, body: object, status: int, error: str) -> None:
    response = _post(aws, "auth-register", "/auth/register", body)
    assert (response["statusCode"], json_body(response)["error"]) == (status, error)


def test_register_twice_answers_like_the_first_time(aws: Platform) -> None:
    sign_up_and_login(aws)
    again = _post(aws, "auth-register", "/auth/register", {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"})
    assert again["statusCode"] == 202 and json_body(again) == {"message": "check your e-mail for a confirmation code"}


def test_wrong_password_then_lockout(aws: Platform) -> None:
    sign_up_and_login(aws)
    for _ in range(5):
        failed = _post(aws, "auth-login", "/auth/login", {"email": "ada@example.com", "password": "Wrong-Password-1"})
        assert failed["statusCode"] == 401 and json_body(failed)["error"] == "not_authorized"
    locked = _post(aws, "auth-login", "/auth/login", {"email": "ada@example.com", "password": PASSWORD})
    assert (locked["statusCode"], json_body(locked)["error"]) == (423, "locked")
    lockout = boto3.resource("dynamodb", region_name=REGION).Table("listbackup-dev-account-lockouts")
    record = lockout.get_item(Key={"userId": "login#ada@example.com"})["Item"]
    assert (record["email"], record["address"]) == ("ada@example.com", "192.0.2.10")


def test_unknown_user_looks_like_a_wrong_password(aws: Platform) -> None:
    response = _post(aws, "auth-login", "/auth/login", {"email": "nobody@example.com", "password": PASSWORD})
    assert (response["statusCode"], json_body(response)["error"]) == (401, "not_authorized")


def test_refresh_is_public_and_returns_new_tokens(aws: Platform) -> None:
    session = sign_up_and_login(aws)
    response = _post(aws, "auth-refresh", "/auth/refresh", {"refreshToken": session["refreshToken"]})  # no claims
    assert response["statusCode"] == 200 and json_body(response)["accessToken"]


def test_status_profile_logout(aws: Platform) -> None:
    session = sign_up_and_login(aws)
    claims, token = session["claims"], session["accessToken"]
    status = aws.invoke("auth-status", api_event("GET", "/auth/status", claims=claims))
    assert json_body(status)["userId"] == session["userId"] and json_body(status)["authenticated"] is True
    profile = aws.invoke("auth-profile", api_event("GET", "/auth/profile", claims=claims, token=token))
    assert json_body(profile)["attributes"]["email"] == "ada@example.com"
    assert aws.invoke("auth-profile", api_event("GET", "/auth/profile", claims=claims))["statusCode"] == 401
    out = aws.invoke("auth-logout", api_event("POST", "/auth/logout", claims=claims, token=token))
    assert out["statusCode"] == 200 and json_body(out) == {"signedOut": True}


def test_mfa_setup_and_password_change(aws: Platform) -> None:
    session = sign_up_and_login(aws)
    claims, token = session["claims"], session["accessToken"]
    setup = aws.invoke("auth-mfa-setup", api_event("POST", "/auth/mfa/setup", claims=claims, token=token))
    assert setup["statusCode"] == 200 and json_body(setup)["secretCode"]
    changed = _post(aws, "auth-password-change", "/auth/password/change",
                    {"oldPassword": PASSWORD, "newPassword": "Another-Horse-7-Battery"}, claims=claims, token=token)
    assert changed["statusCode"] == 200
    relogin = _post(aws, "auth-login", "/auth/login", {"email": "ada@example.com", "password": "Another-Horse-7-Battery"})
    assert relogin["statusCode"] == 200


def test_password_reset_does_not_reveal_unknown_emails(aws: Platform) -> None:
    sign_up_and_login(aws)
    known = _post(aws, "auth-password-reset", "/auth/password/reset", {"email": "ada@example.com"})
    unknown = _post(aws, "auth-password-reset", "/auth/password/reset", {"email": "nobody@example.com"})
    assert known["statusCode"] == unknown["statusCode"] == 202
    assert json_body(known) == json_body(unknown)


def test_accounts_of_the_caller(aws: Platform) -> None:
    session = sign_up_and_login(aws)
    aws.invoke("accounts-create", api_event("POST", "/accounts", {"name": "One"}, claims=session["claims"]))
    listed = aws.invoke("auth-accounts", api_event("GET", "/auth/accounts", claims=session["claims"]))
    assert [a["name"] for a in json_body(listed)["accounts"]] == ["One"]
