"""What every handler shares: configuration, AWS clients, requests, responses, claims, logs.

Configuration comes only from the environment the compiler derives from `access:`
(`<NAME>_<SUFFIX>`, e.g. USERS_TABLE, EVENTS_BUS_NAME, MAIN_USER_POOL_ID). A handler that
raises HttpError answers with that status and a JSON body; any other exception is logged
with its traceback and answered with a plain 500, never shown to the client.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import sys
import time
import traceback
import uuid
from decimal import Decimal
from typing import Any, Callable

import boto3

Event = dict[str, Any]
Response = dict[str, Any]
_clients: dict[str, Any] = {}


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
        try:
            return handler(event)
        except HttpError as exc:
            return respond(exc.status, {"error": exc.code, "message": exc.message})
        except Exception as exc:  # noqa: BLE001 - the client must never see a traceback
            log("error", "unhandled error", handler=handler.__name__, error=repr(exc), trace=traceback.format_exc())
            return respond(500, {"error": "internal", "message": "internal error"})

    return wrapper


# ------------------------------------------------------------------------- requests


def body(event: Event) -> dict[str, Any]:
    raw = event.get("body")
    if raw is None or raw == "":
        return {}
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HttpError(400, "invalid_body", "the request body must be a JSON object")
    return data


def field(data: dict[str, Any], name: str, kind: type = str, required: bool = True, max_length: int = 256) -> Any:
    """One field of a request body, checked: missing or wrong type is a 400."""
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
        return value.strip()
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise HttpError(400, "invalid_field", f"'{name}' must be a {kind.__name__}")
    return value


def path(event: Event, name: str) -> str:
    value = (event.get("pathParameters") or {}).get(name)
    if not value:
        raise HttpError(400, "missing_path_parameter", f"the path needs {{{name}}}")
    return str(value)


def query(event: Event, name: str) -> str | None:
    return (event.get("queryStringParameters") or {}).get(name)


def claims(event: Event) -> dict[str, Any]:
    """The caller's JWT claims, as API Gateway's JWT authorizer passes them."""
    found = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt", {}).get("claims")
    if not found or "sub" not in found:
        raise HttpError(401, "unauthorized", "no authenticated caller")
    return dict(found)


def caller(event: Event) -> str:
    return str(claims(event)["sub"])


def groups(event: Event) -> set[str]:
    """`cognito:groups` arrives as a list, or as the string "[A B]" through API Gateway."""
    raw = claims(event).get("cognito:groups") or []
    if isinstance(raw, str):
        raw = raw.strip("[]").replace(",", " ").split()
    return {str(g) for g in raw}


def is_admin(event: Event) -> bool:
    return bool(groups(event) & {"SuperAdmins", "Admins"})


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
