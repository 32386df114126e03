"""Who belongs to which account: the user-accounts table, read the same way everywhere.

A user never sees an account they are not a member of: a non-member gets 404, as if the
account did not exist, so account ids cannot be probed.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from shared import HttpError, config, table

ROLES = ("owner", "admin", "member")


def role_in(user_id: str, account_id: str) -> str | None:
    item = table("USER_ACCOUNTS_TABLE").get_item(Key={"userId": user_id, "accountId": account_id}).get("Item")
    return str(item.get("role", "member")) if item else None


def require(user_id: str, account_id: str, *roles: str) -> str:
    """The caller's role in the account; 404 for non-members, 403 for a role not in `roles`."""
    role = role_in(user_id, account_id)
    if role is None:
        raise HttpError(404, "not_found", "no such account")
    if roles and role not in roles:
        raise HttpError(403, "forbidden", f"this needs the {' or '.join(roles)} role in the account")
    return role


def accounts_of(user_id: str) -> list[dict[str, Any]]:
    """The caller's accounts with their role, sorted by account id."""
    memberships = table("USER_ACCOUNTS_TABLE").query(KeyConditionExpression=Key("userId").eq(user_id))["Items"]
    roles = {m["accountId"]: m.get("role", "member") for m in memberships}
    keys = [{"accountId": account_id} for account_id in sorted(roles)]
    accounts: dict[str, Any] = {}
    name = config("ACCOUNTS_TABLE")
    for start in range(0, len(keys), 100):  # BatchGetItem takes 100 keys at a time
        request = {name: {"Keys": keys[start : start + 100]}}
        while request:
            response = table("ACCOUNTS_TABLE").meta.client.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(name, []):
                accounts[item["accountId"]] = item
            request = response.get("UnprocessedKeys") or {}
    return [{**accounts[a], "role": roles[a]} for a in sorted(accounts)]
