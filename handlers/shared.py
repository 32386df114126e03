"""What every handler shares: configuration, AWS clients, requests, responses, claims, logs.

Configuration comes only from the environment the compiler derives from `access:`
(`<NAME>_<SUFFIX>`, e.g. USERS_TABLE, EVENTS_BUS_NAME, MAIN_USER_POOL_ID). A handler that
raises HttpError answers with that status and a JSON body; any other exception is logged
with its traceback and answered with a plain 500, never shown to the client.

Input is checked here once for every route: bodies of at most 64 KiB of UTF-8 JSON objects
(numbers as Decimal, no NaN/Infinity), nesting at most 16 deep, ids in paths of at most 128
characters of [A-Za-z0-9._:@+-], query values of at most 256 characters. Anything else is a
4xx with a JSON body, never a 500.

The caller of an authenticated route is the `sub` of the JWT API Gateway verified, *and*
that user must not be revoked: deleting or disabling a user, or signing out, writes a
revocation (account-lockouts table, key = the user's sub) that rejects tokens issued before
it, since API Gateway's JWT authorizer only checks signature and expiry.

Requests must come through the API's CloudFront distribution when the function has
ORIGIN_SECRET_ARN (the API's `origin_secret`): CloudFront sends the secret's value in
X-Origin-Verify, and a request without it (the execute-api endpoint called directly,
around WAF and the edge's limits) is answered 403. The current and the previous version
of the secret are accepted, so rotating it does not cut traffic until the distribution is
redeployed.

Platform roles, one rule everywhere: SuperAdmins outrank Admins, who outrank everyone else.
Administrators may read any user; acting on another user needs a strictly higher rank than
theirs (an Admin cannot change or delete an Admin or a SuperAdmin).
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import os
import re
import sys
import time
import traceback
import uuid
from decimal import Decimal
from typing import Any, Callable, Iterable

import boto3

Event = dict[str, Any]
Response = dict[str, Any]
_clients: dict[str, Any] = {}
_request: dict[str, Any] = {}  # what one invocation learnt (the checked caller), reset by @http
_origin: dict[str, Any] = {}  # the origin secret's accepted values and when they were read
ORIGIN_CACHE = 300  # seconds before the secret is read again (a mismatch re-reads sooner)

MAX_BODY = 64 * 1024
MAX_DEPTH = 16
MAX_QUERY = 256
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}")
RANKS = {"SuperAdmins": 2, "Admins": 1}  # every other group (or none) is rank 0


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ------------------------------------------------------------------------- configuration


def config(name: str) -> str:
    """An environment variable the compiler sets; its absence is a wiring bug."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set: check the function's `access:`")
    return value


def client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service)
    return _clients[service]


def table(variable: str) -> Any:
    """The DynamoDB table named by an environment variable, e.g. table("USERS_TABLE")."""
    key = f"table:{variable}"
    if key not in _clients:
        _clients[key] = boto3.resource("dynamodb").Table(config(variable))
    return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests switch between mocked AWS sessions)."""
    _clients.clear()
    _origin.clear()


def _origin_values(arn: str, fresh: bool) -> list[str]:
    if fresh or time.time() - _origin.get("read", 0) > ORIGIN_CACHE:
        values = []
        for stage in ("AWSCURRENT", "AWSPREVIOUS"):
            try:
                values.append(str(client("secretsmanager").get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]))
            except client("secretsmanager").exceptions.ResourceNotFoundException:
                pass  # no previous version yet
        _origin.update(values=values, read=time.time())
    return list(_origin["values"])


def check_origin(event: Event) -> None:
    """403 unless the request came through the API's distribution (X-Origin-Verify)."""
    arn = os.environ.get("ORIGIN_SECRET_ARN")
    if not arn:
        return
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    sent = headers.get("x-origin-verify", "").encode()

    def matches(values: list[str]) -> bool:
        return bool(sent) and any(hmac.compare_digest(sent, value.encode()) for value in values)

    if matches(_origin_values(arn, fresh=False)):
        return
    if time.time() - _origin.get("read", 0) > 60 and matches(_origin_values(arn, fresh=True)):  # rotated meanwhile
        return
    raise HttpError(403, "forbidden", "call the API through its domain")


# ------------------------------------------------------------------------- responses


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def respond(status: int, body: Any = None) -> Response:
    response: Response = {"statusCode": status, "headers": {"Content-Type": "application/json"}}
    if body is not None:
        response["body"] = json.dumps(body, default=_default, sort_keys=True)
    return response


def log(level: str, message: str, **fields: Any) -> None:
    """One JSON object per line: what CloudWatch Logs Insights queries best."""
    record = {"level": level, "message": message, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields}
    print(json.dumps(record, default=str, sort_keys=True), file=sys.stdout, flush=True)


def http(handler: Callable[[Event], Response]) -> Callable[[Event, Any], Response]:
    """The error boundary of an API handler: HttpError -> its answer; anything else -> 500."""

    @functools.wraps(handler)
    def wrapper(event: Event, context: Any) -> Response:
        _request.clear()
        try:
            check_origin(event)
            return handler(event)
        except HttpError as exc:
            return respond(exc.status, {"error": exc.code, "message": exc.message})
        except Exception as exc:  # noqa: BLE001 - the client must never see a traceback
            log("error", "unhandled error", handler=handler.__name__, error=repr(exc), trace=traceback.format_exc())
            return respond(500, {"error": "internal", "message": "internal error"})

    return wrapper


# ------------------------------------------------------------------------- requests


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def body(event: Event) -> dict[str, Any]:
    raw = event.get("body")
    if raw is None or raw == "":
        return {}
    if not isinstance(raw, str):
        raise HttpError(400, "invalid_body", "the request body must be text")
    encoded = bool(event.get("isBase64Encoded"))
    if len(raw) > (MAX_BODY * 4 // 3 + 4 if encoded else MAX_BODY):
        raise HttpError(413, "body_too_large", f"the request body is limited to {MAX_BODY // 1024} KiB")
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8") if encoded else raw
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # binascii.Error is a ValueError
        raise HttpError(400, "invalid_json", "the request body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise HttpError(400, "invalid_body", "the request body must be a JSON object")
    if depth(data) > MAX_DEPTH:
        raise HttpError(400, "invalid_body", f"the request body nests deeper than {MAX_DEPTH} levels")
    return data


def field(data: dict[str, Any], name: str, kind: type = str, required: bool = True, max_length: int = 256,
          strip: bool = True) -> Any:
    """One field of a request body, checked: missing or wrong type is a 400. Text is trimmed
    unless `strip=False` (a password is taken as typed)."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise HttpError(400, "missing_field", f"'{name}' is required")
        return None
    if kind is str:
        if not isinstance(value, str):
            raise HttpError(400, "invalid_field", f"'{name}' must be a string")
        if len(value) > max_length:
            raise HttpError(400, "invalid_field", f"'{name}' is longer than {max_length} characters")
        return value.strip() if strip else value
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise HttpError(400, "invalid_field", f"'{name}' must be a {kind.__name__}")
    return value


def path(event: Event, name: str) -> str:
    value = (event.get("pathParameters") or {}).get(name)
    if not value:
        raise HttpError(400, "missing_path_parameter", f"the path needs {{{name}}}")
    return identifier(str(value), name)


def identifier(value: str, name: str) -> str:
    """An id as this API makes them (uuids, Cognito subs): anything else is a 400."""
    if not ID.fullmatch(value):
        raise HttpError(400, "invalid_parameter", f"'{name}' is not an id")
    return value


def query(event: Event, name: str) -> str | None:
    value = (event.get("queryStringParameters") or {}).get(name)
    if value is not None and len(str(value)) > MAX_QUERY:
        raise HttpError(400, "invalid_parameter", f"'{name}' is longer than {MAX_QUERY} characters")
    return None if value is None else str(value)


def client_address(event: Event) -> str:
    """The caller's IP: the last X-Forwarded-For entry (the one CloudFront appends for the
    viewer), else the connection's source (a request that reached the API directly)."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    forwarded = [part.strip() for part in headers.get("x-forwarded-for", "").split(",") if part.strip()]
    if forwarded:
        return forwarded[-1][:64]
    return str(((event.get("requestContext") or {}).get("http") or {}).get("sourceIp") or "unknown")[:64]


def claims(event: Event) -> dict[str, Any]:
    """The caller's JWT claims, as API Gateway's JWT authorizer passes them."""
    found = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt", {}).get("claims")
    if not found or "sub" not in found:
        raise HttpError(401, "unauthorized", "no authenticated caller")
    return dict(found)


def caller(event: Event) -> str:
    """The authenticated caller's id, once their tokens are known not to be revoked."""
    found = claims(event)
    user_id = str(found["sub"])
    if _request.get("caller") != user_id:
        revocation = table("ACCOUNT_LOCKOUTS_TABLE").get_item(Key={"userId": user_id}, ConsistentRead=True).get("Item")
        if revocation is not None:
            issued = int(str(found.get("iat") or found.get("auth_time") or 0))
            revoked = issued < int(revocation.get("tokensValidAfter", 0)) or found.get("origin_jti") in revocation.get("revokedSessions", set())
            if revocation.get("status") in ("deleted", "disabled") or revoked:
                raise HttpError(401, "token_revoked", "this token is no longer valid: sign in again")
        _request["caller"] = user_id
    return user_id


def revoke(user_id: str, status: str, keep_for: int | None = 2 * 86400, session: str | None = None) -> None:
    """Reject the user's tokens issued before now, and every token of `session` (the
    `origin_jti` a login's tokens share); `deleted`/`disabled` reject all of them. Access
    and ID tokens live at most a day, so a sign-out's record may expire after two."""
    stamp = int(time.time())
    values: dict[str, Any] = {":status": status, ":now": stamp}
    expression = "SET #status = :status, tokensValidAfter = :now, revokedAt = :now"
    if keep_for is not None:
        expression += ", lockoutExpiry = :expiry"
        values[":expiry"] = stamp + keep_for
    if session:
        expression += " ADD revokedSessions :session"
        values[":session"] = {session}
    if keep_for is None:
        expression += " REMOVE lockoutExpiry"
    table("ACCOUNT_LOCKOUTS_TABLE").update_item(
        Key={"userId": user_id}, UpdateExpression=expression,
        ExpressionAttributeNames={"#status": "status"}, ExpressionAttributeValues=values)


def groups(event: Event) -> set[str]:
    """The caller's groups (once their token is known not to be revoked). `cognito:groups`
    arrives as a list, or as the string "[A B]" through API Gateway."""
    caller(event)
    raw = claims(event).get("cognito:groups") or []
    if isinstance(raw, str):
        raw = raw.strip("[]").replace(",", " ").split()
    return {str(g) for g in raw}


def rank(names: Iterable[str]) -> int:
    return max((RANKS.get(name, 0) for name in names), default=0)


def is_admin(event: Event) -> bool:
    return rank(groups(event)) >= 1


def access_token(event: Event) -> str:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    value = headers.get("authorization", "")
    token = str(value[7:] if value.lower().startswith("bearer ") else value)
    if not token:
        raise HttpError(401, "unauthorized", "the Authorization header needs the access token")
    return token


# ------------------------------------------------------------------------- data and events


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_id() -> str:
    return str(uuid.uuid4())


def publish(source: str, detail_type: str, detail: dict[str, Any]) -> None:
    """An event on the platform bus (the rules route it)."""
    result = client("events").put_events(
        Entries=[
            {
                "EventBusName": config("EVENTS_BUS_NAME"),
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail, default=_default, sort_keys=True),
            }
        ]
    )
    if result.get("FailedEntryCount"):
        log("error", "event not published", detail_type=detail_type, result=result.get("Entries"))


def record_activity(user_id: str, action: str, account_id: str | None = None, **details: Any) -> None:
    """A line in the activity table (kept 90 days through its TTL attribute)."""
    stamp = int(time.time())
    item = {"eventId": new_id(), "userId": user_id, "action": action, "timestamp": stamp, "ttl": stamp + 90 * 86400}
    if account_id:
        item["accountId"] = account_id
    if details:
        item["details"] = details
    table("ACTIVITY_TABLE").put_item(Item=item)
