"""users API handlers. Each route is wired; the implementations come with the Handlers issue."""

from __future__ import annotations

from typing import Any

from _http import not_implemented


def get_me(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.get_me")


def update_profile(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.update_profile")


def get_settings(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.get_settings")


def update_settings(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.update_settings")


def get_user_accounts(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.get_user_accounts")


def list_users(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.list_users")


def get_user(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.get_user")


def update_user(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.update_user")


def delete_user(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.delete_user")


def search_users(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("users.search_users")
