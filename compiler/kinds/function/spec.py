"""The `functions:` spec model and the checks that need only the spec (and handlers/)."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from ...diagnostics import KeyPath
from ...model import Duration, LogRetentionDays, Name, Ref, RefField, RefTo, SpecModel, StageSettings, StatefulSpec, matching
from ..base import CheckEnv, Problem

API_TIMEOUT = 29  # HTTP API integrations are cut at 30 s; 29 leaves the function room to answer
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "ANY")
_SEGMENT = r"([A-Za-z0-9._~-]+|\{[A-Za-z_][A-Za-z0-9_]*\})"
_GREEDY = r"\{[A-Za-z_][A-Za-z0-9_]*\+\}"  # {proxy+}: only as the last segment
ROUTE_PATTERN = rf"({'|'.join(METHODS)}) (/|(/{_SEGMENT})*(/{_GREEDY})|(/{_SEGMENT})+)"
# Lambda sets these itself and rejects a function that sets them.
RESERVED_ENV = re.compile(
    r"^(_HANDLER|_X_AMZN_TRACE_ID|AWS_REGION|AWS_DEFAULT_REGION|AWS_EXECUTION_ENV|AWS_ACCESS_KEY|AWS_ACCESS_KEY_ID"
    r"|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|AWS_LAMBDA_\w+|AWS_XRAY_\w+|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR)$"
)

RouteKey = Annotated[
    str, matching(ROUTE_PATTERN, "a route `METHOD /path` (e.g. `GET /users/{userId}`; `{name+}` only at the end)")
]
Handler = Annotated[
    str, matching(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+", "a handler `module.function`, e.g. `users.get_me`")
]
# Lambda: a letter, then at least one letter, digit or '_' (a one-letter name is refused)
EnvName = Annotated[str, matching(r"[A-Za-z][A-Za-z0-9_]+", "an environment variable name (a letter, then letters, digits or '_'; at least 2 characters)")]


class Route(SpecModel):
    route: RouteKey
    auth: Literal["jwt", "none"] = Field("jwt", description="none: a public route, said explicitly")

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.route.split(" ", 1)[1]


def _route_shorthand(value: Any) -> Any:
    """`- GET /users/me` is short for `- {route: GET /users/me}`."""
    if isinstance(value, list):
        return [{"route": item} if isinstance(item, str) else item for item in value]
    return value


class Consumes(SpecModel):
    queue: Annotated[Ref, RefTo("queue", why="a function consumes a queue")]
    batch_size: int = Field(1, ge=1, le=10)  # FIFO queues take at most 10; so do we, for one rule
    max_concurrency: int | None = Field(None, ge=2, le=1000)


class Subscription(SpecModel):
    bus: Annotated[Ref, RefTo("bus", why="a subscription is to a bus")]
    pattern: dict[str, Any] = Field(min_length=1)
    description: str | None = Field(None, max_length=512)


class Spec(StatefulSpec):  # retains its log group
    handler: Handler = Field(description="`module.function` in handlers/ (handlers/users.py get_me: `users.get_me`), checked at compile time")
    description: str | None = Field(None, max_length=256, description="what the function does")
    runtime: Literal["python3.12", "python3.13"] = Field("python3.12", description="the Python runtime")
    architecture: Literal["arm64", "x86_64"] = Field("arm64", description="arm64 (Graviton) or x86_64")
    memory: int = Field(512, ge=128, le=10240, description="memory in MB (CPU scales with it)")
    timeout: Duration = Field(10, ge=1, le=900, description="seconds or a duration; at most 29 s for a function with routes")
    reserved_concurrency: int | None = Field(None, ge=0, description="concurrent executions reserved for (and capped at) this function")
    provisioned_concurrency: int | None = Field(None, ge=1, description="pre-initialised instances on the `live` alias, usually only in prod")
    tracing: bool = Field(True, description="X-Ray active tracing")
    log_retention_days: LogRetentionDays | None = Field(None, description="default: the stage's setting")
    environment: dict[EnvName, str] = Field(default={}, description="extra environment variables; names the compiler sets and Lambda's reserved names are refused")
    access: dict[RefField, str | list[str]] = Field(
        default={}, description="resource -> access level, or a list of levels (their grants add up)")
    api: Annotated[Ref, RefTo("api", why="`api:` names an api")] | None = Field(None, description="the API its routes belong to (`api:NAME`)")
    routes: Annotated[list[Route], BeforeValidator(_route_shorthand, json_schema_input_type=list[RouteKey | Route])] = Field(default=[], description="`METHOD /path` routes of `api:` (with `auth: none` for a public route)")
    consumes: Consumes | None = Field(None, description="a queue whose messages invoke the function (batch size, window, concurrency)")
    subscribes: dict[Name, Subscription] = Field(default={}, description="bus subscriptions by name: an event pattern on `bus:NAME`")

    def reserved(self, settings: StageSettings) -> int | None:
        """Its reservation in a stage: its own, else the stage's default (`concurrency.reserved`)."""
        return self.reserved_concurrency if self.reserved_concurrency is not None else settings.concurrency.reserved

    def checkov_skips(self) -> dict[str, tuple[str, str | None]]:
        skips = super().checkov_skips()
        if not self.subscribes:  # a subscriber is invoked asynchronously: it gets a DLQ, and the check
            skips.setdefault("CKV_AWS_116", (
                "invoked synchronously only (API routes) or by a queue's event source, whose failures return to the "
                "queue and its DLQ: a Lambda DLQ receives only asynchronous invocations (function kind)",
                "AWS::Lambda::Function"))
        return skips


def levels(value: str | list[str]) -> list[str]:
    """`read` or `[read, attributes]`: the levels of one `access:` entry."""
    return [value] if isinstance(value, str) else list(value)


def env_name(ref: Ref, suffix: str) -> str:
    """The environment variable for a resource a function uses: `user-accounts` -> `USER_ACCOUNTS_TABLE`."""
    name = ref.name + (f"-{ref.part}" if ref.part else "")  # queue:sync.dlq -> SYNC_DLQ_QUEUE_URL
    return f"{name.upper().replace('-', '_')}_{suffix}"


def check_handler(spec: Spec, env: CheckEnv) -> list[Problem]:
    if spec.handler in env.handlers:
        return []
    module, function = spec.handler.rsplit(".", 1)
    path = f"handlers/{module.replace('.', '/')}.py"
    modules = sorted({h.rsplit(".", 1)[0] for h in env.handlers})
    if module not in modules:  # the file is missing, not the function
        close = difflib.get_close_matches(module, modules, n=1)
        hint = f"did you mean '{close[0]}.{function}'?" if close else f"modules: {', '.join(modules) or 'none'}"
        return [(("handler",), f"no module {path}", hint)]
    functions = sorted(h.rsplit(".", 1)[1] for h in env.handlers if h.rsplit(".", 1)[0] == module)
    close = difflib.get_close_matches(function, functions, n=1)
    hint = f"did you mean '{module}.{close[0]}'?" if close else f"it defines: {', '.join(functions) or 'no function'}"
    return [(("handler",), f"no function '{function}' in {path}", hint)]


def check_access(spec: Spec, env: CheckEnv) -> list[Problem]:
    problems: list[Problem] = []
    for ref, value in spec.access.items():
        known = env.kinds[ref.kind].access
        if not known:
            problems.append((("access", str(ref)), f"a function cannot be granted access to a {ref.kind}"))
            continue
        if not levels(value):
            problems.append((("access", str(ref)), "give at least one access level", f"levels: {', '.join(known)}"))
        for i, level in enumerate(levels(value)):
            where: KeyPath = ("access", str(ref)) if isinstance(value, str) else ("access", str(ref), i)
            if level not in known:
                close = difflib.get_close_matches(level, known, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"levels: {', '.join(known)}"
                problems.append((where, f"unknown access level '{level}' for a {ref.kind}", hint))
            elif level in levels(value)[:i]:
                problems.append((where, f"access level '{level}' is listed twice"))
    return problems


def check_environment(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    derived = {"SERVICE", "STAGE", "VERSION", "ORIGIN_SECRET_ARN"} | {
        env_name(ref, suffix) for ref in spec.access for suffix in env.kinds[ref.kind].env
    }
    problems: list[tuple[KeyPath, str]] = []
    for name in spec.environment:
        if RESERVED_ENV.match(name):
            problems.append((("environment", name), f"'{name}' is reserved by Lambda, which sets it itself"))
        elif name in derived:
            problems.append((("environment", name), f"'{name}' is set by the compiler (from `access:`, the stage or the code)"))
    return problems


def check_routes(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    if spec.routes and spec.api is None:
        problems.append((("routes",), "routes need the API they belong to: add `api: api:NAME`"))
    if spec.routes and spec.timeout > API_TIMEOUT:
        problems.append(
            (("timeout",), f"a function behind API Gateway must answer within {API_TIMEOUT} s, not {spec.timeout} s")
        )
    return problems


def check_triggers(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    if spec.provisioned_concurrency and spec.reserved_concurrency is not None:
        if spec.provisioned_concurrency > spec.reserved_concurrency:
            problems.append((("provisioned_concurrency",), "provisioned concurrency cannot exceed reserved concurrency"))
    return problems


CHECKS = (check_handler, check_access, check_environment, check_routes, check_triggers)
