"""GET /health: public liveness answer with the service, stage and version."""

from __future__ import annotations

import os

from shared import Event, Response, http, respond

VERSION = os.environ.get("VERSION", "dev")


@http
def handler(event: Event) -> Response:
    return respond(200, {"status": "ok", "service": os.environ.get("SERVICE"), "stage": os.environ.get("STAGE"), "version": VERSION})
