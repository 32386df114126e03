"""Auth API: register, confirm, login (with the MFA challenge), refresh, logout, MFA and passwords, with Cognito.

Sign-up, refresh, sign-out, MFA setup and password calls use Cognito's public, token-based
APIs with the app client: they need no IAM permission. The password login and its MFA step
use the admin flow (AdminInitiateAuth, IAM-authorised): the app client does not allow the
password flow to callers holding only its public id, so nobody can try passwords around the
lockout below. The client's address and headers go to Cognito's threat protection as
context. Cognito's errors become HTTP statuses.

Holding under attack:
- **Lockout** is keyed on the normalised identity (NFKC, trimmed, case-folded e-mail) and
  counted atomically *before* each attempt (a conditional DynamoDB counter), so parallel
  guesses cannot overtake it: 5 login or MFA attempts per identity and client address per
  15 minutes, and 50 per identity from all addresses together. A stranger guessing from
  elsewhere does not lock the user out of their own address; a distributed guesser is
  capped, except on an address or device the user has signed in from before (90 days;
  a device is the `trustedDevice` token a sign-in answers with), so ten addresses of
  guesses cannot lock the user out of their own. Tokens issued reset the counter of their
  address (the identity-wide count of a guesser stands until its window ends).
- **No answer tells whether an e-mail is registered**: register answers 202 for new and
  known e-mails alike, a wrong code reads the same as an unknown user, a password reset is
  "on its way" either way, login failures are all 401.
- **The e-mail quota cannot be drained from outside**: the routes that make Cognito send
  mail take 3 per identity per 15 minutes; a password reset 10 per client address; a
  sign-up (mail to an identity nobody confirmed) 3 per client address and 100 for all
  addresses together, so sign-ups never use the quota resets and MFA need (429, all
  answered alike). Staging and prod send with SES (its quota alarmed), not Cognito's
  50 mails a day.
- **A password reset or change takes the account back**: it ends every session (Cognito
  revokes the refresh tokens; the revocation record rejects the access and ID tokens issued
  before); a change hands the caller a fresh session.
- **Passwords are taken as typed** (never trimmed): another client of the pool would not
  trim them either.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import unicodedata
from typing import Any, Callable

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError, ParamValidationError
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
    client_address,
    config,
    field,
    groups,
    http,
    log,
    publish,
    respond,
    revoke,
    table,
)

MAX_FAILURES = 5  # per identity and client address, per window
MAX_IDENTITY_FAILURES = 50  # per identity, all addresses together
MAX_SENDS = 10  # reset e-mails Cognito sends for one client address, per window
MAX_IDENTITY_SENDS = 3  # e-mails to one address, per window
# Sign-up mail goes to identities nobody has confirmed: a smaller budget, per client address
# and for the whole stage, so sign-ups (real or forged) never take the mail quota that
# resets and MFA of existing users need (at most 9,600 of the quota's mails a day).
MAX_UNKNOWN_SENDS = 3  # sign-up e-mails for one client address, per window
MAX_ALL_UNKNOWN_SENDS = 100  # sign-up e-mails for every address together, per window
MAX_CODE_TRIES = 10  # confirmation and reset codes tried for one identity, per window
WINDOW = 15 * 60
KNOWN_FOR = 90 * 86400  # an address or device that signed in stays known this long after its last sign-in
# Cognito error -> (status, code, message). The message is ours, never Cognito's: its
# wording differs for unknown users, wrong passwords and disabled users.
STATUS = {
    "UsernameExistsException": (409, "user_exists", "the user exists"),
    "InvalidPasswordException": (400, "invalid_password", "the password does not meet the password policy"),
    "InvalidParameterException": (400, "invalid_parameter", "a field has a value Cognito does not accept"),
    "CodeMismatchException": (400, "invalid_code", "the code is wrong or has expired"),
    "ExpiredCodeException": (400, "expired_code", "the code is wrong or has expired"),
    "EnableSoftwareTokenMFAException": (400, "invalid_code", "the code is wrong or has expired"),
    "NotAuthorizedException": (401, "not_authorized", "wrong e-mail or password"),
    "UserNotConfirmedException": (403, "not_confirmed", "confirm the e-mail address first"),
    "PasswordResetRequiredException": (403, "password_reset_required", "reset the password first"),
    "UserNotFoundException": (401, "not_authorized", "wrong e-mail or password"),  # never reveal which emails exist
    "LimitExceededException": (429, "too_many_requests", "too many requests: try again later"),
    "TooManyRequestsException": (429, "too_many_requests", "too many requests: try again later"),
    "TooManyFailedAttemptsException": (429, "too_many_requests", "too many requests: try again later"),
    "CodeDeliveryFailureException": (429, "too_many_requests", "too many requests: try again later"),
}
INVALID_CODE = HttpError(400, "invalid_code", "the code is wrong or has expired")


def _cognito(operation: str, **params: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = getattr(client("cognito-idp"), operation)(**params)
        return result
    except ParamValidationError as exc:  # a value Cognito's API would refuse (length, pattern)
        raise HttpError(400, "invalid_parameter", "a field has a value Cognito does not accept") from exc
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code not in STATUS:
            raise
        status, error, message = STATUS[code]
        log("info", "cognito refused", operation=operation, code=code)
        raise HttpError(status, error, message) from exc


def _email(data: dict[str, Any]) -> str:
    """The identity: NFKC-normalised, trimmed and case-folded, as the pool (case-insensitive)
    and every counter see it, so `Ada@Example.com ` and `ada@example.com` are one user."""
    email = unicodedata.normalize("NFKC", str(field(data, "email", max_length=254))).strip().casefold()
    local, _, domain = email.rpartition("@")
    if not local or "." not in domain or domain.startswith(".") or any(c.isspace() for c in email) or len(email) > 254:
        raise HttpError(400, "invalid_field", "'email' is not an email address")
    return email


def _tokens(result: dict[str, Any]) -> dict[str, Any]:
    if "ChallengeName" in result:  # SOFTWARE_TOKEN_MFA: answered at POST /auth/mfa/challenge with the session
        return {"challenge": result["ChallengeName"], "session": result.get("Session")}
    auth = result["AuthenticationResult"]
    tokens = {"accessToken": auth["AccessToken"], "idToken": auth["IdToken"], "expiresIn": auth["ExpiresIn"]}
    if "RefreshToken" in auth:
        tokens["refreshToken"] = auth["RefreshToken"]
    return tokens


# ------------------------------------------------------------------------- counters


def _take(key: str, limit: int) -> bool:
    """Count one attempt under `key` in its window, atomically; False once `limit` are used.

    The condition is evaluated by DynamoDB with the increment, so N parallel requests get
    at most `limit` yeses. A window past its end (TTL removes items only eventually) starts
    over, also conditionally, so two requests cannot both restart it."""
    counters = table("RATE_LIMITS_TABLE")
    stamp = int(time.time())
    for _ in range(3):
        try:
            counters.update_item(
                Key={"key": key},
                UpdateExpression="ADD attempts :one SET #ttl = if_not_exists(#ttl, :end)",
                ConditionExpression="attribute_not_exists(attempts) OR (attempts < :limit AND #ttl > :now)",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":one": 1, ":end": stamp + WINDOW, ":limit": limit, ":now": stamp},
            )
            return True
        except counters.meta.client.exceptions.ConditionalCheckFailedException:
            item = counters.get_item(Key={"key": key}, ConsistentRead=True).get("Item")
            if item is None:  # cleared meanwhile (a login succeeded): count again
                continue
            if int(item["ttl"]) > stamp:  # the window's attempts are used up
                return False
            try:  # the window is over: start a new one, unless another request just did
                counters.put_item(Item={"key": key, "attempts": 1, "ttl": stamp + WINDOW},
                                  ConditionExpression=Attr("ttl").eq(item["ttl"]))
                return True
            except counters.meta.client.exceptions.ConditionalCheckFailedException:
                continue
    return False


def _clear(*keys: str) -> None:
    for key in keys:
        table("RATE_LIMITS_TABLE").delete_item(Key={"key": key})


def _login_keys(event: Event, email: str) -> tuple[str, str]:
    return f"login#{email}#{client_address(event)}", f"login#{email}"


def _known_keys(event: Event, email: str, device: str | None) -> list[str]:
    """Where a successful sign-in of this identity from this address (and this device, the
    `trustedDevice` token a sign-in answered with) is remembered; the token only as a hash."""
    keys = [f"known#{email}#address#{client_address(event)}"]
    if device:
        keys.append(f"known#{email}#device#{hashlib.sha256(device.encode()).hexdigest()}")
    return keys


def _known(event: Event, email: str, device: str | None, address: bool = True) -> bool:
    """Has this identity signed in from this address or device before (within KNOWN_FOR)?
    With `address=False`, from this device only."""
    stamp = int(time.time())
    for key in _known_keys(event, email, device)[0 if address else 1:]:
        item = table("RATE_LIMITS_TABLE").get_item(Key={"key": key}, ConsistentRead=True).get("Item")
        if item is not None and int(item["ttl"]) > stamp:
            return True
    return False


def _attempt(event: Event, email: str, device: str | None = None) -> bool:
    """Reserve one login/MFA attempt, or answer 423 (the same for every e-mail).

    The identity-wide cap stops a guesser spread over many addresses, but it must not let
    that guesser lock the user out: an address or device the user has signed in from
    before is held only to its own per-address limit. Returns whether the attempt counted
    against the identity-wide cap (a sign-in gives it back)."""
    near, wide = _login_keys(event, email)
    if _take(near, MAX_FAILURES):
        if _known(event, email, device):
            return False
        if _take(wide, MAX_IDENTITY_FAILURES):
            return True
    stamp = int(time.time())
    table("ACCOUNT_LOCKOUTS_TABLE").put_item(  # for support: who was locked, from where
        Item={"userId": f"login#{email}", "email": email, "address": client_address(event),
              "lockedAt": stamp, "lockoutExpiry": stamp + WINDOW})
    log("warning", "login locked after repeated attempts", email=email, address=client_address(event))
    raise HttpError(423, "locked", "too many attempts: try again in 15 minutes")


def _mail_allowed(event: Event, email: str, purpose: str) -> None:
    """One more e-mail Cognito will send for `purpose` (register: to an unknown identity)."""
    unknown = purpose == "register"
    allowed = (_take(f"{purpose}#{client_address(event)}", MAX_UNKNOWN_SENDS if unknown else MAX_SENDS)
               and _take(f"{purpose}#{email}", MAX_IDENTITY_SENDS)
               and (not unknown or _take(f"{purpose}#*", MAX_ALL_UNKNOWN_SENDS)))
    if not allowed:
        raise HttpError(429, "too_many_requests", "too many requests: try again in 15 minutes")


def _code_allowed(email: str, purpose: str) -> None:
    if not _take(f"{purpose}-code#{email}", MAX_CODE_TRIES):
        raise HttpError(429, "too_many_requests", "too many codes tried: try again in 15 minutes")


def _give_back(key: str) -> None:
    """Return one attempt to a counter (a sign-in is not a failure); never below zero."""
    counters = table("RATE_LIMITS_TABLE")
    try:
        counters.update_item(Key={"key": key}, UpdateExpression="ADD attempts :minus", ConditionExpression="attempts > :zero",
                             ExpressionAttributeValues={":minus": -1, ":zero": 0})
    except counters.meta.client.exceptions.ConditionalCheckFailedException:
        pass  # the window ended (or was never opened) meanwhile


def _signed_in(event: Event, email: str, result: dict[str, Any], device: str | None = None,
               counted: bool = False) -> Response:
    """Tokens (or the MFA challenge). With tokens, the counters start over, and this address
    and device become known: `trustedDevice` (the one sent, or a new one) goes back to the
    client, which sends it with its next logins."""
    tokens = _tokens(result)
    if "accessToken" in tokens:
        near, wide = _login_keys(event, email)
        _clear(near)  # this address starts over; a guesser's identity-wide count stands
        if counted:
            _give_back(wide)
        # a token is kept only if a sign-in issued it: a client-chosen one could be guessable
        device = device if device and _known(event, email, device, address=False) else secrets.token_urlsafe(32)
        until = int(time.time()) + KNOWN_FOR
        for key in _known_keys(event, email, device):
            table("RATE_LIMITS_TABLE").put_item(Item={"key": key, "ttl": until})
        tokens["trustedDevice"] = device
        publish("listbackup.auth", "User Login", {"email": email})
    return respond(200, tokens)


# ------------------------------------------------------------------------- public routes


@http
def register(event: Event) -> Response:
    """202 whether or not the e-mail is registered already (nothing tells them apart)."""
    data = body(event)
    email = _email(data)
    password = field(data, "password", max_length=256, strip=False)
    name = field(data, "name", max_length=128)
    _mail_allowed(event, email, "register")
    try:
        result = _cognito(
            "sign_up",
            ClientId=config("MAIN_USER_POOL_CLIENT_ID"),
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": name}],
        )
    except HttpError as exc:
        if exc.code != "user_exists":
            raise
        log("info", "sign-up for a registered e-mail", email=email)
    else:
        publish("listbackup.auth", "User Registered", {"userId": result["UserSub"], "email": email})
    return respond(202, {"message": "check your e-mail for a confirmation code"})


@http
def verify_account(event: Event) -> Response:
    data = body(event)
    email = _email(data)
    code = field(data, "code", max_length=16)
    _code_allowed(email, "verify")
    try:
        _cognito("confirm_sign_up", ClientId=config("MAIN_USER_POOL_CLIENT_ID"), Username=email, ConfirmationCode=code)
    except HttpError as exc:
        if exc.code in ("invalid_code", "expired_code", "not_authorized"):  # also: no such user, already confirmed
            raise INVALID_CODE from exc
        raise
    return respond(200, {"confirmed": True})


@http
def login(event: Event) -> Response:
    data = body(event)
    email = _email(data)
    password = field(data, "password", max_length=256, strip=False)
    device = field(data, "trustedDevice", required=False, max_length=128)
    counted = _attempt(event, email, device)
    return _signed_in(event, email, _password_auth(event, email, password), device, counted)


def _password_auth(event: Event, username: str, password: str) -> dict[str, Any]:
    """Cognito's server-side password sign-in (IAM-authorised), with the client's context."""
    return _cognito(
        "admin_initiate_auth",
        UserPoolId=config("MAIN_USER_POOL_ID"),
        ClientId=config("MAIN_USER_POOL_CLIENT_ID"),
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
        ContextData=_context(event),
    )


def _context(event: Event) -> dict[str, Any]:
    """What threat protection weighs a sign-in by: the client's address and headers."""
    private = {"authorization", "cookie", "x-origin-verify"}  # credentials and the origin secret stay here
    headers = [{"headerName": str(k)[:128], "headerValue": str(v)[:1024]}
               for k, v in sorted((event.get("headers") or {}).items()) if str(k).lower() not in private][:20]
    http_context = (event.get("requestContext") or {}).get("http") or {}
    return {"IpAddress": client_address(event), "ServerName": str((event.get("requestContext") or {}).get("domainName") or "api"),
            "ServerPath": str(http_context.get("path") or "/auth/login"), "HttpHeaders": headers}


@http
def mfa_challenge(event: Event) -> Response:
    """The second step of a login with MFA: the session from /auth/login and the app's code."""
    data = body(event)
    email = _email(data)
    session = field(data, "session", max_length=4096)
    code = field(data, "code", max_length=16)
    if not code.isdigit():
        raise INVALID_CODE
    device = field(data, "trustedDevice", required=False, max_length=128)
    counted = _attempt(event, email, device)  # codes are guessed like passwords: the same counters
    try:
        result = _cognito(
            "admin_respond_to_auth_challenge",
            UserPoolId=config("MAIN_USER_POOL_ID"),
            ClientId=config("MAIN_USER_POOL_CLIENT_ID"),
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=session,
            ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": code},
            ContextData=_context(event),
        )
    except ClientError as exc:  # an unknown or expired session
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        raise HttpError(401, "not_authorized", "the login session is unknown or expired: log in again") from exc
    return _signed_in(event, email, result, device, counted)


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
    _mail_allowed(event, email, "reset")
    try:
        _cognito("forgot_password", ClientId=config("MAIN_USER_POOL_CLIENT_ID"), Username=email)
    except HttpError as exc:
        if exc.code not in ("not_authorized", "invalid_parameter"):  # unknown, or no verified e-mail: same answer
            raise
    return respond(202, {"message": "if the email is registered, a code is on its way"})


@http
def password_reset_confirm(event: Event) -> Response:
    data = body(event)
    email = _email(data)
    code = field(data, "code", max_length=16)
    password = field(data, "password", max_length=256, strip=False)
    _code_allowed(email, "reset")
    try:
        _cognito("confirm_forgot_password", ClientId=config("MAIN_USER_POOL_CLIENT_ID"), Username=email,
                 ConfirmationCode=code, Password=password)
    except HttpError as exc:
        if exc.code in ("invalid_code", "expired_code", "not_authorized"):  # an unknown user reads as a wrong code
            raise INVALID_CODE from exc
        raise
    _end_sessions(email)
    publish("listbackup.auth", "Password Reset", {"email": email})
    return respond(200, {"reset": True})


def _end_sessions(email: str) -> None:
    """After a reset, whoever held the account is out: Cognito revokes every refresh token,
    and the revocation record rejects the access and ID tokens issued before now (API
    Gateway would accept them until they expire). The reset itself stands if this fails: it
    is logged, and the user can still sign out everywhere."""
    pool = config("MAIN_USER_POOL_ID")
    try:
        user = _cognito("admin_get_user", UserPoolId=pool, Username=email)
        subject = next((a["Value"] for a in user.get("UserAttributes", []) if a["Name"] == "sub"), user["Username"])
        revoke(str(subject), "password-reset")
        _cognito("admin_user_global_sign_out", UserPoolId=pool, Username=email)
    except (HttpError, ClientError) as exc:
        log("error", "sessions not ended after a password reset", email=email, error=repr(exc))


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
    """Signs out everywhere: refresh tokens die at Cognito, and access/ID tokens issued
    until now are rejected by every handler (API Gateway alone would accept them to expiry)."""
    user_id = caller(event)
    _with_token("global_sign_out")(event)
    revoke(user_id, "signed-out", session=str(claims(event).get("origin_jti") or "") or None)
    publish("listbackup.auth", "User Logout", {"userId": user_id})
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
    """Changing the password ends every other session, as a reset does: whoever else holds
    the account (a stolen refresh token, a device left signed in) is out. Cognito's global
    sign-out revokes every refresh token, the revocation record rejects the access and ID
    tokens issued before now, and the caller gets a fresh session signed in with the new
    password (or the MFA challenge of one)."""
    data = body(event)
    user_id = caller(event)
    previous = field(data, "oldPassword", max_length=256, strip=False)
    proposed = field(data, "newPassword", max_length=256, strip=False)
    token = access_token(event)
    _cognito("change_password", AccessToken=token, PreviousPassword=previous, ProposedPassword=proposed)
    _cognito("global_sign_out", AccessToken=token)
    revoke(user_id, "password-changed")
    found = claims(event)
    username = str(found.get("username") or found.get("cognito:username") or found.get("email") or user_id)
    result = _password_auth(event, username, proposed)
    publish("listbackup.auth", "Password Changed", {"userId": user_id})
    return respond(200, {"changed": True, **_tokens(result)})
