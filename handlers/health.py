"""GET /health: public liveness answer with the service, stage and version."""

from __future__ import annotations

import os
from typing import Any

from _http import respond

VERSION = os.environ.get("VERSION", "dev")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return respond(
        200, {"status": "ok", "service": os.environ.get("SERVICE"), "stage": os.environ.get("STAGE"), "version": VERSION}
    )
