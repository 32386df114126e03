"""Queue workers for sync and backup jobs.

A message names a job: {"jobId": ..., "accountId": ..., "sourceId": ..., "payload": {...}}.
The worker records progress in the jobs table (running -> completed, or failed), writes
the backup payload to the data bucket under the account's prefix
(accounts/<accountId>/<kind>/<jobId>.json), logs a line in job-logs, and publishes a
"Job Completed" (or "Job Failed") event on the bus. Each message is handled on its own:
a bad one is reported as a batch item failure (SQS retries it, then moves it to the DLQ)
and does not make the others run again.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from shared import client, config, log, new_id, now, publish, table

LOG_DAYS = 30
# Ids become parts of S3 keys: letters, digits, '-' and '_' only (uuids fit), so no message
# can write outside its account's prefix ('/', '..', empty parts) or smuggle odd characters.
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class BadMessage(Exception):
    """The message cannot be processed, whatever the number of retries."""


def _job(record: dict[str, Any]) -> dict[str, Any]:
    try:
        message = json.loads(record.get("body") or "")
    except ValueError as exc:
        raise BadMessage(f"body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise BadMessage("body is not a JSON object")
    for name in ("jobId", "accountId"):
        if not isinstance(message.get(name), str) or not message[name]:
            raise BadMessage(f"'{name}' is missing")
    for name in ("jobId", "accountId", "sourceId"):
        if name in message and not (isinstance(message[name], str) and ID.fullmatch(message[name])):
            raise BadMessage(f"'{name}' is not an id")
    if not isinstance(message.get("payload", {}), dict):
        raise BadMessage("'payload' is not a JSON object")
    return message


def _set_status(job_id: str, status: str, **values: Any) -> None:
    fields = {"status": status, "updatedAt": now(), **values}
    table("JOBS_TABLE").update_item(
        Key={"jobId": job_id},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        ExpressionAttributeNames={f"#{k}": k for k in fields},
        ExpressionAttributeValues={f":{k}": v for k, v in fields.items()},
    )


def _log(job_id: str, message: str, **fields: Any) -> None:
    stamp = int(time.time())
    table("JOB_LOGS_TABLE").put_item(
        Item={"logId": new_id(), "jobId": job_id, "timestamp": stamp, "message": message, "ttl": stamp + LOG_DAYS * 86400, **fields}
    )


def _process(kind: str, message: dict[str, Any]) -> dict[str, Any]:
    job_id, account_id = message["jobId"], message["accountId"]
    _set_status(job_id, "running", kind=kind, accountId=account_id, startedAt=now())
    document = {
        "jobId": job_id,
        "accountId": account_id,
        "sourceId": message.get("sourceId"),
        "kind": kind,
        "payload": message.get("payload", {}),
        "capturedAt": now(),
    }
    data = json.dumps(document, sort_keys=True).encode("utf-8")
    key = f"accounts/{account_id}/{kind}/{job_id}.json"
    client("s3").put_object(Bucket=config("DATA_BUCKET"), Key=key, Body=data, ContentType="application/json")
    _set_status(job_id, "completed", completedAt=now(), resultKey=key, resultBytes=len(data))
    _log(job_id, f"{kind} completed", resultKey=key)
    publish("listbackup.jobs", "Job Completed", {"jobId": job_id, "accountId": account_id, "kind": kind, "resultKey": key})
    return {"jobId": job_id, "resultKey": key}


def _batch(kind: str, event: dict[str, Any]) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        message_id = record.get("messageId", "")
        job_id = None
        try:
            message = _job(record)
            job_id = message["jobId"]
            _process(kind, message)
        except Exception as exc:  # noqa: BLE001 - one bad message must not fail the batch
            log("error", f"{kind} job failed", messageId=message_id, jobId=job_id, error=repr(exc))
            failures.append({"itemIdentifier": message_id})
            if job_id is not None:
                try:
                    _set_status(job_id, "failed", error=str(exc)[:500])
                    publish("listbackup.jobs", "Job Failed", {"jobId": job_id, "kind": kind, "error": str(exc)[:500]})
                except Exception as inner:  # noqa: BLE001 - the failure is already reported
                    log("error", "could not record the failure", jobId=job_id, error=repr(inner))
    return {"batchItemFailures": failures}


def sync(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _batch("sync", event)


def backup(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _batch("backup", event)
