"""runtime: Lambda functions run locally, each invocation in a worker process of its own
function, with the environment, timeout and role the deployed function has.

A worker is `python -m compiler.runtime`: it imports the handler module from handlers/ with
the function's environment (as moto's Lambda holds it after deploy: every reference
resolved), points boto3 at the emulator, and answers one invocation at a time over a pipe.
Every AWS call the handler makes is checked against the function's role as deployed (its
inline policies, read back from the emulator's IAM): a call the role does not allow fails
with AccessDenied, as on AWS, and the log says which action and resource were missing. A
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

from .iamcheck import Role, targets

LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass(frozen=True)
class FunctionConfig:
    name: str  # physical name
    handler: str  # module.function
    timeout: float  # seconds
    environment: dict[str, str]
    policies: list[dict[str, Any]]  # the role's policy documents, as deployed
    region: str

    @classmethod
    def read(cls, name: str, lam: Any, iam: Any, region: str) -> "FunctionConfig":
        """The function as the emulator holds it: environment, handler, timeout, role."""
        config = lam.get_function_configuration(FunctionName=name)
        role = config["Role"].rsplit("/", 1)[-1]
        policies = [iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
                    for p in iam.list_role_policies(RoleName=role)["PolicyNames"]]
        policies = [_document(p) for p in policies]
        return cls(name, config["Handler"], float(config.get("Timeout", 3)),
                   dict(config.get("Environment", {}).get("Variables", {})), policies, region)


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
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(function.environment)
        env.update(LOCAL_CREDENTIALS, AWS_ENDPOINT_URL=self.endpoint, AWS_REGION=function.region,
                   AWS_DEFAULT_REGION=function.region, AWS_LAMBDA_FUNCTION_NAME=function.name,
                   PLATFORMC_HANDLER=function.handler, PLATFORMC_POLICIES=json.dumps(function.policies),
                   PYTHONPATH=os.pathsep.join([str(self.handlers.resolve()), str(Path(__file__).resolve().parent.parent)]))
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{function.name}.log").open("a")
        process = subprocess.Popen([sys.executable, "-m", "compiler.runtime"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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


def _guard(policies: list[dict[str, Any]], function: str) -> None:
    """Refuse, as IAM would, every call the role does not allow."""
    import boto3
    from botocore.exceptions import ClientError

    role = Role.from_documents(policies)

    def check(params: dict[str, Any], model: Any, **_: Any) -> None:
        for call in targets(model.service_model.signing_name, model.name, params):
            why = role.denial(call)
            if why is not None:
                action, target = call
                message = f"{function} is not authorized to perform: {action} on resource: {target or '*'} ({why})"
                print(f"AccessDenied: {message}", file=sys.stderr, flush=True)
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, model.name)

    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-parameter-build", check)


def serve(requests: IO[str], answers: IO[str]) -> None:
    import importlib

    module_name, function_name = os.environ["PLATFORMC_HANDLER"].rsplit(".", 1)
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", module_name)
    _guard(json.loads(os.environ.get("PLATFORMC_POLICIES", "[]")), name)
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
