"""Accounts API: the caller's accounts, sub-accounts and account switching.

Every account operation checks membership through the user-accounts table first
(membership.require): a user never sees or changes another account's data. Creating an
account makes the caller its owner.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from membership import accounts_of, require
from shared import (
    Event,
    HttpError,
    Response,
    body,
    caller,
    field,
    http,
    new_id,
    now,
    path,
    publish,
    record_activity,
    respond,
    table,
)

MAX_DEPTH = 5  # sub-accounts nest at most this deep


def _account(account_id: str) -> dict[str, Any]:
    item = table("ACCOUNTS_TABLE").get_item(Key={"accountId": account_id}).get("Item")
    if item is None:
        raise HttpError(404, "not_found", "no such account")
    return dict(item)


def _children(account_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = table("ACCOUNTS_TABLE").query(
        IndexName="ParentAccountIndex", KeyConditionExpression=Key("parentAccountId").eq(account_id)
    )["Items"]
    return items


def _depth(account: dict[str, Any]) -> int:
    depth = 0
    while account.get("parentAccountId") and depth <= MAX_DEPTH:
        account = _account(account["parentAccountId"])
        depth += 1
    return depth


def _create(user_id: str, data: dict[str, Any], parent: str | None) -> dict[str, Any]:
    stamp = now()
    account = {
        "accountId": new_id(),
        "name": field(data, "name", max_length=128),
        "ownerUserId": user_id,
        "status": "active",
        "createdAt": stamp,
        "updatedAt": stamp,
    }
    if (description := field(data, "description", required=False, max_length=1024)) is not None:
        account["description"] = description
    if parent:
        account["parentAccountId"] = parent
    table("ACCOUNTS_TABLE").put_item(Item=account, ConditionExpression=Attr("accountId").not_exists())
    table("USER_ACCOUNTS_TABLE").put_item(
        Item={"userId": user_id, "accountId": account["accountId"], "role": "owner", "createdAt": stamp}
    )
    record_activity(user_id, "account.created", account["accountId"], parent=parent)
    publish("listbackup.accounts", "Account Created", {"accountId": account["accountId"], "ownerUserId": user_id, "parentAccountId": parent})
    return account


@http
def list_accounts(event: Event) -> Response:
    return respond(200, {"accounts": accounts_of(caller(event))})


@http
def create_account(event: Event) -> Response:
    return respond(201, _create(caller(event), body(event), parent=None))


@http
def get_account(event: Event) -> Response:
    account_id = path(event, "accountId")
    role = require(caller(event), account_id)
    return respond(200, {**_account(account_id), "role": role})


@http
def update_account(event: Event) -> Response:
    account_id = path(event, "accountId")
    user_id = caller(event)
    require(user_id, account_id, "owner", "admin")
    data = body(event)
    changes: dict[str, Any] = {
        k: field(data, k, required=False, max_length=128 if k == "name" else 1024) for k in ("name", "description") if k in data
    }
    unknown = sorted(set(data) - {"name", "description"})
    if unknown or not changes:
        raise HttpError(400, "invalid_field", f"give name and/or description{'; unknown: ' + ', '.join(unknown) if unknown else ''}")
    changes["updatedAt"] = now()
    result = table("ACCOUNTS_TABLE").update_item(
        Key={"accountId": account_id},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes),
        ExpressionAttributeNames={f"#{k}": k for k in changes},
        ExpressionAttributeValues={f":{k}": v for k, v in changes.items()},
        ReturnValues="ALL_NEW",
    )
    record_activity(user_id, "account.updated", account_id, fields=sorted(changes))
    return respond(200, result["Attributes"])


@http
def delete_account(event: Event) -> Response:
    account_id = path(event, "accountId")
    user_id = caller(event)
    require(user_id, account_id, "owner")
    if _children(account_id):
        raise HttpError(409, "has_sub_accounts", "delete the sub-accounts first")
    sources = table("SOURCES_TABLE").query(
        IndexName="AccountIndex", KeyConditionExpression=Key("accountId").eq(account_id), Limit=1
    )["Items"]
    if sources:
        raise HttpError(409, "has_sources", "remove the account's sources first")
    members = table("USER_ACCOUNTS_TABLE").query(
        IndexName="AccountIndex", KeyConditionExpression=Key("accountId").eq(account_id)
    )["Items"]
    for member in members:
        table("USER_ACCOUNTS_TABLE").delete_item(Key={"userId": member["userId"], "accountId": account_id})
    table("ACCOUNTS_TABLE").delete_item(Key={"accountId": account_id})
    record_activity(user_id, "account.deleted", account_id)
    publish("listbackup.accounts", "Account Deleted", {"accountId": account_id, "by": user_id})
    return respond(204)


@http
def create_sub_account(event: Event) -> Response:
    parent_id = path(event, "accountId")
    user_id = caller(event)
    require(user_id, parent_id, "owner", "admin")
    if _depth(_account(parent_id)) + 1 > MAX_DEPTH:
        raise HttpError(409, "too_deep", f"sub-accounts nest at most {MAX_DEPTH} levels")
    return respond(201, _create(user_id, body(event), parent=parent_id))


@http
def get_hierarchy(event: Event) -> Response:
    account_id = path(event, "accountId")
    require(caller(event), account_id)

    def tree(account: dict[str, Any], depth: int) -> dict[str, Any]:
        children = _children(account["accountId"]) if depth < MAX_DEPTH else []
        return {**account, "children": [tree(child, depth + 1) for child in sorted(children, key=lambda c: c["accountId"])]}

    return respond(200, tree(_account(account_id), 0))


@http
def switch_account(event: Event) -> Response:
    user_id = caller(event)
    account_id = field(body(event), "accountId")
    role = require(user_id, account_id)
    table("USERS_TABLE").update_item(
        Key={"userId": user_id},
        UpdateExpression="SET currentAccountId = :a, updatedAt = :t",
        ExpressionAttributeValues={":a": account_id, ":t": now()},
    )
    record_activity(user_id, "account.switched", account_id)
    return respond(200, {"currentAccountId": account_id, "role": role})
