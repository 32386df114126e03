"""Users API: the caller's profile and settings (/users/me...), and user administration.

The caller is the `sub` claim of the JWT that API Gateway verified. The first GET
/users/me creates the profile from the token's claims. Administration routes need the
Admins or SuperAdmins group; a user may also read, update and delete themselves. Acting on
another user follows the one rule of shared.py: a strictly higher rank than theirs. Deleting
or disabling a user revokes their tokens at once; a user who owns accounts is not deleted
(409) until those accounts are.
"""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from membership import accounts_of
from shared import (
    Event,
    HttpError,
    Response,
    body,
    caller,
    claims,
    client,
    config,
    field,
    groups,
    http,
    identifier,
    is_admin,
    now,
    path,
    publish,
    query,
    rank,
    record_activity,
    respond,
    revoke,
    table,
)

PROFILE_FIELDS = ("name", "timezone", "language")
PAGE = 50
SETTINGS_BYTES = 8192  # all of a user's settings together
SETTINGS_KEYS = 100
SETTING_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
DYNAMODB_DIGITS = 38  # DynamoDB numbers: 38 significant digits, magnitude under 10^126


def _profile(user_id: str) -> dict[str, Any]:
    item = table("USERS_TABLE").get_item(Key={"userId": user_id}).get("Item")
    if item is None:
        raise HttpError(404, "not_found", "no such user")
    return dict(item)


def _self_or_admin(event: Event, user_id: str) -> None:
    """Reading: oneself, or any user for an administrator."""
    if user_id != caller(event) and not is_admin(event):
        raise HttpError(403, "forbidden", "only administrators may act on other users")


def _groups_of(user: dict[str, Any]) -> set[str]:
    listed = client("cognito-idp").admin_list_groups_for_user(
        UserPoolId=config("MAIN_USER_POOL_ID"), Username=user.get("cognitoUsername") or user["userId"])
    return {g["GroupName"] for g in listed.get("Groups", [])}


def _managed(event: Event, user_id: str) -> dict[str, Any]:
    """Changing or deleting: oneself, or a user of strictly lower rank than the caller."""
    if user_id == caller(event):
        return _profile(user_id)
    mine = rank(groups(event))
    if mine < 1:
        raise HttpError(403, "forbidden", "only administrators may act on other users")
    user = _profile(user_id)
    if rank(_groups_of(user)) >= mine:
        raise HttpError(403, "forbidden", "acting on this user needs a higher role than theirs")
    return user


def _admin(event: Event) -> None:
    if not is_admin(event):
        raise HttpError(403, "forbidden", "this needs the Admins or SuperAdmins group")


def _update(user_id: str, values: dict[str, Any]) -> dict[str, Any]:
    names = {f"#{k}": k for k in values}
    expression = "SET " + ", ".join(f"#{k} = :{k}" for k in values)
    result = table("USERS_TABLE").update_item(
        Key={"userId": user_id},
        UpdateExpression=expression,
        ConditionExpression=Attr("userId").exists(),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":{k}": v for k, v in values.items()},
        ReturnValues="ALL_NEW",
    )
    return dict(result["Attributes"])


def _profile_changes(raw: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The profile fields of a request body (`extra` keys are the caller's to handle)."""
    data = {k: v for k, v in raw.items() if k not in extra}
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    if unknown:
        raise HttpError(400, "invalid_field", f"unknown field(s): {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    for name in (n for n in PROFILE_FIELDS if n in data):
        # present means set: an empty or blank value would store a null (and Cognito refuses one)
        if not (value := field(data, name, required=False, max_length=128)):
            raise HttpError(400, "invalid_field", f"'{name}' cannot be empty")
        changes[name] = value
    if not changes and not set(extra) & set(raw):
        raise HttpError(400, "missing_field", f"give at least one of: {', '.join(PROFILE_FIELDS)}")
    return {**changes, "updatedAt": now()}


def _setting_value(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, Decimal)):
        number = Decimal(value)
        if not number.is_finite() or len(number.as_tuple().digits) > DYNAMODB_DIGITS or abs(number) >= Decimal("1e125"):
            raise HttpError(400, "invalid_field", f"'{where}' is not a number DynamoDB can store")
    elif isinstance(value, str):
        if len(value) > 1024:
            raise HttpError(400, "invalid_field", f"'{where}' is longer than 1024 characters")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _setting_value(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _setting_value(item, f"{where}.{key}")
    else:
        raise HttpError(400, "invalid_field", f"'{where}' has an unsupported type")


def _merged_settings(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The settings after a PUT: keys merged, `null` removes one; the whole is bounded."""
    for key, value in changes.items():
        if not SETTING_KEY.fullmatch(key):
            raise HttpError(400, "invalid_field", f"'{key[:64]}' is not a setting name (letters, digits, _ . -; at most 64)")
        _setting_value(value, key)
    merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
    if len(merged) > SETTINGS_KEYS:
        raise HttpError(400, "invalid_body", f"at most {SETTINGS_KEYS} settings per user")
    if len(json.dumps(merged, default=str)) > SETTINGS_BYTES:
        raise HttpError(400, "invalid_body", f"settings are limited to {SETTINGS_BYTES // 1024} KiB in all")
    return merged


def _sync_name_to_cognito(event: Event, user: dict[str, Any], changes: dict[str, Any]) -> None:
    if "name" in changes:
        client("cognito-idp").admin_update_user_attributes(
            UserPoolId=config("MAIN_USER_POOL_ID"),
            Username=user.get("cognitoUsername") or user["userId"],
            UserAttributes=[{"Name": "name", "Value": changes["name"]}],
        )


@http
def get_me(event: Event) -> Response:
    user_id = caller(event)
    item = table("USERS_TABLE").get_item(Key={"userId": user_id}).get("Item")
    if item is not None:
        return respond(200, item)
    token = claims(event)
    stamp = now()
    profile = {
        "userId": user_id,
        "cognitoUserId": user_id,
        "cognitoUsername": token.get("username") or token.get("cognito:username") or user_id,
        "name": token.get("name", ""),
        "settings": {},
        "createdAt": stamp,
        "updatedAt": stamp,
    }
    # An ID token carries the e-mail; an access token does not. email keys the table's
    # e-mail indexes, where DynamoDB refuses an empty string: absent until it is known.
    if email := str(token.get("email") or "").strip().lower():
        profile["email"] = email
    try:
        table("USERS_TABLE").put_item(Item=profile, ConditionExpression=Attr("userId").not_exists())
    except client("dynamodb").exceptions.ConditionalCheckFailedException:
        return respond(200, _profile(user_id))  # a parallel first call created it
    publish("listbackup.users", "User Profile Created", {"userId": user_id})
    return respond(201, profile)


@http
def update_profile(event: Event) -> Response:
    user_id = caller(event)
    changes = _profile_changes(body(event))
    user = _update(user_id, changes)
    _sync_name_to_cognito(event, user, changes)
    record_activity(user_id, "profile.updated", fields=sorted(changes))
    publish("listbackup.users", "User Profile Updated", {"userId": user_id})
    return respond(200, user)


@http
def get_settings(event: Event) -> Response:
    return respond(200, _profile(caller(event)).get("settings", {}))


@http
def update_settings(event: Event) -> Response:
    user_id = caller(event)
    data = body(event)
    if not data:
        raise HttpError(400, "missing_field", "give the settings to change")
    current = _profile(user_id).get("settings", {})
    user = _update(user_id, {"settings": _merged_settings(current, data), "updatedAt": now()})
    record_activity(user_id, "settings.updated", keys=sorted(data))
    return respond(200, user["settings"])


@http
def get_user_accounts(event: Event) -> Response:
    return respond(200, {"accounts": accounts_of(caller(event))})


@http
def list_users(event: Event) -> Response:
    _admin(event)
    params: dict[str, Any] = {"Limit": PAGE}
    token = query(event, "next")
    if token:
        params["ExclusiveStartKey"] = _page_key(token)
    page = table("USERS_TABLE").scan(**params)
    result: dict[str, Any] = {"users": page["Items"]}
    if "LastEvaluatedKey" in page:
        result["next"] = base64.urlsafe_b64encode(json.dumps(page["LastEvaluatedKey"]).encode()).decode()
    return respond(200, result)


def _page_key(token: str) -> dict[str, str]:
    """A page token as list_users makes them ({"userId": id}); anything else is a 400, not
    a key handed to DynamoDB (which answers a foreign shape with an error, i.e. a 500)."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token))
    except ValueError as exc:
        raise HttpError(400, "invalid_parameter", "'next' is not a page token from this API") from exc
    if not (isinstance(key, dict) and set(key) == {"userId"} and isinstance(key["userId"], str) and key["userId"]):
        raise HttpError(400, "invalid_parameter", "'next' is not a page token from this API")
    return {"userId": identifier(key["userId"], "next")}


@http
def get_user(event: Event) -> Response:
    user_id = path(event, "userId")
    _self_or_admin(event, user_id)
    return respond(200, _profile(user_id))


@http
def update_user(event: Event) -> Response:
    """Profile fields; and `enabled` (administrators, on users they outrank): disabling
    signs the user out everywhere and rejects their tokens at once."""
    user_id = path(event, "userId")
    target = _managed(event, user_id)
    data = body(event)
    changes = _profile_changes(data, extra=("enabled",))
    if "enabled" in data:
        if user_id == caller(event):
            raise HttpError(403, "forbidden", "an administrator of higher rank enables or disables a user")
        _set_enabled(target, field(data, "enabled", bool))
        changes["enabled"] = data["enabled"]
    user = _update(user_id, changes)
    _sync_name_to_cognito(event, user, changes)
    record_activity(caller(event), "user.updated", target=user_id, fields=sorted(changes))
    publish("listbackup.users", "User Profile Updated", {"userId": user_id, "by": caller(event)})
    return respond(200, user)


def _set_enabled(user: dict[str, Any], enabled: bool) -> None:
    pool, username = config("MAIN_USER_POOL_ID"), user.get("cognitoUsername") or user["userId"]
    cognito = client("cognito-idp")
    if enabled:
        cognito.admin_enable_user(UserPoolId=pool, Username=username)
        table("ACCOUNT_LOCKOUTS_TABLE").delete_item(Key={"userId": user["userId"]})
    else:
        revoke(user["userId"], "disabled", keep_for=None)  # first: no window where tokens still work
        cognito.admin_disable_user(UserPoolId=pool, Username=username)
        cognito.admin_user_global_sign_out(UserPoolId=pool, Username=username)


@http
def delete_user(event: Event) -> Response:
    """Deleting a user who owns accounts would leave those accounts without anyone who may
    manage or delete them (authority comes from ownership): 409 until they are deleted."""
    user_id = path(event, "userId")
    user = _managed(event, user_id)
    memberships = table("USER_ACCOUNTS_TABLE").query(KeyConditionExpression=Key("userId").eq(user_id))["Items"]
    owned = sorted(str(m["accountId"]) for m in memberships if m.get("role") == "owner")
    if owned:
        raise HttpError(409, "owns_accounts", f"the user owns {len(owned)} account(s): delete them first")
    revoke(user_id, "deleted")  # first: the tokens stop working even if a step below fails
    try:
        client("cognito-idp").admin_delete_user(
            UserPoolId=config("MAIN_USER_POOL_ID"), Username=user.get("cognitoUsername") or user_id
        )
    except client("cognito-idp").exceptions.UserNotFoundException:
        pass  # a retry after a partial delete
    table("USERS_TABLE").delete_item(Key={"userId": user_id})
    record_activity(caller(event), "user.deleted", target=user_id)
    publish("listbackup.users", "User Deleted", {"userId": user_id, "by": caller(event)})
    return respond(204)


@http
def search_users(event: Event) -> Response:
    _admin(event)
    text = (query(event, "q") or "").strip()
    if len(text) < 2:
        raise HttpError(400, "invalid_parameter", "'q' needs at least 2 characters")
    if "@" in text:
        items = table("USERS_TABLE").query(IndexName="EmailIndex", KeyConditionExpression=Key("email").eq(text.lower()))["Items"]
    else:
        items = table("USERS_TABLE").scan(FilterExpression=Attr("name").contains(text), Limit=500)["Items"]
    return respond(200, {"users": items[:PAGE]})
