"""auth API handlers. Each route is wired; the implementations come with the Handlers issue."""

from __future__ import annotations

from typing import Any

from _http import not_implemented


def register(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.register")


def login(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.login")


def status(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.status")


def refresh(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.refresh")


def logout(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.logout")


def profile(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.profile")


def available_accounts(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.available_accounts")


def mfa_setup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.mfa_setup")


def mfa_verify(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.mfa_verify")


def password_reset_request(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.password_reset_request")


def password_reset_confirm(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.password_reset_confirm")


def change_password(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.change_password")


def verify_account(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return not_implemented("auth.verify_account")
