"""Auth API: register, confirm, login, refresh, logout, MFA and passwords, with Cognito.

Sign-up, login, refresh, sign-out, MFA and password calls use Cognito's public,
token-based APIs with the app client: they need no IAM permission. Five failed logins
for an email within 15 minutes lock it for 15 minutes (rate-limits and account-lockouts
tables, both expired by their TTL attribute). Cognito's errors become HTTP statuses.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from botocore.exceptions import ClientError
from membership import accounts_of
from shared import (
    Event,
    HttpError,
    Response,
    access_token,
    body,
    caller,
    claims,
    client,
    config,
    field,
    groups,
    http,
    log,
    publish,
    respond,
    table,
)

MAX_FAILURES = 5
WINDOW = 15 * 60
STATUS = {
    "UsernameExistsException": (409, "user_exists"),
    "InvalidPasswordException": (400, "invalid_password"),
    "InvalidParameterException": (400, "invalid_parameter"),
    "CodeMismatchException": (400, "invalid_code"),
    "ExpiredCodeException": (400, "expired_code"),
    "EnableSoftwareTokenMFAException": (400, "invalid_code"),
    "NotAuthorizedException": (401, "not_authorized"),
    "UserNotConfirmedException": (403, "not_confirmed"),
    "PasswordResetRequiredException": (403, "password_reset_required"),
    "UserNotFoundException": (401, "not_authorized"),  # never reveal which emails exist
    "LimitExceededException": (429, "too_many_requests"),
    "TooManyRequestsException": (429, "too_many_requests"),
    "TooManyFailedAttemptsException": (429, "too_many_requests"),
}


def _cognito(operation: str, **params: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = getattr(client("cognito-idp"), operation)(**params)
        return result
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code not in STATUS:
            raise
        status, error = STATUS[code]
        raise HttpError(status, error, exc.response["Error"].get("Message", code)) from exc


def _email(data: dict[str, Any]) -> str:
    email = str(field(data, "email", max_length=254)).lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise HttpError(400, "invalid_field", "'email' is not an email address")
    return email


def _tokens(result: dict[str, Any]) -> dict[str, Any]:
    if "ChallengeName" in result:  # e.g. SOFTWARE_TOKEN_MFA: answer it with the session
        return {"challenge": result["ChallengeName"], "session": result.get("Session")}
    auth = result["AuthenticationResult"]
    tokens = {"accessToken": auth["AccessToken"], "idToken": auth["IdToken"], "expiresIn": auth["ExpiresIn"]}
    if "RefreshToken" in auth:
        tokens["refreshToken"] = auth["RefreshToken"]
    return tokens


# ------------------------------------------------------------------------- lockout


def _locked(email: str) -> bool:
    item = table("ACCOUNT_LOCKOUTS_TABLE").get_item(Key={"userId": email}).get("Item")
    return bool(item and int(item["lockoutExpiry"]) > time.time())


def _failed(email: str) -> None:
    now = int(time.time())
    counter = table("RATE_LIMITS_TABLE").update_item(
        Key={"key": f"login-failures#{email}"},
        UpdateExpression="ADD attempts :one SET #ttl = if_not_exists(#ttl, :expiry)",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":one": 1, ":expiry": now + WINDOW},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    if int(counter["attempts"]) >= MAX_FAILURES:
        table("ACCOUNT_LOCKOUTS_TABLE").put_item(
            Item={"userId": email, "email": email, "lockoutExpiry": now + WINDOW, "lockedAt": now}
        )
        log("warning", "login locked after repeated failures", email=email)


def _succeeded(email: str) -> None:
    table("RATE_LIMITS_TABLE").delete_item(Key={"key": f"login-failures#{email}"})


# ------------------------------------------------------------------------- public routes


@http
def register(event: Event) -> Response:
    data = body(event)
    email = _email(data)
    password = field(data, "password", max_length=256)
    name = field(data, "name", max_length=128)
    result = _cognito(
        "sign_up",
        ClientId=config("MAIN_USER_POOL_CLIENT_ID"),
        Username=email,
        Password=password,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": name}],
    )
    publish("listbackup.auth", "User Registered", {"userId": result["UserSub"], "email": email})
    return respond(201, {"userId": result["UserSub"], "confirmed": result["UserConfirmed"]})


@http
def verify_account(event: Event) -> Response:
    data = body(event)
    _cognito(
        "confirm_sign_up",
        ClientId=config("MAIN_USER_POOL_CLIENT_ID"),
        Username=_email(data),
        ConfirmationCode=field(data, "code", max_length=16),
    )
    return respond(200, {"confirmed": True})


@http
def login(event: Event) -> Response:
    data = body(event)
    email = _email(data)
    password = field(data, "password", max_length=256)
    if _locked(email):
        raise HttpError(423, "locked", "too many failed logins: try again in 15 minutes")
    try:
        result = _cognito(
            "initiate_auth",
            ClientId=config("MAIN_USER_POOL_CLIENT_ID"),
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
    except HttpError as exc:
        if exc.status == 401:
            _failed(email)
        raise
    _succeeded(email)
    tokens = _tokens(result)
    if "accessToken" in tokens:
        publish("listbackup.auth", "User Login", {"email": email})
    return respond(200, tokens)


@http
def refresh(event: Event) -> Response:
    """Public on purpose: a refresh carries an expired access token the authorizer would reject."""
    token = field(body(event), "refreshToken", max_length=8192)
    result = _cognito(
        "initiate_auth",
        ClientId=config("MAIN_USER_POOL_CLIENT_ID"),
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": token},
    )
    return respond(200, _tokens(result))


@http
def password_reset_request(event: Event) -> Response:
    email = _email(body(event))
    try:
        _cognito("forgot_password", ClientId=config("MAIN_USER_POOL_CLIENT_ID"), Username=email)
    except HttpError as exc:
        if exc.status != 401:  # an unknown email answers like a known one
            raise
    return respond(202, {"message": "if the email is registered, a code is on its way"})


@http
def password_reset_confirm(event: Event) -> Response:
    data = body(event)
    email = _email(data)
    _cognito(
        "confirm_forgot_password",
        ClientId=config("MAIN_USER_POOL_CLIENT_ID"),
        Username=email,
        ConfirmationCode=field(data, "code", max_length=16),
        Password=field(data, "password", max_length=256),
    )
    publish("listbackup.auth", "Password Reset", {"email": email})
    return respond(200, {"reset": True})


# ------------------------------------------------------------------------- authorized routes


def _with_token(operation: str, **params: Any) -> Callable[[Event], dict[str, Any]]:
    return lambda event: _cognito(operation, AccessToken=access_token(event), **params)


@http
def status(event: Event) -> Response:
    token = claims(event)
    return respond(
        200,
        {"authenticated": True, "userId": caller(event), "email": token.get("email"), "groups": sorted(groups(event))},
    )


@http
def logout(event: Event) -> Response:
    _with_token("global_sign_out")(event)
    publish("listbackup.auth", "User Logout", {"userId": caller(event)})
    return respond(200, {"signedOut": True})


@http
def profile(event: Event) -> Response:
    user = _with_token("get_user")(event)
    attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
    stored = table("USERS_TABLE").get_item(Key={"userId": caller(event)}).get("Item") or {}
    return respond(200, {"userId": caller(event), "attributes": attributes, "profile": stored})


@http
def available_accounts(event: Event) -> Response:
    return respond(200, {"accounts": accounts_of(caller(event))})


@http
def mfa_setup(event: Event) -> Response:
    result = _with_token("associate_software_token")(event)
    return respond(200, {"secretCode": result["SecretCode"]})


@http
def mfa_verify(event: Event) -> Response:
    code = field(body(event), "code", max_length=16)
    token = access_token(event)
    result = _cognito("verify_software_token", AccessToken=token, UserCode=code)
    if result.get("Status") != "SUCCESS":
        raise HttpError(400, "invalid_code", "the code does not match")
    _cognito(
        "set_user_mfa_preference",
        AccessToken=token,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    return respond(200, {"mfa": "enabled"})


@http
def change_password(event: Event) -> Response:
    data = body(event)
    _with_token(
        "change_password",
        PreviousPassword=field(data, "oldPassword", max_length=256),
        ProposedPassword=field(data, "newPassword", max_length=256),
    )(event)
    return respond(200, {"changed": True})
