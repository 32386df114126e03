"""The local platform over real HTTP on 127.0.0.1: the stage deployed on the moto server,
its APIs served by the local gateway from generated/dev, functions in worker processes.

Each test talks to the gateway with urllib as a client would; the gateway and every worker
it starts are stopped at the end of the module.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from compiler.local.gateway import serve
from compiler.local.emulator import LocalDeployer, free_port, running
from compiler.delivery.package import package
from tests.conftest import REPO, platform, write_spec

PASSWORD = "Correct-Horse-9-Battery"
ALLOWED_ORIGIN = "http://localhost:3000"  # in the dev API's CORS configuration


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def call(base: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         token: str | None = None) -> tuple[int, Any, dict[str, str]]:
    sent = {"content-type": "application/json", **(headers or {}), **({"authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(base + path, method=method, headers=sent,
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - 127.0.0.1
            status, raw, got = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), error.headers
    text = raw.decode()
    try:
        parsed: Any = json.loads(text) if text else None
    except json.JSONDecodeError:
        parsed = text
    return status, parsed, {k.lower(): v for k, v in got.items()}


def _serve(out: Path, stage: str, endpoint: str, handlers: Path, logs: Path) -> Iterator[dict[str, str]]:
    """API name -> its base URL, while the gateways run."""
    local = serve(out, stage, endpoint, handlers, logs, free_port())
    try:
        yield {api.name: f"http://127.0.0.1:{gateway.server_address[1]}" for api, gateway in local.gateways}
    finally:
        local.close()


@pytest.fixture(scope="module")
def api(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The repository's dev stage, deployed (a re-run converges) and served."""
    artifacts = tmp_path_factory.mktemp("artifacts")
    package(REPO / "handlers", artifacts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "local")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "local")
        deployer = LocalDeployer(REPO / "generated", "dev", endpoint_url=endpoint, yes=True, echo=lambda _: None,
                                 artifacts=artifacts, poll=0.01)
        deployed = deployer.bootstrap() + deployer.deploy()  # as `up` does: the bootstrap stack first
        assert {r.status for r in deployed} <= {"created", "unchanged"}
        for urls in _serve(REPO / "generated", "dev", endpoint, REPO / "handlers", tmp_path_factory.mktemp("logs")):
            yield urls["listbackup-dev-main"]


def sign_up(api: str, email: str) -> str:
    """register -> confirm -> login through the API; the ID token."""
    assert call(api, "POST", "/auth/register", {"email": email, "password": PASSWORD, "name": "Ada"})[0] == 202
    assert call(api, "POST", "/auth/verify", {"email": email, "code": "123456"})[0] == 200
    status, body, _ = call(api, "POST", "/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, body
    return str(body["idToken"])


def test_health_needs_no_token(api: str) -> None:
    status, body, headers = call(api, "GET", "/health")
    assert status == 200 and body["status"] == "ok" and body["stage"] == "dev"
    assert headers["content-type"] == "application/json"


def test_protected_routes_refuse_missing_and_bad_tokens(api: str) -> None:
    from joserfc import jwt
    from joserfc.jwk import RSAKey
    from moto.utilities.utils import load_resource

    assert call(api, "GET", "/users/me")[:2] == (401, {"message": "Unauthorized"})
    token = sign_up(api, "claims@example.com")
    claims = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[1] + "=="))
    key = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))  # the emulator's signing key
    for changed in ({"exp": int(time.time()) - 60}, {"aud": "another-client"}, {"iss": claims["iss"] + "x"},
                    {"exp": "tomorrow"}, {"exp": None}, {"exp": True}, {"nbf": "now"}):  # not NumericDates
        forged = jwt.encode({"alg": "RS256", "kid": "dummy"}, {**claims, **changed}, key)  # signed by the pool's key
        assert call(api, "GET", "/users/me", token=forged)[0] == 401, changed
    assert call(api, "GET", "/users/me", token=token + "x")[0] == 401  # a broken signature
    assert call(api, "GET", "/users/me", token=token)[0] in (200, 201)


def test_a_user_signs_up_creates_an_account_and_another_user_cannot_see_it(api: str) -> None:
    ada = sign_up(api, "ada@example.com")
    status, me, _ = call(api, "GET", "/users/me", token=ada)
    assert status in (200, 201) and me["email"] == "ada@example.com"
    status, account, _ = call(api, "POST", "/accounts", {"name": "Ada's shop"}, token=ada)
    assert status == 201, account
    status, listed, _ = call(api, "GET", "/accounts", token=ada)
    assert [a["accountId"] for a in listed["accounts"]] == [account["accountId"]]
    bob = sign_up(api, "bob@example.com")
    assert call(api, "GET", f"/accounts/{account['accountId']}", token=bob)[0] == 404
    assert call(api, "GET", f"/accounts/{account['accountId']}", token=ada)[0] == 200


def test_cors_preflight_follows_the_apis_configuration(api: str) -> None:
    ask = {"access-control-request-method": "GET", "access-control-request-headers": "authorization"}
    status, _, headers = call(api, "OPTIONS", "/users/me", headers={"origin": ALLOWED_ORIGIN, **ask})
    assert status == 204 and headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "GET" in headers["access-control-allow-methods"] and "authorization" in headers["access-control-allow-headers"]
    status, _, headers = call(api, "OPTIONS", "/users/me", headers={"origin": "https://evil.example.com", **ask})
    assert "access-control-allow-origin" not in headers
    _, _, headers = call(api, "GET", "/health", headers={"origin": ALLOWED_ORIGIN})
    assert headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_a_sync_job_goes_through_its_queue_to_the_bucket_and_the_bus(api: str, endpoint: str) -> None:
    """The sync worker consumes its FIFO queue, writes the result to the data bucket and
    publishes "Job Completed", which the bus's job-events rule delivers to its targets."""
    aws = {service: boto3.client(service, endpoint_url=endpoint, region_name="us-west-2") for service in ("sqs", "s3", "events")}
    watch = aws["sqs"].create_queue(QueueName="local-job-events-watch")["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=watch, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["events"].put_targets(Rule="listbackup-dev-job-events", EventBusName="listbackup-dev-events", Targets=[{"Id": "watch", "Arn": arn}])
    queue = aws["sqs"].get_queue_url(QueueName="listbackup-dev-sync.fifo")["QueueUrl"]
    job = {"jobId": "job-1", "accountId": "acct-1", "sourceId": "src-1", "payload": {"files": 3}}
    aws["sqs"].send_message(QueueUrl=queue, MessageBody=json.dumps(job), MessageGroupId="acct-1")
    deadline, events = time.time() + 30, []
    while time.time() < deadline and not events:
        events = aws["sqs"].receive_message(QueueUrl=watch, WaitTimeSeconds=1).get("Messages", [])
    assert events, "no Job Completed event reached the rule's target"
    event = json.loads(events[0]["Body"])
    assert (event["detail-type"], event["detail"]["jobId"]) == ("Job Completed", "job-1")
    stored = aws["s3"].get_object(Bucket="listbackup-dev-data", Key=event["detail"]["resultKey"])["Body"].read()
    assert json.loads(stored)["payload"] == {"files": 3}


def test_an_unknown_route_is_404(api: str) -> None:
    assert call(api, "GET", "/no/such/route")[:2] == (404, {"message": "Not Found"})
    assert call(api, "DELETE", "/health")[:2] == (404, {"message": "Not Found"})


# ---------------------------------------------------------------------------- a small fixture platform

THROTTLED: dict[str, str] = {}  # the fixture's API URLs, by name
APP = """\
apis:
  main: {cors: {origins: ["http://localhost:3000"]}}
  limited: {throttling: {rate: 1, burst: 2}}
tables:
  notes: {hash_key: id:S}
functions:
  hello: {handler: app.hello, api: api:main, routes: [{route: GET /hello, auth: none}]}
  echo: {handler: app.echo, api: api:main, routes: [{route: "POST /echo/{proxy+}", auth: none}]}
  write: {handler: app.write, api: api:main, access: {table:notes: read}, routes: [{route: POST /notes, auth: none}]}
  boom: {handler: app.boom, api: api:main, routes: [{route: GET /boom, auth: none}]}
  leave: {handler: app.leave, api: api:main, routes: [{route: GET /exit, auth: none}]}
  slow: {handler: app.slow, api: api:main, timeout: 1s, routes: [{route: GET /slow, auth: none}]}
  limited: {handler: app.hello, api: api:limited, routes: [{route: GET /hello, auth: none}]}
  sessions: {handler: app.sessions, api: api:main, access: {table:notes: read}, routes: [{route: GET /sessions, auth: none}]}
  environ: {handler: app.environ, api: api:main, routes: [{route: GET /environ, auth: none}]}
  worker: {handler: app.work, timeout: 1s, consumes: {queue: queue:work, batch_size: 5}}
  listener:
    handler: app.listen
    access: {queue:heard: send}
    subscribes: {notes: {bus: bus:events, pattern: {source: [notes]}}}
buses:
  events: {}
queues:
  heard: {}
  work: {visibility_timeout: 2s, max_receives: 2}
"""
CODE = """\
import json, os, sys, time
import boto3

def hello(event, context):
    return {"statusCode": 200, "body": json.dumps({"say": "hello"}), "cookies": ["a=1"]}

def echo(event, context):
    return {"route": event["routeKey"], "path": event["pathParameters"], "query": event.get("queryStringParameters"),
            "body": event.get("body"), "method": event["requestContext"]["http"]["method"]}

def write(event, context):  # the role grants read only
    boto3.client("dynamodb").put_item(TableName=os.environ["NOTES_TABLE"], Item={"id": {"S": "1"}})
    return {"statusCode": 201}

def boom(event, context):
    raise RuntimeError("boom")

def leave(event, context):
    sys.exit(3)

def slow(event, context):
    time.sleep(5)

def listen(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["HEARD_QUEUE_URL"], MessageBody=json.dumps(event))

def sessions(event, context):  # a write through every kind of session a handler can make
    import botocore.session
    made = {
        "default": lambda: boto3.client("dynamodb"),
        "boto3 session": lambda: boto3.session.Session().client("dynamodb"),
        "botocore session": lambda: botocore.session.get_session().create_client(
            "dynamodb", region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["AWS_ENDPOINT_URL"]),
        "resource": lambda: boto3.resource("dynamodb").meta.client,
    }
    answers = {}
    for how, client in made.items():
        try:
            client().put_item(TableName=os.environ["NOTES_TABLE"], Item={"id": {"S": how}})
            answers[how] = "written"
        except Exception as exc:
            answers[how] = "denied" if "AccessDenied" in str(exc) else repr(exc)
    return answers

def environ(event, context):
    return sorted(os.environ)

def work(event, context):
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "poison"]}
"""


@pytest.fixture(scope="module")
def app(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("app")
    write_spec(root, {"app.yaml": APP}, platform=platform("{alarms: {enabled: false}}", "{protect: true}", service="localapp", tags=None))
    (root / "handlers").mkdir()
    (root / "handlers" / "app.py").write_text(CODE)
    from compiler.build.emit import write
    from compiler.build.pipeline import build

    result = build(root / "spec", "all", display_root=root)
    write(root / "generated", result.outputs, list(result.stages))
    package(root / "handlers", root / "artifacts")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "local")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "local")
        LocalDeployer(root / "generated", "dev", endpoint_url=endpoint, yes=True, echo=lambda _: None,
                      artifacts=root / "artifacts", poll=0.01).deploy()
        for urls in _serve(root / "generated", "dev", endpoint, root / "handlers", root / "logs"):
            THROTTLED.update(urls)
            yield urls["localapp-dev-main"], root


def test_events_and_responses_are_mapped_as_api_gateway_does(app: tuple[str, Path]) -> None:
    base, _ = app
    status, body, headers = call(base, "GET", "/hello")
    assert (status, body, headers["set-cookie"]) == (200, {"say": "hello"}, "a=1")
    status, body, _ = call(base, "POST", "/echo/a/b/c?x=1&x=2&y=", {"k": "v"})
    assert status == 200  # a plain object is a 200 JSON body
    assert body == {"route": "POST /echo/{proxy+}", "path": {"proxy": "a/b/c"}, "query": {"x": "1,2", "y": ""},
                    "body": '{"k": "v"}', "method": "POST"}


def test_the_stages_throttling_answers_429(app: tuple[str, Path]) -> None:
    base = THROTTLED["localapp-dev-limited"]
    codes = [call(base, "GET", "/hello")[0] for _ in range(5)]  # a burst of 2, then 1 a second
    assert codes[:2] == [200, 200] and 429 in codes[2:]
    assert call(base, "GET", "/hello")[:2] in ((429, {"message": "Too Many Requests"}), (200, {"say": "hello"}))
    time.sleep(1.1)
    assert call(base, "GET", "/hello")[0] == 200  # the bucket refills


def test_a_call_the_role_does_not_allow_is_access_denied_and_logged(app: tuple[str, Path]) -> None:
    base, root = app
    assert call(base, "POST", "/notes")[:2] == (500, {"message": "Internal Server Error"})
    log = (root / "logs" / "localapp-dev-write.log").read_text()
    assert ("AccessDenied: localapp-dev-write is not authorized to perform: dynamodb:PutItem on resource: "
            "arn:aws:dynamodb:us-west-2:123456789012:table/localapp-dev-notes (no statement that allows it)") in log


def test_every_session_a_handler_makes_is_checked_against_its_role(app: tuple[str, Path]) -> None:
    """The check sits in botocore's one path to AWS: a handler's own boto3 or botocore
    session is held to the role like the default one."""
    base, _ = app
    status, answers, _ = call(base, "GET", "/sessions")
    assert status == 200 and answers == {"default": "denied", "boto3 session": "denied", "botocore session": "denied",
                                         "resource": "denied"}, answers


def test_a_worker_gets_a_minimal_environment(app: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the developer's tokens, profiles or proxies: PATH, LANG, TZ, the function's own
    environment and what Lambda sets (region, name, the emulator's credentials)."""
    base, _ = app
    for name in ("GITHUB_TOKEN", "NPM_TOKEN", "HTTPS_PROXY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "do-not-leak")
    status, names, _ = call(base, "GET", "/environ")
    assert status == 200
    assert not {"GITHUB_TOKEN", "NPM_TOKEN", "HTTPS_PROXY", "AWS_SESSION_TOKEN", "HOME"} & set(names), names
    assert {"PATH", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "STAGE"} <= set(names)


def _raw(base: str, request: bytes, wait: float = 10.0) -> bytes:
    """Send bytes as they are on one connection; everything the gateway answers until it closes."""
    import socket

    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as connection:
        connection.sendall(request)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer


def test_request_bodies_are_framed_as_api_gateway_frames_them(app: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """10 MB at most (413 before the function runs); a Content-Length that is not a number or
    is negative is a 400; one larger than what arrives is a 408 after the read timeout, never
    a hung thread; a chunked body is parsed, never read as a second request; both framings
    at once are refused; after a refusal the connection closes."""
    from compiler.local.gateway import Handler

    base, _ = app
    head = "POST /echo/x HTTP/1.1\r\nHost: local\r\nConnection: close\r\n"
    too_big = _raw(base, (head + f"Content-Length: {10 * 1024 * 1024 + 1}\r\n\r\n").encode())
    assert too_big.startswith(b"HTTP/1.1 413")
    for length in ("abc", "-5", "1e3", ""):
        answer = _raw(base, (head + f"Content-Length: {length}\r\n\r\n").encode())
        assert answer.startswith(b"HTTP/1.1 400"), (length, answer[:80])
    monkeypatch.setattr(Handler, "timeout", 1.0)
    short = _raw(base, (head + "Content-Length: 100\r\n\r\n0123456789").encode())
    assert short.startswith(b"HTTP/1.1 408"), short[:80]
    chunked = ("POST /echo/x HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
               "GET /hello HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n").encode()
    answers = _raw(base, chunked)
    assert answers.count(b"HTTP/1.1 200") == 2 and b'"body": "hello world"' in answers, answers[:400]
    smuggled = _raw(base, (head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                           "GET /hello HTTP/1.1\r\nHost: local\r\n\r\n").encode())
    assert smuggled.startswith(b"HTTP/1.1 400") and smuggled.count(b"HTTP/1.1") == 1, smuggled[:200]
    assert call(base, "GET", "/hello")[0] == 200  # and the gateway still serves


def test_a_crash_an_exit_or_a_timeout_leaves_the_gateway_serving(app: tuple[str, Path]) -> None:
    base, _ = app
    assert call(base, "GET", "/boom")[:2] == (500, {"message": "Internal Server Error"})
    assert call(base, "GET", "/exit")[:2] == (500, {"message": "Internal Server Error"})
    assert call(base, "GET", "/slow")[:2] == (503, {"message": "Service Unavailable"})
    assert call(base, "GET", "/hello")[0] == 200


def test_edited_handler_code_runs_on_the_next_request(app: tuple[str, Path]) -> None:
    base, root = app
    assert call(base, "GET", "/hello")[1] == {"say": "hello"}
    code = root / "handlers" / "app.py"
    time.sleep(0.01)
    code.write_text(CODE.replace('{"say": "hello"}', '{"say": "edited"}'))
    os.utime(code, (time.time() + 1, time.time() + 1))  # a coarse file-system clock still sees it newer
    try:
        assert call(base, "GET", "/hello")[1] == {"say": "edited"}
    finally:
        code.write_text(CODE)


def test_a_queue_consumer_deletes_what_succeeded_and_a_poison_message_reaches_the_dlq(app: tuple[str, Path], endpoint: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-west-2")
    url = sqs.get_queue_url(QueueName="localapp-dev-work")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="localapp-dev-work-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    deadline, moved = time.time() + 30, []
    while time.time() < deadline and not moved:
        moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in moved] == ["poison"]  # after maxReceiveCount (2) failed receives
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_bus_rule_delivers_matching_events_to_its_function(app: tuple[str, Path], endpoint: str) -> None:
    aws = {service: boto3.client(service, endpoint_url=endpoint, region_name="us-west-2") for service in ("sqs", "events")}
    aws["events"].put_events(Entries=[
        {"EventBusName": "localapp-dev-events", "Source": "other", "DetailType": "Ignored", "Detail": "{}"},
        {"EventBusName": "localapp-dev-events", "Source": "notes", "DetailType": "Note Added", "Detail": json.dumps({"id": "n1"})},
    ])
    heard = aws["sqs"].get_queue_url(QueueName="localapp-dev-heard")["QueueUrl"]
    deadline, got = time.time() + 30, []
    while time.time() < deadline and not got:
        got = aws["sqs"].receive_message(QueueUrl=heard, WaitTimeSeconds=1).get("Messages", [])
    assert [json.loads(m["Body"])["detail"] for m in got] == [{"id": "n1"}]  # the pattern's match only, as an EventBridge event
    assert json.loads(got[0]["Body"])["detail-type"] == "Note Added"


# ---------------------------------------------------------------------------- up and down


def _repository_copy(root: Path) -> None:
    """What `up` reads from a clone: the spec, the handlers and generated/."""
    for folder in ("spec", "handlers", "generated"):
        shutil.copytree(REPO / folder, root / folder)


def _assert_stopped(state: dict[str, Any], timeout: float = 15) -> None:
    """The moto server's and the gateway's process groups (with its workers) are gone."""
    groups = (state["pid"], state["gateway"]["pid"])
    deadline = time.time() + timeout
    while time.time() < deadline and any(running(pid) for pid in groups):
        time.sleep(0.2)
    assert not [pid for pid in groups if running(pid)]


def test_up_serves_the_api_and_down_leaves_no_process(tmp_path: Path) -> None:
    """`platformc up` from a copy of the repository: the moto server, the gateway and its
    workers start; `platformc down` stops them all."""
    _repository_copy(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    platformc = [sys.executable, "-m", "compiler"]
    port = free_port()
    up = subprocess.run([*platformc, "up", "--stage", "dev", "--port", str(port)], cwd=tmp_path, env=env, capture_output=True,
                        text=True, timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    url = next(line.split()[-1] for line in up.stdout.splitlines() if line.startswith("API "))
    assert url == f"http://127.0.0.1:{port}"
    state = json.loads((tmp_path / ".cache" / "platformc" / "local.json").read_text())
    try:
        assert call(url, "GET", "/health")[0] == 200
        token = json.loads(subprocess.run([*platformc, "token", "--stage", "dev", "--email", "new@example.com"], cwd=tmp_path,
                                          env=env, capture_output=True, text=True, check=True, timeout=60).stdout)["id_token"]
        assert call(url, "GET", "/users/me", token=token)[0] in (200, 201)
        exported = subprocess.run(["bash", "-c", f'eval "$({shlex.join(platformc)} token --stage dev --email new@example.com '
                                  f'--export)" && printf %s "$ID_TOKEN"'], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, check=True, timeout=60).stdout  # what a shell gets from --export
        assert call(url, "GET", "/users/me", token=exported)[0] == 200
        routed = subprocess.run([*platformc, "invoke", "users-get-me", "--stage", "dev", "--as", "new@example.com"], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=60)  # the gateway builds the event
        assert routed.returncode == 0 and "GET /users/me -> 200" in routed.stderr, routed.stderr
        assert json.loads(routed.stdout)["email"] == "new@example.com"
        anonymous = subprocess.run([*platformc, "invoke", "users-get-me", "--stage", "dev"], cwd=tmp_path, env=env,
                                   capture_output=True, text=True, timeout=60)
        assert "GET /users/me -> 401" in anonymous.stderr  # no --as: the authorizer refuses, as API Gateway would
        run = [*platformc]
        bad = {"Records": [{"messageId": "m1", "body": "not json"}]}
        invoked = subprocess.run([*run, "invoke", "sync-worker", "--stage", "dev", "--event", "-"], input=json.dumps(bad),
                                 cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert invoked.returncode == 0, invoked.stderr
        assert json.loads(invoked.stdout) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
        logged = subprocess.run([*run, "logs", "health", "--stage", "dev"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert '"function": "listbackup-dev-health"' in logged.stdout
        shown = subprocess.run([*run, "outputs", "--stage", "dev", "--local", "--format", "json"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=60)
        pool_id = json.loads(shown.stdout)["infrastructure-cognito"]["MainUserPoolId"]
        assert pool_id.startswith("us-west-2_")  # the emulated pool's real id, not a placeholder
        assert json.loads(shown.stdout)["api-gateway"]["MainHttpApiLocalUrl"] == url  # where the gateway serves it
    finally:
        down = subprocess.run([*platformc, "down"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    _assert_stopped(state)
    again = subprocess.run([*platformc, "up", "--stage", "dev"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    try:  # the next `up` serves the stage's API where it was: a front end's URL stays
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"API listbackup-dev-main {url}" in again.stdout
    finally:
        subprocess.run([*platformc, "down"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_up_attach_streams_the_logs_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    _repository_copy(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "compiler", "up", "--stage", "dev", "--attach"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    output: queue.Queue[str] = queue.Queue()  # read by a thread: a silent command cannot outlast a timeout
    threading.Thread(target=lambda: [output.put(line) for line in process.stdout or ()] + [output.put("")], daemon=True).start()

    def until(text: str, timeout: float) -> str:
        deadline = time.time() + timeout
        while (left := deadline - time.time()) > 0:
            try:
                line = output.get(timeout=left)
            except queue.Empty:
                break
            if not line:  # the output ended
                break
            lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} within {timeout} s in:\n{''.join(lines)[-3000:]}")

    try:
        url = until("API ", 240).split()[-1]
        state = json.loads((tmp_path / ".cache" / "platformc" / "local.json").read_text())
        assert call(url, "GET", "/health")[0] == 200
        until("listbackup-dev-health: ", 30)  # the function's log line, streamed
        process.send_signal(signal.SIGINT)
        until("stopped", 30)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            subprocess.run([sys.executable, "-m", "compiler", "down"], cwd=tmp_path, env=env, capture_output=True, check=False)
    _assert_stopped(state)
