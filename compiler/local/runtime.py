"""runtime: Lambda functions run locally, each invocation in a worker process of its own
function, with the environment, timeout and role the deployed function has.

A worker is `python -m compiler.local.runtime`: it imports the handler module from handlers/ with
the function's environment (as moto's Lambda holds it after deploy: every reference
resolved), points boto3 at the emulator, and answers one invocation at a time over a pipe.
Every AWS call the handler makes, through any session or client, is checked against the
function's role as deployed (its policies and permissions boundary, read back from the
emulator's IAM, evaluated as IAM does: compiler/iampolicy.py): a call the role does not
allow fails with AccessDenied, as on AWS, and the log says which action and resource, and
why. A worker inherits only PATH, LANG and TZ from the shell that started it. A
crash, `sys.exit` or leaked state stays inside the worker; the pool replaces a dead worker,
and restarts them all when a handler file changes on disk (the next request runs the new code).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .iamcheck import public, resources
from ..iampolicy import Request, allowed, decide, statements

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
ACCOUNT = "123456789012"  # the emulator's account
# What a worker inherits from the developer's shell: what Lambda's runtime also sets, no more
# (never their tokens, AWS profiles or proxies); the function's own environment comes on top.
INHERITED = ("PATH", "LANG", "TZ", "SYSTEMROOT")


@dataclass(frozen=True)
class FunctionConfig:
    name: str  # physical name
    handler: str  # module.function
    timeout: float  # seconds
    environment: dict[str, str]
    policies: list[dict[str, Any]]  # the role's policy documents (inline and attached), as deployed
    region: str
    boundary: dict[str, Any] | None = None  # its permissions boundary's document

    @classmethod
    def read(cls, name: str, lam: Any, iam: Any, region: str) -> "FunctionConfig":
        """The function as the emulator holds it: environment, handler, timeout, role."""
        config = lam.get_function_configuration(FunctionName=name)
        role = config["Role"].rsplit("/", 1)[-1]
        policies = [iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
                    for p in iam.list_role_policies(RoleName=role)["PolicyNames"]]
        policies += [_managed(iam, p["PolicyArn"]) for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
        policies = [_document(p) for p in policies]
        bounded = iam.get_role(RoleName=role)["Role"].get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
        return cls(name, config["Handler"], float(config.get("Timeout", 3)),
                   dict(config.get("Environment", {}).get("Variables", {})), policies, region,
                   _document(_managed(iam, bounded)) if bounded else None)


def _managed(iam: Any, arn: str) -> Any:
    """A managed policy's default version's document."""
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def _document(value: Any) -> dict[str, Any]:
    """A policy document as IAM returns it: JSON (URL-decoded by boto3), or, from moto 5.2.5's
    CloudFormation, the Python repr of the template's mapping."""
    if isinstance(value, dict):
        return value
    try:
        return dict(json.loads(value))
    except json.JSONDecodeError:
        return dict(ast.literal_eval(value))


class Invocation(Exception):
    """The invocation failed: `kind` is "error" (the handler raised or the worker died) or "timeout"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


INIT_TIMEOUT = 10.0  # Lambda's limit for a function's initialisation, apart from its timeout


@dataclass
class Worker:
    process: subprocess.Popen[str]
    started: float

    def _read(self, timeout: float) -> str | None:
        """The worker's next line, or None when it does not come in time (the worker is killed)."""
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self.process.kill()
            return None
        return answer[0] if answer else ""

    def ready(self) -> None:
        """Wait for the handler module to be imported (init is not part of the timeout)."""
        line = self._read(INIT_TIMEOUT)
        if line is None:
            raise Invocation("error", f"the function did not initialise within {INIT_TIMEOUT:.0f} s")
        if json.loads(line or "{}").get("ready") is not True:
            raise Invocation("error", f"the function failed to initialise (status {self.process.wait()}): see its log")

    def call(self, event: dict[str, Any], timeout: float) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"event": event}) + "\n")
        self.process.stdin.flush()
        line = self._read(timeout)
        if line is None:
            raise Invocation("timeout", f"Task timed out after {timeout:.2f} seconds")
        if not line:
            raise Invocation("error", f"the worker exited (status {self.process.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise Invocation("error", reply["error"])
        return reply["result"]


@dataclass
class Pool:
    """Warm workers per function (at most `size` running at once, like concurrent instances)."""

    endpoint: str
    handlers: Path
    logs: Path
    size: int = 4
    _idle: dict[str, list[Worker]] = field(default_factory=dict)
    _busy: dict[str, int] = field(default_factory=dict)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def _code_time(self) -> float:
        return max((p.stat().st_mtime for p in self.handlers.rglob("*.py")), default=0.0)

    def _spawn(self, function: FunctionConfig) -> Worker:
        env = {k: os.environ[k] for k in INHERITED if k in os.environ}
        env.update(function.environment)
        env.update(LOCAL_CREDENTIALS, AWS_ENDPOINT_URL=self.endpoint, AWS_REGION=function.region,
                   AWS_DEFAULT_REGION=function.region, AWS_LAMBDA_FUNCTION_NAME=function.name,
                   PLATFORMC_HANDLER=function.handler, PLATFORMC_POLICIES=json.dumps(function.policies),
                   PLATFORMC_BOUNDARY=json.dumps(function.boundary), PLATFORMC_ACCOUNT=ACCOUNT,
                   PYTHONPATH=os.pathsep.join([str(self.handlers.resolve()), str(Path(__file__).resolve().parent.parent)]))
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{function.name}.log").open("a")
        process = subprocess.Popen([sys.executable, "-m", "compiler.local.runtime"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=log, text=True, env=env)  # in the gateway's process group: stopped with it
        log.close()
        worker = Worker(process, time.time())
        worker.ready()
        return worker

    def invoke(self, function: FunctionConfig, event: dict[str, Any]) -> Any:
        code = self._code_time()
        with self._lock:
            while not self._idle.get(function.name) and self._busy.get(function.name, 0) >= self.size:
                self._lock.wait()
            idle = self._idle.setdefault(function.name, [])
            worker = idle.pop() if idle else None
            self._busy[function.name] = self._busy.get(function.name, 0) + 1
        try:
            if worker is not None and (worker.process.poll() is not None or worker.started < code):
                worker.process.kill()  # dead, or older than the code on disk
                worker = None
            worker = worker or self._spawn(function)
            return worker.call(event, function.timeout)
        finally:
            with self._lock:
                self._busy[function.name] -= 1
                if worker is not None and worker.process.poll() is None:
                    self._idle.setdefault(function.name, []).append(worker)
                self._lock.notify_all()

    def close(self) -> None:
        with self._lock:
            for workers in self._idle.values():
                for worker in workers:
                    worker.process.kill()
            self._idle.clear()


# ---------------------------------------------------------------------------- the worker


def _guard(policies: list[dict[str, Any]], boundary: dict[str, Any] | None, function: str, account: str) -> None:
    """Refuse, as IAM would, every call the role does not allow: in any client of any boto3
    or botocore session the handler creates (the check sits in botocore's one path to AWS),
    read as IAM reads a policy (Deny wins, conditions hold, resource ARNs by service and
    region; compiler/iampolicy.py), within the role's permissions boundary."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    known = [str(r) for statement in statements(policies) for r in _resources(statement)]
    send = BaseClient._make_api_call
    tags: dict[str, dict[str, str]] = {}

    def resource_tags(client: Any, service: str, arn: str) -> dict[str, str]:
        """`aws:ResourceTag/<key>` of the resource, as IAM puts them in the request context
        (read once per resource from the emulator, unchecked: IAM reads them itself)."""
        if service not in TAG_READERS or arn == "*":
            return {}
        if arn not in tags:
            operation, argument, read = TAG_READERS[service]
            try:
                tags[arn] = read(send(client, operation, argument(arn)))
            except ClientError:
                tags[arn] = {}
        return {f"aws:ResourceTag/{key}": value for key, value in tags[arn].items()}

    def checked(client: Any, operation: str, params: dict[str, Any]) -> Any:
        model = client.meta.service_model
        region = client.meta.region_name or os.environ.get("AWS_REGION", "us-east-1")
        for action, arn in resources(model.signing_name, operation, params, region, account, known):
            if public(action):
                continue
            request = Request(action, arn, {"aws:RequestedRegion": region, **resource_tags(client, model.signing_name, arn)})
            if not allowed(policies, request, boundary):
                why = ("an explicit Deny" if decide(policies, request) == "deny" else
                       "its permissions boundary" if decide(policies, request) == "allow" else "no statement that allows it")
                message = f"{function} is not authorized to perform: {action} on resource: {arn} ({why})"
                print(f"AccessDenied: {message}", file=sys.stderr, flush=True)
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, operation)
        return send(client, operation, params)

    BaseClient._make_api_call = checked


# Services whose resources the stage's policies select by tag (their ids are AWS's pick):
# how to read a resource's tags -> {key: value}. A pool's tags come from DescribeUserPool
# (UserPoolTags), which AWS and moto both answer; moto 5.2.5 has no cognito-idp
# ListTagsForResource.
TAG_READERS: dict[str, tuple[str, Any, Any]] = {
    "cognito-idp": ("DescribeUserPool", lambda arn: {"UserPoolId": arn.rsplit("/", 1)[-1]},
                    lambda answer: dict(answer["UserPool"].get("UserPoolTags") or {})),
    "kms": ("ListResourceTags", lambda arn: {"KeyId": arn},
            lambda answer: {t["TagKey"]: t["TagValue"] for t in answer.get("Tags", [])}),
}


def _resources(statement: Any) -> list[Any]:
    value = statement.get("Resource", []) if isinstance(statement, dict) else []
    return value if isinstance(value, list) else [value]


def serve(requests: IO[str], answers: IO[str]) -> None:
    import importlib

    module_name, function_name = os.environ["PLATFORMC_HANDLER"].rsplit(".", 1)
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", module_name)
    boundary = json.loads(os.environ.get("PLATFORMC_BOUNDARY", "null"))
    _guard(json.loads(os.environ.get("PLATFORMC_POLICIES", "[]")), boundary, name, os.environ.get("PLATFORMC_ACCOUNT", ACCOUNT))
    handler = getattr(importlib.import_module(module_name), function_name)
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in requests:
        request = json.loads(line)
        started = time.time()
        try:
            result = handler(request["event"], None)
            reply: dict[str, Any] = {"result": result}
        except Exception as exc:  # noqa: BLE001 - Lambda reports any exception as the invocation's error
            traceback.print_exc(file=sys.stderr)
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps({"function": name, "ms": round((time.time() - started) * 1000, 1),
                          "status": "error" if "error" in reply else "ok"}), file=sys.stderr, flush=True)
        answers.write(json.dumps(reply, default=str) + "\n")
        answers.flush()


def main() -> None:
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the handler prints goes to its log, never into the answers
    sys.stdout = sys.stderr
    serve(sys.stdin, answers)


if __name__ == "__main__":
    main()
