"""Users API: the caller's profile and settings (/users/me...), and user administration.

The caller is the `sub` claim of the JWT that API Gateway verified. The first GET
/users/me creates the profile from the token's claims. Administration routes need the
Admins or SuperAdmins group; a user may also read, update and delete themselves.
"""

from __future__ import annotations

import base64
import json
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
    http,
    is_admin,
    now,
    path,
    publish,
    query,
    record_activity,
    respond,
    table,
)

PROFILE_FIELDS = ("name", "timezone", "language")
PAGE = 50


def _profile(user_id: str) -> dict[str, Any]:
    item = table("USERS_TABLE").get_item(Key={"userId": user_id}).get("Item")
    if item is None:
        raise HttpError(404, "not_found", "no such user")
    return dict(item)


def _self_or_admin(event: Event, user_id: str) -> None:
    if user_id != caller(event) and not is_admin(event):
        raise HttpError(403, "forbidden", "only administrators may act on other users")


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


def _profile_changes(event: Event) -> dict[str, Any]:
    data = body(event)
    unknown = sorted(set(data) - set(PROFILE_FIELDS))
    if unknown:
        raise HttpError(400, "invalid_field", f"unknown field(s): {', '.join(unknown)}")
    changes = {name: field(data, name, required=False) for name in PROFILE_FIELDS if name in data}
    if not changes:
        raise HttpError(400, "missing_field", f"give at least one of: {', '.join(PROFILE_FIELDS)}")
    return {**changes, "updatedAt": now()}


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
        "email": str(token.get("email", "")).lower(),
        "name": token.get("name", ""),
        "settings": {},
        "createdAt": stamp,
        "updatedAt": stamp,
    }
    try:
        table("USERS_TABLE").put_item(Item=profile, ConditionExpression=Attr("userId").not_exists())
    except client("dynamodb").exceptions.ConditionalCheckFailedException:
        return respond(200, _profile(user_id))  # a parallel first call created it
    publish("listbackup.users", "User Profile Created", {"userId": user_id})
    return respond(201, profile)


@http
def update_profile(event: Event) -> Response:
    user_id = caller(event)
    changes = _profile_changes(event)
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
    if len(json.dumps(data)) > 8192:
        raise HttpError(400, "invalid_body", "settings are limited to 8 KiB")
    current = _profile(user_id).get("settings", {})
    user = _update(user_id, {"settings": {**current, **data}, "updatedAt": now()})
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
        try:
            params["ExclusiveStartKey"] = json.loads(base64.urlsafe_b64decode(token))
        except ValueError as exc:
            raise HttpError(400, "invalid_parameter", "'next' is not a page token from this API") from exc
    page = table("USERS_TABLE").scan(**params)
    result: dict[str, Any] = {"users": page["Items"]}
    if "LastEvaluatedKey" in page:
        result["next"] = base64.urlsafe_b64encode(json.dumps(page["LastEvaluatedKey"]).encode()).decode()
    return respond(200, result)


@http
def get_user(event: Event) -> Response:
    user_id = path(event, "userId")
    _self_or_admin(event, user_id)
    return respond(200, _profile(user_id))


@http
def update_user(event: Event) -> Response:
    user_id = path(event, "userId")
    _self_or_admin(event, user_id)
    changes = _profile_changes(event)
    user = _update(user_id, changes)
    _sync_name_to_cognito(event, user, changes)
    record_activity(caller(event), "user.updated", target=user_id, fields=sorted(changes))
    publish("listbackup.users", "User Profile Updated", {"userId": user_id, "by": caller(event)})
    return respond(200, user)


@http
def delete_user(event: Event) -> Response:
    user_id = path(event, "userId")
    _self_or_admin(event, user_id)
    user = _profile(user_id)
    client("cognito-idp").admin_delete_user(
        UserPoolId=config("MAIN_USER_POOL_ID"), Username=user.get("cognitoUsername") or user_id
    )
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
