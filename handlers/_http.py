"""Shared HTTP helpers for API Gateway (payload 2.0) handlers."""

from __future__ import annotations

import json
import os
from typing import Any


def respond(status: int, body: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, sort_keys=True),
    }


def not_implemented(operation: str) -> dict[str, Any]:
    """The route is wired (role, environment, authorizer) but its code is not written yet."""
    return respond(501, {"error": "not_implemented", "operation": operation, "stage": os.environ.get("STAGE")})
