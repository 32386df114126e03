"""End-to-end flows through the real handlers, wired exactly as generated/dev says."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3

from tests.handlers.platform import REGION, Platform, api_event, json_body, jwt_claims

PASSWORD = "Correct-Horse-9-Battery"


def sign_up_and_login(aws: Platform, email: str = "ada@example.com", name: str = "Ada") -> dict[str, Any]:
    """register -> confirm -> login; returns tokens and the claims API Gateway would pass."""
    # each user signs up from an address of their own (sign-ups are rate-limited per address)
    address = "198.18.%d.%d" % divmod(int(hashlib.sha256(email.encode()).hexdigest()[:4], 16), 256)
    registered = aws.invoke("auth-register", api_event("POST", "/auth/register", {"email": email, "password": PASSWORD, "name": name},
                                                       address=address))
    assert registered["statusCode"] == 202, registered  # the same answer for a known e-mail
    confirmed = aws.invoke("auth-verify", api_event("POST", "/auth/verify", {"email": email, "code": "123456"}))
    assert confirmed["statusCode"] == 200, confirmed
    login = aws.invoke("auth-login", api_event("POST", "/auth/login", {"email": email, "password": PASSWORD}))
    assert login["statusCode"] == 200, login
    tokens = json_body(login)
    claims = {**jwt_claims(tokens["accessToken"]), **jwt_claims(tokens["idToken"])}
    return {**tokens, "claims": claims, "userId": claims["sub"]}


def test_register_confirm_login_me_create_and_list_accounts(aws: Platform) -> None:
    session = sign_up_and_login(aws)
    claims = session["claims"]
    assert claims["sub"] == session["userId"]

    me = aws.invoke("users-get-me", api_event("GET", "/users/me", claims=claims))
    assert me["statusCode"] == 201  # the first call creates the profile
    assert json_body(me)["email"] == "ada@example.com"
    assert json_body(me)["name"] == claims.get("name", "")  # from the token (moto's ID tokens carry no name)
    again = aws.invoke("users-get-me", api_event("GET", "/users/me", claims=claims))
    assert again["statusCode"] == 200 and json_body(again)["userId"] == session["userId"]

    created = aws.invoke("accounts-create", api_event("POST", "/accounts", {"name": "Ada's shop"}, claims=claims))
    assert created["statusCode"] == 201, created
    account = json_body(created)
    assert account["ownerUserId"] == session["userId"]

    listed = aws.invoke("accounts-list", api_event("GET", "/accounts", claims=claims))
    assert listed["statusCode"] == 200
    assert [(a["accountId"], a["name"], a["role"]) for a in json_body(listed)["accounts"]] == [
        (account["accountId"], "Ada's shop", "owner")
    ]


def _queue_events(aws: Platform) -> str:
    """Route the bus's job events to a queue the test can read (what a subscriber would see)."""
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="test-job-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="test-jobs", EventBusName="listbackup-dev-events", EventPattern=json.dumps({"source": ["listbackup.jobs"]}))
    events.put_targets(Rule="test-jobs", EventBusName="listbackup-dev-events", Targets=[{"Id": "q", "Arn": arn}])
    return url


def _record(message_id: str, body: Any) -> dict[str, Any]:
    return {"messageId": message_id, "body": body if isinstance(body, str) else json.dumps(body), "eventSource": "aws:sqs"}


def test_sync_job_updates_the_job_writes_the_bucket_and_publishes(aws: Platform) -> None:
    jobs = boto3.resource("dynamodb", region_name=REGION).Table("listbackup-dev-jobs")
    jobs.put_item(Item={"jobId": "job-1", "accountId": "acct-1", "status": "queued", "createdAt": "2026-11-24T00:00:00Z"})
    events_queue = _queue_events(aws)

    message = {"jobId": "job-1", "accountId": "acct-1", "sourceId": "src-1", "payload": {"files": 3}}
    result = aws.invoke("sync-worker", {"Records": [_record("m1", message)]})
    assert result == {"batchItemFailures": []}

    job = jobs.get_item(Key={"jobId": "job-1"})["Item"]
    assert job["status"] == "completed" and job["resultKey"] == "accounts/acct-1/sync/job-1.json"
    stored = boto3.client("s3", region_name=REGION).get_object(Bucket="listbackup-dev-data", Key=job["resultKey"])
    document = json.loads(stored["Body"].read())
    assert (document["accountId"], document["payload"]) == ("acct-1", {"files": 3})
    received = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=events_queue, WaitTimeSeconds=0)["Messages"]
    event = json.loads(received[0]["Body"])
    assert (event["source"], event["detail-type"], event["detail"]["jobId"]) == ("listbackup.jobs", "Job Completed", "job-1")


def test_poison_message_is_a_batch_item_failure_and_the_rest_is_processed(aws: Platform) -> None:
    records = [
        _record("good-1", {"jobId": "job-a", "accountId": "acct-1"}),
        _record("poison", "{not json"),
        _record("no-account", {"jobId": "job-b"}),
        _record("good-2", {"jobId": "job-c", "accountId": "acct-2"}),
    ]
    result = aws.invoke("backup-worker", {"Records": records})
    assert result == {"batchItemFailures": [{"itemIdentifier": "poison"}, {"itemIdentifier": "no-account"}]}
    keys = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket="listbackup-dev-data")["Contents"]
    assert sorted(k["Key"] for k in keys) == ["accounts/acct-1/backup/job-a.json", "accounts/acct-2/backup/job-c.json"]
