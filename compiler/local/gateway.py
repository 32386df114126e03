"""gateway: the stage's HTTP APIs served on 127.0.0.1, as API Gateway serves them, from the
compiled templates in generated/<stage>/ and the values deployed on the emulator.

For each `AWS::ApiGatewayV2::Api`: its routes (`Route` -> `Integration` -> the Lambda
function), its JWT authorizer (issuer and audience as deployed; the token's signature is
checked against the user pool's JWKS on the emulator), its CORS configuration and its
stage's throttling. Requests become payload format 2.0 events; the function runs in a
worker (`runtime`); its answer is mapped back as API Gateway maps it. A distribution in front
of the API (CloudFront) adds its origin headers, so the handlers' origin check holds locally.

Bodies are read as API Gateway reads them: at most 10 MB (413 before any function runs), a
`Content-Length` that is a number and arrives in full (else 400, or 408 after
`Handler.timeout` seconds), or `Transfer-Encoding: chunked`, parsed (never both); after any
such error the connection is closed, so no leftover byte is read as a second request.

Run by `platformc up` as `python -m compiler.local.gateway`; binds 127.0.0.1 only.

Why one module of this length: it is one request's path through API Gateway (framing, routing,
JWT authorizer, CORS, throttling, the payload 2.0 mapping both ways); split, that path would be
read across files.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import consumers as consumers_
from .emulator import free_port, function_name
from ..manifest import Manifest
from .runtime import FunctionConfig, Invocation, Pool

HOST = "127.0.0.1"
NOT_FOUND = (404, {"message": "Not Found"})
UNAUTHORIZED = (401, {"message": "Unauthorized"})
FORBIDDEN = (403, {"message": "Forbidden"})
THROTTLED = (429, {"message": "Too Many Requests"})
INTERNAL = (500, {"message": "Internal Server Error"})
UNAVAILABLE = (503, {"message": "Service Unavailable"})
BAD_REQUEST = (400, {"message": "Bad Request"})
TIMED_OUT = (408, {"message": "Request Timeout"})
TOO_LARGE = (413, {"message": "Request Entity Too Large"})
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload quota for HTTP APIs


class BodyError(Exception):
    """A request body the gateway refuses: (status, message)."""

    def __init__(self, answer: tuple[int, dict[str, str]]):
        super().__init__(answer[1]["message"])
        self.answer = answer


@dataclass(frozen=True)
class Route:
    method: str  # ANY for any
    path: str  # /users/{userId}, /files/{proxy+}, or "" for $default
    function: str  # physical function name
    auth: bool
    scopes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return "$default" if not self.path else f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if not self.path:
            return {}
        if self.method not in ("ANY", method):
            return None
        pattern = ""
        for part in self.path.strip("/").split("/"):
            greedy = re.fullmatch(r"\{(\w+)\+\}", part)
            plain = re.fullmatch(r"\{(\w+)\}", part)
            pattern += "/" + (f"(?P<{greedy.group(1)}>.+)" if greedy else f"(?P<{plain.group(1)}>[^/]+)" if plain else re.escape(part))
        found = re.fullmatch(pattern or "/", path)
        return dict(found.groupdict()) if found else None


@dataclass
class Bucket:
    """API Gateway's token bucket: `rate` requests a second, bursts up to `burst`."""

    rate: float
    burst: float
    tokens: float = 0.0
    updated: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


@dataclass
class Api:
    name: str
    routes: list[Route]
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    cors: dict[str, Any] | None = None
    throttle: Bucket | None = None
    origin_headers: dict[str, str] = field(default_factory=dict)

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """API Gateway's choice: the most specific route (fewer variables, then greedy last), else $default."""
        found = [(r, params) for r in self.routes if r.path and (params := r.match(method, path)) is not None]
        found.sort(key=lambda rp: (rp[0].path.count("+}"), rp[0].path.count("{"), rp[0].method == "ANY", -len(rp[0].path)))
        if found:
            return found[0]
        default = [r for r in self.routes if not r.path]
        return (default[0], {}) if default else None


# ---------------------------------------------------------------------------- from the templates


class Functions:
    """Each function as the emulator holds it, read once (thread-safe)."""

    def __init__(self, client: Any, region: str):
        self.lam, self.iam, self.region = client("lambda"), client("iam"), region
        self._found: dict[str, FunctionConfig] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str) -> FunctionConfig:
        with self._lock:
            if name not in self._found:
                self._found[name] = FunctionConfig.read(name, self.lam, self.iam, self.region)
            return self._found[name]


def stack_exports(cfn: Any) -> dict[str, str]:
    """Every export of the emulator's stacks: name -> value."""
    return {e["Name"]: e["Value"] for page in cfn.get_paginator("list_exports").paginate() for e in page["Exports"]}


def _producer(templates: dict[str, dict[str, Any]], export: str) -> tuple[str, str] | None:
    """(stack, logical id) of the resource whose output carries an export."""
    for stack, template in templates.items():
        for output in template.get("Outputs", {}).values():
            value = output.get("Value", {})
            if output.get("Export", {}).get("Name") == export and isinstance(value, dict):
                target = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]
                return (stack, str(target)) if target else None
    return None


def load_apis(templates: dict[str, dict[str, Any]], exports: dict[str, str], client: Any) -> list[Api]:
    """Every API of the stage's templates, with the values deployed on the emulator."""

    def resolve(stack: str, value: Any) -> Any:
        if isinstance(value, dict) and "Fn::ImportValue" in value:
            return exports.get(value["Fn::ImportValue"])
        return value

    def api_of(stack: str, value: Any) -> tuple[str, str] | None:
        if isinstance(value, dict) and "Ref" in value:
            return stack, value["Ref"]
        if isinstance(value, dict) and "Fn::ImportValue" in value:
            return _producer(templates, value["Fn::ImportValue"])
        return None

    apis: dict[tuple[str, str], Api] = {}
    for stack, template in templates.items():
        for logical, resource in template["Resources"].items():
            if resource["Type"] == "AWS::ApiGatewayV2::Api":
                props = resource["Properties"]
                apis[(stack, logical)] = Api(props["Name"], [], cors=props.get("CorsConfiguration"))
    for stack, template in templates.items():
        resources = template["Resources"]
        for logical, resource in sorted(resources.items()):
            props = resource.get("Properties", {})
            owner = api_of(stack, props.get("ApiId")) if resource["Type"].startswith("AWS::ApiGatewayV2::") else None
            api = apis.get(owner) if owner else None
            if api is None:
                continue
            if resource["Type"] == "AWS::ApiGatewayV2::Authorizer" and props.get("AuthorizerType") == "JWT":
                jwt = props["JwtConfiguration"]
                api.issuer = resolve(stack, jwt["Issuer"])
                api.audience = tuple(str(resolve(stack, a)) for a in jwt.get("Audience", []))
            elif resource["Type"] == "AWS::ApiGatewayV2::Stage":
                settings = props.get("DefaultRouteSettings", {})
                if "ThrottlingRateLimit" in settings:
                    api.throttle = Bucket(float(settings["ThrottlingRateLimit"]), float(settings.get("ThrottlingBurstLimit", 1)))
            elif resource["Type"] == "AWS::ApiGatewayV2::Route":
                integration = resources[props["Target"]["Fn::Join"][1][1]["Ref"]]["Properties"]
                function = function_name(resources, integration["IntegrationUri"])
                if function is None:
                    continue
                key = props["RouteKey"]
                method, _, path = key.partition(" ")
                api.routes.append(Route(method if path else "ANY", path, function, props.get("AuthorizationType") == "JWT",
                                        tuple(props.get("AuthorizationScopes", []))))
            elif resource["Type"] == "AWS::ApiGatewayV2::ApiMapping":  # a custom domain names the API too
                for domain in _named(templates, stack, props.get("DomainName")):
                    apis[domain] = api
    _origin_headers(templates, apis, client)
    return list({id(api): api for api in apis.values()}.values())


def _origin_headers(templates: dict[str, dict[str, Any]], apis: dict[tuple[str, str], Api], client: Any) -> None:
    """The headers a distribution in front of an API adds (its secrets read from the emulator):
    the API is the resource whose export (or Ref) the origin's domain is made from, or the
    custom domain mapped to it."""
    secrets = client("secretsmanager")
    for stack, template in templates.items():
        for resource in template["Resources"].values():
            for origin in resource.get("Properties", {}).get("DistributionConfig", {}).get("Origins", []):
                api = next((apis[key] for key in _named(templates, stack, origin.get("DomainName")) if key in apis), None)
                if api is None:
                    continue
                for header in origin.get("OriginCustomHeaders", []):
                    value = str(header["HeaderValue"])
                    if match := re.fullmatch(r"\{\{resolve:secretsmanager:([^:}]+)\}\}", value):
                        value = secrets.get_secret_value(SecretId=match.group(1))["SecretString"]
                    api.origin_headers[str(header["HeaderName"]).lower()] = value


def _named(templates: dict[str, dict[str, Any]], stack: str, value: Any) -> list[tuple[str, str]]:
    """(stack, logical id) of every resource a template value refers to (Ref, GetAtt, ImportValue)."""
    if isinstance(value, list):
        return [found for item in value for found in _named(templates, stack, item)]
    if not isinstance(value, dict):
        return []
    if "Ref" in value:
        return [(stack, str(value["Ref"]))]
    if "Fn::GetAtt" in value:
        return [(stack, str(value["Fn::GetAtt"][0]))]
    if "Fn::ImportValue" in value:
        producer = _producer(templates, str(value["Fn::ImportValue"]))
        return [producer] if producer else []
    return [found for item in value.values() for found in _named(templates, stack, item)]


# ---------------------------------------------------------------------------- JWT authorizer


class Authorizer:
    """What API Gateway's JWT authorizer checks: signature (the issuer's JWKS), iss, aud or
    client_id, exp/nbf, and the route's scopes."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._keys: dict[str, Any] = {}

    def _keyset(self, issuer: str) -> Any:
        from joserfc.jwk import KeySet

        if issuer not in self._keys:
            pool = issuer.rstrip("/").rsplit("/", 1)[-1]
            with urllib.request.urlopen(f"{self.endpoint}/{pool}/.well-known/jwks.json", timeout=5) as answer:  # noqa: S310 - the local emulator
                self._keys[issuer] = KeySet.import_key_set(json.loads(answer.read()))
        return self._keys[issuer]

    def claims(self, api: Api, route: Route, header: str | None) -> dict[str, Any] | None:
        from joserfc import jwt

        if not header or api.issuer is None:
            return None
        token = header.removeprefix("Bearer ").strip()
        try:
            decoded = jwt.decode(token, self._keyset(api.issuer), algorithms=["RS256"])
        except Exception:  # noqa: BLE001 - any malformed or badly signed token is Unauthorized
            return None
        claims = dict(decoded.claims)
        now = time.time()
        audience = claims.get("aud") if claims.get("token_use") == "id" else claims.get("client_id")
        if claims.get("iss") != api.issuer or str(audience) not in api.audience:
            return None
        expires, not_before = _seconds(claims.get("exp")), _seconds(claims.get("nbf", 0))
        if expires is None or not_before is None or expires <= now or not_before > now:
            return None  # also an `exp` or `nbf` that is not a number: API Gateway answers 401
        scopes = str(claims.get("scope", "")).split()
        if route.scopes and not set(route.scopes) & set(scopes):
            return None
        return claims


# ---------------------------------------------------------------------------- HTTP


def _cors_headers(cors: dict[str, Any] | None, origin: str | None, preflight: bool) -> dict[str, str]:
    if not cors or not origin:
        return {}
    allowed = cors.get("AllowOrigins", [])
    if "*" not in allowed and origin not in allowed:
        return {}
    headers = {"access-control-allow-origin": origin if "*" not in allowed else "*"}
    if cors.get("AllowCredentials"):
        headers["access-control-allow-credentials"] = "true"
    if preflight:
        headers["access-control-allow-methods"] = ",".join(cors.get("AllowMethods", []))
        headers["access-control-allow-headers"] = ",".join(h.lower() for h in cors.get("AllowHeaders", []))
        if "MaxAge" in cors:
            headers["access-control-max-age"] = str(cors["MaxAge"])
    elif cors.get("ExposeHeaders"):
        headers["access-control-expose-headers"] = ",".join(cors["ExposeHeaders"])
    return headers


def _seconds(value: Any) -> float | None:
    """A NumericDate claim (RFC 7519): a JSON number, never a string or a boolean."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Gateway(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, api: Api, functions: Functions, pool: Pool, authorizer: Authorizer):
        super().__init__((HOST, port), Handler)
        self.api, self.functions, self.pool, self.authorizer = api, functions, pool, authorizer


class Handler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"
    timeout = 30.0  # seconds a read of the request may wait (socket timeout): a short body is a 408, not a hung thread

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, body: bytes | str | dict[str, Any] | list[Any], headers: dict[str, str] | None = None,
              cookies: tuple[str, ...] = ()) -> None:
        data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        headers = {"content-type": "application/json", **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        for cookie in cookies:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(data)))
        self.send_header("apigw-requestid", self._request_id)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        self._request_id = uuid.uuid4().hex[:16]
        api = self.server.api
        url = urlsplit(self.path)
        origin = self.headers.get("origin")
        try:
            raw = self._body()
        except BodyError as refused:
            self.close_connection = True  # what is left of the request is never read as another one
            return self._send(*refused.answer)
        if self.command == "OPTIONS" and api.cors and self.headers.get("access-control-request-method"):
            return self._send(204, b"", _cors_headers(api.cors, origin, preflight=True))
        cors = _cors_headers(api.cors, origin, preflight=False)
        if api.throttle is not None and not api.throttle.take():
            return self._send(*THROTTLED, cors)
        chosen = api.route(self.command, url.path)
        if chosen is None:
            return self._send(*NOT_FOUND, cors)
        route, params = chosen
        claims = None
        if route.auth:
            claims = self.server.authorizer.claims(api, route, self.headers.get("authorization"))
            if claims is None:
                return self._send(*UNAUTHORIZED, {**cors, "www-authenticate": 'Bearer'})
        event = self._event(route, params, url.path, url.query, raw, claims, api)
        try:
            result = self.server.pool.invoke(self.server.functions(route.function), event)
        except Invocation as failed:
            sys.stderr.write(f"{route.function}: {failed.kind}: {failed}\n")
            return self._send(*(UNAVAILABLE if failed.kind == "timeout" else INTERNAL), cors)
        self._respond(result, cors)

    def _body(self) -> bytes:
        """The request's body, as API Gateway would take it (see the module docstring)."""
        length, chunked = self.headers.get("content-length"), self.headers.get("transfer-encoding")
        if chunked is not None:
            if length is not None or chunked.strip().lower() != "chunked":
                raise BodyError(BAD_REQUEST)  # both framings (request smuggling), or an encoding we do not read
            return self._chunks()
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise BodyError(BAD_REQUEST)
        if int(length) > MAX_BODY:
            raise BodyError(TOO_LARGE)
        return self._read(int(length))

    def _read(self, size: int) -> bytes:
        try:
            data = self.rfile.read(size)
        except TimeoutError:
            raise BodyError(TIMED_OUT) from None
        if len(data) < size:  # the client closed before sending it all
            raise BodyError(BAD_REQUEST)
        return data

    def _line(self) -> bytes:
        try:
            line = self.rfile.readline(1024)
        except TimeoutError:
            raise BodyError(TIMED_OUT) from None
        if not line.endswith(b"\r\n"):
            raise BodyError(BAD_REQUEST)
        return line[:-2]

    def _chunks(self) -> bytes:
        body = bytearray()
        while True:
            size = self._line().split(b";", 1)[0].strip()
            if not size or any(c not in b"0123456789abcdefABCDEF" for c in size):
                raise BodyError(BAD_REQUEST)
            if int(size, 16) == 0:
                while self._line():  # trailers, up to the empty line
                    pass
                return bytes(body)
            if len(body) + int(size, 16) > MAX_BODY:
                raise BodyError(TOO_LARGE)
            body += self._read(int(size, 16))
            if self._line():  # each chunk ends with CRLF
                raise BodyError(BAD_REQUEST)

    def _event(self, route: Route, params: dict[str, str], path: str, query: str, raw: bytes,
               claims: dict[str, Any] | None, api: Api) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        client = self.client_address[0]
        headers["x-forwarded-for"] = f"{headers['x-forwarded-for']}, {client}" if "x-forwarded-for" in headers else client
        headers.update(api.origin_headers)  # what CloudFront adds in front of the API
        now = datetime.now(timezone.utc)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "local", "domainName": headers.get("host", HOST),
                "domainPrefix": "local",
                "http": {"method": self.command, "path": path, "protocol": self.request_version,
                         "sourceIp": client, "userAgent": headers.get("user-agent", "")},
                "requestId": self._request_id, "routeKey": route.key, "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": False,
        }
        if "cookie" in headers:
            event["cookies"] = [c.strip() for c in headers.pop("cookie").split(";") if c.strip()]
        if query:
            values: dict[str, str] = {}
            for key, value in parse_qsl(query, keep_blank_values=True):
                values[key] = f"{values[key]},{value}" if key in values else value
            event["queryStringParameters"] = values
        if params:
            event["pathParameters"] = params
        if raw:
            try:
                event["body"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
        if claims is not None:
            scopes = str(claims.get("scope", "")).split() or None
            event["requestContext"]["authorizer"] = {"jwt": {"claims": {k: str(v) if not isinstance(v, str) else v for k, v in claims.items()},
                                                              "scopes": scopes}}
        return event

    def _respond(self, result: Any, cors: dict[str, str]) -> None:
        """Payload 2.0: a dict with statusCode is a response; anything else is a 200 JSON body."""
        if not (isinstance(result, dict) and "statusCode" in result):
            return self._send(200, result if isinstance(result, str) else json.dumps(result), cors)
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        self._send(int(result["statusCode"]), data, {**cors, **headers}, tuple(result.get("cookies") or ()))

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET  # noqa: N815


@dataclass
class Local:
    """What `serve` started: one gateway per API, the queue consumers, the worker pool."""

    gateways: list[tuple[Api, Gateway]]
    consumers: list[consumers_.Consumer]
    pool: Pool

    def lines(self) -> list[str]:
        return [f"API {api.name} http://{HOST}:{gateway.server_address[1]}" for api, gateway in self.gateways] + \
            consumers_.describe(self.consumers)

    def close(self) -> None:
        for consumer in self.consumers:
            consumer.stop.set()
        for _, gateway in self.gateways:
            gateway.shutdown()
            gateway.server_close()
        self.pool.close()


def serve(out_dir: Path, stage: str, endpoint: str, handlers: Path, logs: Path, port: int, throttle: bool = True) -> Local:
    """Start one gateway per API of the stage (the first on `port`, the next on free ports)
    and a consumer per queue event source mapping."""
    import boto3

    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local")
    manifest = Manifest.read(out_dir, stage)
    if manifest is None:
        raise SystemExit(f"{out_dir / stage}/manifest.json not found: run `make compile STAGE={stage}` first")
    region = manifest.region

    def client(service: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint)

    templates = {s: json.loads(manifest.template_path(out_dir, s).read_text()) for s in manifest.stacks}
    exports = stack_exports(client("cloudformation"))
    functions = Functions(client, region)
    pool = Pool(endpoint, handlers, logs)
    authorizer = Authorizer(endpoint)
    gateways = []
    for i, api in enumerate(sorted(load_apis(templates, exports, client), key=lambda a: a.name)):
        if not throttle:
            api.throttle = None
        gateway = Gateway(port if i == 0 else free_port(), api, functions, pool, authorizer)
        threading.Thread(target=gateway.serve_forever, daemon=True).start()
        gateways.append((api, gateway))
    consumers = consumers_.start(templates, exports, client("sqs"), pool, functions, region)
    return Local(gateways, consumers, pool)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m compiler.local.gateway", description="Serve a stage's HTTP APIs on 127.0.0.1.")
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", type=Path, default=Path("generated"))
    parser.add_argument("--endpoint", required=True, help="the emulator (moto server) the stage is deployed on")
    parser.add_argument("--handlers", type=Path, default=Path("handlers"))
    parser.add_argument("--logs", type=Path, default=Path(".cache/platformc/logs"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-throttle", action="store_true", help="ignore the stages' throttling (load tests)")
    args = parser.parse_args()
    local = serve(args.out, args.stage, args.endpoint, args.handlers, args.logs, args.port or free_port(), not args.no_throttle)
    for line in local.lines():
        print(line, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
