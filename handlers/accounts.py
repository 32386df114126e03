"""accounts API handlers. Each route is wired; the implementations come with the Handlers issue."""

from __future__ import annotations

from typing import Any

from _http import not_implemented


def list_accounts(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("accounts.list_accounts")


def create_account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("accounts.create_account")


def get_account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("accounts.get_account")


def update_account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("accounts.update_account")


def delete_account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("accounts.delete_account")


def create_sub_account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("accounts.create_sub_account")


def get_hierarchy(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("accounts.get_hierarchy")


def switch_account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("accounts.switch_account")
