"""Queue workers for sync and backup jobs.

Until the job processing is written (Handlers issue), every message is reported as a
partial-batch failure: SQS retries it and then moves it to the queue's DLQ, so nothing is
acknowledged that was not processed.
"""

from __future__ import annotations

from typing import Any


def _fail_all(event: dict[str, Any]) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event.get("Records", [])]}


def sync(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _fail_all(event)


def backup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _fail_all(event)
