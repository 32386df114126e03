"""Accounts API: the caller's accounts, sub-accounts and account switching.

A user belongs to at most MAX_MEMBERSHIPS accounts (creating one more is a 409).

Every account operation checks the caller's say over the account first: their role in it
(user-accounts table), or "owner" when they own an account above it — authority flows down
the tree, never up, so the owner of a parent can always act on its sub-accounts and a
sub-account's owner has no say over the parent. Non-members get 404. Creating an account
makes the caller its owner.

The tree stays whole: each account counts its children (`childCount`). A sub-account is
created in one transaction with its parent's count (which requires the parent to still
exist), and an account is deleted in one transaction that requires its count to be zero, so
a sub-account created while its parent is being deleted cannot be orphaned.
"""

from __future__ import annotations

from typing import Any, Iterator

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from membership import accounts_of, role_in
from shared import (
    Event,
    HttpError,
    Response,
    body,
    caller,
    config,
    field,
    http,
    identifier,
    new_id,
    now,
    path,
    publish,
    record_activity,
    respond,
    table,
)

MAX_DEPTH = 5  # sub-accounts nest at most this deep
# Accounts one user may belong to. Without a bound, anyone signed up could create accounts
# without end: storage and cost, and /accounts (which answers them all at once) would pass
# Lambda's 6 MB response limit and fail for its owner.
MAX_MEMBERSHIPS = 200


def _children(account_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = table("ACCOUNTS_TABLE").query(
        IndexName="ParentAccountIndex", KeyConditionExpression=Key("parentAccountId").eq(account_id)
    )["Items"]
    return items


def _ancestors(account: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The accounts above this one, nearest first (a missing parent ends the chain; never
    more than MAX_DEPTH + 1, so a corrupt cycle cannot loop)."""
    for _ in range(MAX_DEPTH + 1):
        parent_id = account.get("parentAccountId")
        parent = table("ACCOUNTS_TABLE").get_item(Key={"accountId": parent_id}).get("Item") if parent_id else None
        if parent is None:
            return
        account = dict(parent)
        yield account


def _authority(user_id: str, account: dict[str, Any]) -> str | None:
    """The caller's role in the account, or "owner" if they own an account above it."""
    role = role_in(user_id, account["accountId"])
    if role != "owner" and any(role_in(user_id, parent["accountId"]) == "owner" for parent in _ancestors(account)):
        return "owner"
    return role


def _require(user_id: str, account_id: str, *roles: str) -> tuple[dict[str, Any], str]:
    """The account and the caller's say over it; 404 for outsiders, 403 for a role not in `roles`."""
    account = table("ACCOUNTS_TABLE").get_item(Key={"accountId": account_id}).get("Item")
    role = _authority(user_id, dict(account)) if account is not None else None
    if account is None or role is None:
        raise HttpError(404, "not_found", "no such account")
    if roles and role not in roles:
        raise HttpError(403, "forbidden", f"this needs the {' or '.join(roles)} role in the account or above it")
    return dict(account), role


def _transact(items: list[dict[str, Any]]) -> bool:
    """One DynamoDB transaction (the resource's client takes plain values); False when a
    condition did not hold."""
    try:
        table("ACCOUNTS_TABLE").meta.client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            return False
        raise
    return True


def _depth(account: dict[str, Any]) -> int:
    return sum(1 for _ in _ancestors(account))


def _create(user_id: str, data: dict[str, Any], parent: str | None) -> dict[str, Any]:
    held = table("USER_ACCOUNTS_TABLE").query(KeyConditionExpression=Key("userId").eq(user_id), Select="COUNT")["Count"]
    if held >= MAX_MEMBERSHIPS:
        raise HttpError(409, "too_many_accounts", f"a user belongs to at most {MAX_MEMBERSHIPS} accounts")
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
    accounts, members = config("ACCOUNTS_TABLE"), config("USER_ACCOUNTS_TABLE")
    membership = {"userId": user_id, "accountId": account["accountId"], "role": "owner", "createdAt": stamp}
    items: list[dict[str, Any]] = [
        {"Put": {"TableName": accounts, "Item": account,
                 "ConditionExpression": "attribute_not_exists(accountId)"}},
        {"Put": {"TableName": members, "Item": membership}},
    ]
    if parent:
        items.append({"Update": {
            "TableName": accounts, "Key": {"accountId": parent},
            "UpdateExpression": "ADD childCount :one",
            "ConditionExpression": "attribute_exists(accountId)",
            "ExpressionAttributeValues": {":one": 1},
        }})
    if not _transact(items):
        raise HttpError(409, "parent_gone", "the parent account was deleted meanwhile")
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
    account, role = _require(caller(event), path(event, "accountId"))
    return respond(200, {**account, "role": role})


@http
def update_account(event: Event) -> Response:
    account_id = path(event, "accountId")
    user_id = caller(event)
    _require(user_id, account_id, "owner", "admin")
    data = body(event)
    changes: dict[str, Any] = {
        k: field(data, k, required=False, max_length=128 if k == "name" else 1024) or "" for k in ("name", "description") if k in data
    }
    unknown = sorted(set(data) - {"name", "description"})
    if unknown or not changes:
        raise HttpError(400, "invalid_field", f"give name and/or description{'; unknown: ' + ', '.join(unknown) if unknown else ''}")
    if changes.get("name") == "":
        raise HttpError(400, "invalid_field", "'name' cannot be empty")
    changes["updatedAt"] = now()
    try:  # only an account that still exists: a delete that ran since _require must not be undone as an ownerless item
        result = table("ACCOUNTS_TABLE").update_item(
            Key={"accountId": account_id},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in changes),
            ConditionExpression="attribute_exists(accountId)",
            ExpressionAttributeNames={f"#{k}": k for k in changes},
            ExpressionAttributeValues={f":{k}": v for k, v in changes.items()},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise HttpError(404, "not_found", "the account does not exist") from exc
    record_activity(user_id, "account.updated", account_id, fields=sorted(changes))
    return respond(200, result["Attributes"])


@http
def delete_account(event: Event) -> Response:
    account_id = path(event, "accountId")
    user_id = caller(event)
    account, _ = _require(user_id, account_id, "owner")
    if _children(account_id):  # also catches sub-accounts made before childCount existed
        raise HttpError(409, "has_sub_accounts", "delete the sub-accounts first")
    sources = table("SOURCES_TABLE").query(
        IndexName="AccountIndex", KeyConditionExpression=Key("accountId").eq(account_id), Limit=1
    )["Items"]
    if sources:
        raise HttpError(409, "has_sources", "remove the account's sources first")
    members = table("USER_ACCOUNTS_TABLE").query(
        IndexName="AccountIndex", KeyConditionExpression=Key("accountId").eq(account_id)
    )["Items"]
    accounts = config("ACCOUNTS_TABLE")
    items: list[dict[str, Any]] = [{"Delete": {
        "TableName": accounts, "Key": {"accountId": account_id},
        "ConditionExpression": "attribute_not_exists(childCount) OR childCount = :zero",
        "ExpressionAttributeValues": {":zero": 0},
    }}]
    parent = account.get("parentAccountId")
    if parent and table("ACCOUNTS_TABLE").get_item(Key={"accountId": parent}).get("Item") is not None:
        items.append({"Update": {
            "TableName": accounts, "Key": {"accountId": parent},
            "UpdateExpression": "ADD childCount :minus", "ConditionExpression": "attribute_exists(accountId)",
            "ExpressionAttributeValues": {":minus": -1},
        }})
    if not _transact(items):
        raise HttpError(409, "has_sub_accounts", "delete the sub-accounts first")
    for member in members:  # the account is gone: its memberships go with it
        table("USER_ACCOUNTS_TABLE").delete_item(Key={"userId": member["userId"], "accountId": account_id})
    record_activity(user_id, "account.deleted", account_id)
    publish("listbackup.accounts", "Account Deleted", {"accountId": account_id, "by": user_id})
    return respond(204)


@http
def create_sub_account(event: Event) -> Response:
    parent_id = path(event, "accountId")
    user_id = caller(event)
    parent, _ = _require(user_id, parent_id, "owner", "admin")
    if _depth(parent) + 1 > MAX_DEPTH:
        raise HttpError(409, "too_deep", f"sub-accounts nest at most {MAX_DEPTH} levels")
    return respond(201, _create(user_id, body(event), parent=parent_id))


@http
def get_hierarchy(event: Event) -> Response:
    """The account and the sub-accounts below it the caller may see: all of them for an
    owner (ownership flows down), else those the caller belongs to (membership does not)."""
    user_id = caller(event)
    account, role = _require(user_id, path(event, "accountId"))

    def tree(account: dict[str, Any], role: str, depth: int) -> dict[str, Any]:
        children = []
        for child in sorted(_children(account["accountId"]) if depth < MAX_DEPTH else [], key=lambda c: c["accountId"]):
            child_role = "owner" if role == "owner" else role_in(user_id, child["accountId"])
            if child_role is not None:
                children.append(tree(child, child_role, depth + 1))
        return {**account, "children": children}

    return respond(200, tree(account, role, 0))


@http
def switch_account(event: Event) -> Response:
    user_id = caller(event)
    account_id = identifier(field(body(event), "accountId", max_length=128), "accountId")
    _, role = _require(user_id, account_id)
    try:  # on the caller's profile only: never a half-made user item
        table("USERS_TABLE").update_item(
            Key={"userId": user_id},
            UpdateExpression="SET currentAccountId = :a, updatedAt = :t",
            ConditionExpression="attribute_exists(userId)",
            ExpressionAttributeValues={":a": account_id, ":t": now()},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise HttpError(409, "no_profile", "the caller has no profile yet: GET /users/me makes it") from exc
    record_activity(user_id, "account.switched", account_id)
    return respond(200, {"currentAccountId": account_id, "role": role})
