"""Deploy under attack and under faults, against the moto server on 127.0.0.1.

- a deployment bucket whose (global) name another account holds is refused before any
  upload; every S3 call names the expected owner; artifacts are read back and compared
  with the digests `make package` recorded;
- throttling answers (injected by a small proxy in front of moto) are retried;
- Ctrl-C stops starting new work and says where every stack stands; a re-run converges;
- UPDATE_ROLLBACK_FAILED is explained with the continue-update-rollback step;
- parallel stacks ask one question at a time; destroy asks unless --yes.
"""

from __future__ import annotations

import _thread
import http.client
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from compiler.delivery.deploy import Deployer, DeployError, Interrupted
from compiler.local.emulator import LocalDeployer
from tests.conftest import stack_names
from tests.delivery.test_deploy import DATA, _client, _platform, stubbed_deploy

ACCOUNT = "123456789012"  # moto's account for the credentials below


pytestmark = pytest.mark.usefixtures("local_credentials")  # any credentials do on the emulator


def _service(root: Path, name: str, data: str = DATA) -> tuple[Path, Path]:
    """The small platform of test_deploy under its own service name (bucket names are global)."""
    return _platform(root, data, service=name)


def _deployer(out: Path, endpoint: str, artifacts: Path, lines: list[str], **options: Any) -> Deployer:
    """The emulator's deployer, or with `local=False` the real path (CREATE change sets) on moto."""
    settings: dict[str, Any] = {"yes": True, "echo": lines.append, "artifacts": artifacts, "poll": 0.01}
    kind = LocalDeployer if options.pop("local", True) else Deployer
    return kind(out, "dev", endpoint_url=endpoint, **{**settings, **options})


def _other_account(endpoint: str) -> boto3.session.Session:
    """A session of another AWS account on the same moto server (an assumed role there)."""
    sts = _client(endpoint, "sts")
    creds = sts.assume_role(RoleArn="arn:aws:iam::111122223333:role/attacker", RoleSessionName="attacker")["Credentials"]
    session = boto3.session.Session(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], region_name="us-west-2")
    assert session.client("sts", endpoint_url=endpoint).get_caller_identity()["Account"] == "111122223333"
    return session


# ------------------------------------------------------------------------ supply chain


def test_a_deployment_bucket_held_by_another_account_is_refused_before_any_upload(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _service(tmp_path, "squatted")
    key = next(iter(json.loads((artifacts / "artifacts.json").read_text())))
    attacker = _other_account(endpoint).client("s3", endpoint_url=endpoint)
    attacker.create_bucket(Bucket="squatted-dev-deployment", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    attacker.put_object(Bucket="squatted-dev-deployment", Key=key, Body=b"code the attacker wants Lambda to run")

    lines: list[str] = []
    with pytest.raises(DeployError, match=f"squatted-dev-deployment exists but is not owned by account {ACCOUNT}"):
        _deployer(out, endpoint, artifacts, lines).deploy()
    planted = attacker.get_object(Bucket="squatted-dev-deployment", Key=key)["Body"].read()
    assert planted == b"code the attacker wants Lambda to run"  # nothing uploaded, nothing trusted
    assert [o["Key"] for o in attacker.list_objects_v2(Bucket="squatted-dev-deployment")["Contents"]] == [key]
    assert not [name for name in stack_names(_client(endpoint, "cloudformation")) if name.startswith("squatted-dev-")]


def test_every_s3_call_names_the_owner_and_artifacts_are_checked_by_digest(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _service(tmp_path, "owned")
    digests = json.loads((artifacts / "artifacts.json").read_text())
    lines: list[str] = []
    deployer = _deployer(out, endpoint, artifacts, lines)
    calls: list[tuple[str, dict[str, Any]]] = []
    deployer._session.events.register(
        "before-parameter-build.s3", lambda params, model, **_: calls.append((model.name, dict(params))))
    assert {r.status for r in deployer.deploy()} == {"created"}

    unpinned = [(name, params.get("ExpectedBucketOwner")) for name, params in calls
                if name not in ("ListBuckets", "CreateBucket") and params.get("ExpectedBucketOwner") != ACCOUNT]
    assert calls and unpinned == []  # CreateBucket cannot take it; ListBuckets is the ownership proof
    s3 = _client(endpoint, "s3")
    for key, digest in digests.items():
        import hashlib

        assert hashlib.sha256(s3.get_object(Bucket="owned-dev-deployment", Key=key)["Body"].read()).hexdigest() == digest

    # an object changed in place (it is "already present" by key) is replaced with the packaged bytes
    key = next(iter(digests))
    s3.put_object(Bucket="owned-dev-deployment", Key=key, Body=b"tampered")
    lines.clear()
    assert {r.status for r in _deployer(out, endpoint, artifacts, lines).deploy()} == {"unchanged"}
    assert f"uploaded s3://owned-dev-deployment/{key}" in lines
    assert s3.get_object(Bucket="owned-dev-deployment", Key=key)["Body"].read() == (artifacts / key).read_bytes()

    # a local artifact changed after `make package` is refused
    (artifacts / key).write_bytes(b"edited after packaging")
    with pytest.raises(DeployError, match="does not match the digest"):
        _deployer(out, endpoint, artifacts, lines).deploy()


# ------------------------------------------------------------------------ throttling


class _Throttler(BaseHTTPRequestHandler):
    """Forwards to moto; answers the first few calls of some operations with throttling."""

    upstream = ""
    budget: dict[str, int] = {}
    injected: list[str] = []
    lock = threading.Lock()

    def log_message(self, *args: Any) -> None:
        pass

    def _operation(self, body: bytes) -> str:
        if b"Action=" in body:
            return body.split(b"Action=")[1].split(b"&")[0].decode()
        return f"s3:{self.command}"

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = self._operation(body)
        with self.lock:
            throttle = self.budget.get(operation, 0) > 0
            if throttle:
                self.budget[operation] -= 1
                self.injected.append(operation)
        if throttle and operation.startswith("s3:"):
            status, payload = 503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        elif throttle:
            status, payload = 400, (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                                    b"<Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>")
        else:
            host, port = self.upstream.rsplit("/", 1)[1].split(":")
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            connection.request(self.command, self.path, body=body, headers=dict(self.headers))
            answer = connection.getresponse()
            status, payload = answer.status, answer.read()
            headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in ("content-length", "transfer-encoding", "connection")]
            connection.close()
        self.send_response(status)
        for name, value in (headers if not throttle else [("Content-Type", "text/xml")]):
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay


@pytest.fixture
def throttling(endpoint: str) -> Iterator[tuple[str, type[_Throttler]]]:
    handler = type("Throttler", (_Throttler,), {"upstream": endpoint, "budget": {}, "injected": [], "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_throttled_calls_are_retried_until_they_pass(throttling: tuple[str, type[_Throttler]], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Six throttles in a row on one call: more than botocore's default (legacy, 5 attempts)
    survives. The backoff itself is botocore's (exponential, full jitter); its sleeps are
    shortened here so the test takes seconds, not the ~25 s real jitter would."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.01 * context.attempt_number)
    proxy, handler = throttling
    out, artifacts = _service(tmp_path, "throttled")
    handler.budget.update({"DescribeStacks": 6, "CreateStack": 1, "s3:PUT": 2})
    lines: list[str] = []
    results = _deployer(out, proxy, artifacts, lines).deploy()
    assert {r.stack: r.status for r in results} == {"data": "created", "app": "created"}
    assert sorted(handler.injected) == ["CreateStack"] + ["DescribeStacks"] * 6 + ["s3:PUT", "s3:PUT"]


def test_progress_that_cannot_be_read_does_not_decide_the_result(throttling: tuple[str, type[_Throttler]], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """DescribeStackEvents throttled for the whole deploy (every retry of every poll): the
    stacks still finish as created, and their dependents are deployed, not skipped."""
    from botocore.retries.standard import ExponentialBackoff

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.001)
    proxy, handler = throttling
    out, artifacts = _service(tmp_path, "unreadable")
    handler.budget.update({"DescribeStackEvents": 10**6})
    lines: list[str] = []
    results = _deployer(out, proxy, artifacts, lines).deploy()
    assert {r.stack: r.status for r in results} == {"data": "created", "app": "created"}
    assert "DescribeStackEvents" in handler.injected


# ------------------------------------------------------------------------ Ctrl-C


def test_ctrl_c_reports_where_each_stack_stands_and_a_rerun_converges(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _service(tmp_path, "interrupted")
    lines: list[str] = []

    def echo(line: str) -> None:
        lines.append(line)
        if line == "data: creating (emulator: create_stack)":
            _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread

    with pytest.raises(Interrupted) as info:
        _deployer(out, endpoint, artifacts, lines, echo=echo).deploy()
    report = str(info.value)
    assert report.startswith("interrupted: nothing was started after Ctrl-C")
    assert "not started: app" in report  # the dependent never began
    assert ("in progress on AWS: data:" in report) or ("finished: data (created)" in report)
    assert "run the same deploy again" in report
    assert not [line for line in lines if line.startswith("app:")]

    again = {r.stack: r.status for r in _deployer(out, endpoint, artifacts, []).deploy()}
    assert again["app"] == "created" and again["data"] in ("unchanged", "created")


# ------------------------------------------------------------------------ UPDATE_ROLLBACK_FAILED


def test_update_rollback_failed_is_explained_with_the_step_out(tmp_path: Path) -> None:
    from botocore.stub import Stubber

    out, artifacts = _platform(tmp_path)
    cfn = boto3.client("cloudformation", region_name="us-west-2")
    stub = Stubber(cfn)
    stack = {"StackName": "mini-dev-data", "StackStatus": "UPDATE_ROLLBACK_FAILED", "CreationTime": "2026-01-01T00:00:00Z"}
    stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "mini-dev-data"})
    events = [
        {"StackId": "s", "EventId": "2", "StackName": "mini-dev-data", "LogicalResourceId": "ItemsTable",
         "ResourceStatus": "UPDATE_FAILED", "ResourceStatusReason": "Table was deleted outside CloudFormation",
         "Timestamp": "2026-01-01T00:02:00Z"},
        {"StackId": "s", "EventId": "1", "StackName": "mini-dev-data", "LogicalResourceId": "WorkQueue",
         "ResourceStatus": "UPDATE_COMPLETE", "Timestamp": "2026-01-01T00:01:00Z"},
    ]
    stub.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": "mini-dev-data"})
    result = stubbed_deploy(out, "dev", artifacts, cfn, stub, [])
    assert result.status == "failed"
    assert "mini-dev-data is in UPDATE_ROLLBACK_FAILED" in result.detail and "(ItemsTable)" in result.detail
    assert ("aws cloudformation continue-update-rollback --stack-name mini-dev-data --region us-west-2 "
            "[--resources-to-skip ItemsTable]") in result.detail


# ------------------------------------------------------------------------ prompts and destroy


def test_parallel_stacks_ask_one_question_at_a_time_next_to_their_change_set(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _service(tmp_path, "asking")
    (tmp_path / "spec" / "more.yaml").write_text("tables:\n  more: {hash_key: id:S}\n")  # a second stack on level 0
    from compiler.build.emit import write
    from compiler.build.pipeline import build

    result = build(tmp_path / "spec", "all", display_root=tmp_path)
    write(out, result.outputs, list(result.stages))
    lines: list[str] = []
    asking = {"now": 0, "most": 0}

    def confirm(question: str) -> bool:
        asking["now"] += 1
        asking["most"] = max(asking["most"], asking["now"])
        lines.append(f"? {question}")
        time.sleep(0.2)  # a user reading: the other stack must not print over it
        asking["now"] -= 1
        return True

    deployer = _deployer(out, endpoint, artifacts, lines, yes=False, local=False, confirm=confirm)
    try:
        deployer.deploy()
    except Exception:  # noqa: BLE001 - moto's CREATE change sets are not the point here
        pass
    questions = [i for i, line in enumerate(lines) if line.startswith("? deploy ")]
    assert len(questions) >= 2 and asking["most"] == 1
    for index in questions:  # each question comes right after its own change set summary
        stack = lines[index].removeprefix("? deploy ").rstrip("?")
        summary = max(i for i, line in enumerate(lines[:index]) if line.endswith(": change set") or ": change set\n" in line)
        assert lines[summary].startswith(f"{stack}: change set")


def test_destroy_asks_unless_yes(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _service(tmp_path, "doomed")
    lines: list[str] = []
    assert {r.status for r in _deployer(out, endpoint, artifacts, lines).deploy()} == {"created"}
    questions: list[str] = []
    refuse = _deployer(out, endpoint, artifacts, lines, yes=False, confirm=lambda q: questions.append(q) or False)
    with pytest.raises(DeployError, match="destroy of stage dev not confirmed: nothing deleted"):
        refuse.destroy()
    assert questions == ["delete the 2 stacks of stage dev (doomed-dev-app, doomed-dev-data)? retained resources stay"]
    assert set(stack_names(_client(endpoint, "cloudformation"))) >= {"doomed-dev-app", "doomed-dev-data"}
    assert {r.status for r in _deployer(out, endpoint, artifacts, lines).destroy()} == {"deleted"}  # --yes


def test_deploy_without_the_aws_sdk_says_which_extra_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, artifacts = _service(tmp_path, "nosdk")
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError, as on an install without it
    with pytest.raises(DeployError, match=r"pip install 'listbackup-platformc\[deploy\]'"):
        Deployer(out, "dev", yes=True, echo=lambda _: None, artifacts=artifacts, poll=0)
