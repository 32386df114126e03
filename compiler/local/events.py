"""events: sample events to edit and feed to `platformc invoke --event -`, shaped as AWS sends them.

`platformc event TYPE` prints one, read from generated/<stage> (the reviewed templates):

- `sqs`: the Lambda SQS event (one record). With `--function`, the queue the function
  consumes (its ARN, FIFO attributes for a .fifo queue); when an EventBridge rule targets
  that queue, the body is that rule's event, as the queue receives it.
- `eventbridge`: an EventBridge event. With `--rule NAME`, or `--function` when a rule
  targets it or its queue, the source and detail-type are the rule's pattern's first ones.
- `http`: an HTTP API payload 2.0 event. With `--function`, its first route (or `--route`):
  route key, path with sample path parameters, a JSON body for methods that carry one, and
  a signed-in user's claims when the route needs a JWT.

Values that AWS makes up (ids, times) are fixed, so the same templates print the same event.
The account is the emulator's (123456789012).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from ..manifest import Manifest, of_type

ACCOUNT = "123456789012"  # the emulator's account (moto's default)
TIME, EPOCH_MS = "2026-01-01T00:00:00Z", 1767225600000
TYPES = ("sqs", "eventbridge", "http")


class EventError(Exception):
    """A sample cannot be made as asked (a user error: the message says why)."""


class _Stage:
    """The templates of OUT/<stage>, read once."""

    def __init__(self, out_dir: Path, stage: str):
        manifest = Manifest.read(out_dir, stage)
        if manifest is None:
            raise EventError(f"{out_dir}/{stage} has no manifest: run `make compile STAGE={stage}` first")
        self.manifest = manifest
        self.templates = {stack: json.loads(manifest.template_path(out_dir, stack).read_text()) for stack in manifest.stacks}

    def resources(self, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
        return of_type(self.templates, kind)

    def function(self, name: str) -> tuple[str, str, dict[str, Any]]:
        physical = f"{self.manifest.service}-{self.manifest.stage}-{name}"
        found = [f for f in self.resources("AWS::Lambda::Function")
                 if (f[2].get("Properties") or {}).get("FunctionName") in (name, physical)]
        if not found:
            known = sorted(str((f[2].get("Properties") or {}).get("FunctionName", "")).removeprefix(
                f"{self.manifest.service}-{self.manifest.stage}-") for f in self.resources("AWS::Lambda::Function"))
            raise EventError(f"no function {name} in stage {self.manifest.stage}: {', '.join(known)}")
        return found[0]

    def of_function(self, kind: str, function: tuple[str, str, dict[str, Any]]) -> list[dict[str, Any]]:
        """The resources of `kind` declared with the function (same spec source)."""
        source = (function[2].get("Metadata") or {}).get("Source")
        return [r for _, _, r in self.resources(kind) if (r.get("Metadata") or {}).get("Source") == source]

    def queue(self, arn_value: Any) -> dict[str, Any]:
        """The queue an EventSourceArn names (an import of its export, or a GetAtt in its stack)."""
        export = arn_value.get("Fn::ImportValue") if isinstance(arn_value, dict) else None
        if isinstance(export, str) and export in self.manifest.exports:
            entry = self.manifest.exports[export]
            output = self.templates[entry.producer]["Outputs"][entry.output]["Value"]
            logical = output["Fn::GetAtt"][0] if isinstance(output, dict) and "Fn::GetAtt" in output else None
            return dict(self.templates[entry.producer]["Resources"].get(logical or "", {}))
        if isinstance(arn_value, dict) and "Fn::GetAtt" in arn_value:
            logical = arn_value["Fn::GetAtt"][0]
            return next((r for _, name, r in self.resources("AWS::SQS::Queue") if name == logical), {})
        return {}

    def rules_to(self, target_names: set[str]) -> list[dict[str, Any]]:
        """Rules with a target that names one of `target_names` (exports or logical ids)."""
        found = []
        for _, _, rule in self.resources("AWS::Events::Rule"):
            for target in (rule.get("Properties") or {}).get("Targets") or []:
                if {a or b for a, b in _NAMED.findall(json.dumps(target.get("Arn")))} & target_names:
                    found.append(rule)
                    break
        return found


_NAMED = re.compile(r'"(?:Fn::ImportValue|Ref)": "([^"]+)"|"Fn::GetAtt": \["([^"]+)"')


def _eventbridge(stage: _Stage, rule: dict[str, Any] | None) -> dict[str, Any]:
    pattern = ((rule or {}).get("Properties") or {}).get("EventPattern") or {}
    source = (pattern.get("source") or ["listbackup.example"])[0]
    detail_type = (pattern.get("detail-type") or ["Example Happened"])[0]
    return {"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": detail_type, "source": source,
            "account": ACCOUNT, "time": TIME, "region": stage.manifest.region, "resources": [],
            "detail": {"example": True}}


def _sqs(stage: _Stage, function: tuple[str, str, dict[str, Any]] | None) -> dict[str, Any]:
    queue: dict[str, Any] = {}
    body: Any = {"example": True}
    if function is not None:
        mappings = stage.of_function("AWS::Lambda::EventSourceMapping", function)
        if not mappings:
            raise EventError(f"{function[2]['Properties']['FunctionName']} consumes no queue: try `platformc event http` "
                             "or `eventbridge`")
        arn_value = mappings[0]["Properties"]["EventSourceArn"]
        queue = stage.queue(arn_value)
        names = {arn_value.get("Fn::ImportValue", "")} if isinstance(arn_value, dict) else set()
        if rules := stage.rules_to(names):
            body = _eventbridge(stage, rules[0])  # what a rule puts on the queue: the event itself
    name = str((queue.get("Properties") or {}).get("QueueName") or f"{stage.manifest.service}-{stage.manifest.stage}-example")
    text = json.dumps(body, sort_keys=True)
    attributes = {"ApproximateReceiveCount": "1", "SentTimestamp": str(EPOCH_MS), "SenderId": "AIDAEXAMPLE",
                  "ApproximateFirstReceiveTimestamp": str(EPOCH_MS)}
    if name.endswith(".fifo"):
        attributes.update({"MessageGroupId": "example-group", "SequenceNumber": "18849496460467696128",
                           "MessageDeduplicationId": hashlib.sha256(text.encode()).hexdigest()})
    return {"Records": [{
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": text, "attributes": attributes, "messageAttributes": {}, "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{stage.manifest.region}:{ACCOUNT}:{name}",
        "awsRegion": stage.manifest.region}]}


def _http(stage: _Stage, function: tuple[str, str, dict[str, Any]] | None, route_key: str | None) -> dict[str, Any]:
    routes = stage.of_function("AWS::ApiGatewayV2::Route", function) if function else []
    if function is not None and not routes:
        raise EventError(f"{function[2]['Properties']['FunctionName']} has no HTTP route: try `platformc event sqs`")
    chosen = next((r for r in routes if r["Properties"]["RouteKey"] == route_key), routes[0] if routes else None)
    if route_key and (chosen is None or chosen["Properties"]["RouteKey"] != route_key):
        raise EventError(f"no route {route_key!r}: " + ", ".join(r["Properties"]["RouteKey"] for r in routes))
    key = chosen["Properties"]["RouteKey"] if chosen else route_key or "GET /example"
    method, template = key.split(" ", 1)
    params = {name: f"{name}-1" for name in re.findall(r"\{([^}+]+)\+?\}", template)}
    path = re.sub(r"\{([^}+]+)\+?\}", lambda m: params[m.group(1)], template)
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": key, "rawPath": path, "rawQueryString": "",
        "headers": {"accept": "application/json", "content-type": "application/json", "host": "api.example.com",
                    "user-agent": "platformc-event", "x-forwarded-for": "203.0.113.10"},
        "requestContext": {"accountId": ACCOUNT, "apiId": "local", "domainName": "api.example.com", "domainPrefix": "api",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10",
                                    "userAgent": "platformc-event"},
                           "requestId": "JKJaXmPLvHcESHA=", "routeKey": key, "stage": "$default",
                           "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": EPOCH_MS},
        "isBase64Encoded": False}
    if params:
        event["pathParameters"] = params
    if method in ("POST", "PUT", "PATCH"):
        event["body"] = json.dumps({"example": True})
    if chosen is not None and chosen["Properties"].get("AuthorizationType") == "JWT":
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {
            "sub": "11111111-2222-3333-4444-555555555555", "email": "user@example.com", "email_verified": "true",
            "cognito:groups": "[Customer-Account-Owner]", "token_use": "id"}, "scopes": None}}
    return event


def sample(out_dir: Path, stage_name: str, kind: str, function: str | None = None, rule: str | None = None,
           route: str | None = None) -> dict[str, Any]:
    """A sample event of `kind` (TYPES) for the stage's templates (module docstring)."""
    stage = _Stage(out_dir, stage_name)
    found = stage.function(function) if function else None
    if kind == "sqs":
        return _sqs(stage, found)
    if kind == "http":
        return _http(stage, found, route)
    chosen = None
    if rule is not None:
        rules = [r for _, _, r in stage.resources("AWS::Events::Rule")
                 if str((r.get("Properties") or {}).get("Name", "")).endswith(f"-{rule}") or r["Properties"].get("Name") == rule]
        if not rules:
            names = sorted(str(r["Properties"].get("Name", "")) for _, _, r in stage.resources("AWS::Events::Rule"))
            raise EventError(f"no rule {rule}: {', '.join(names)}")
        chosen = rules[0]
    elif found is not None:
        targets = {found[1]} | {str(m["Properties"]["EventSourceArn"].get("Fn::ImportValue", ""))
                                for m in stage.of_function("AWS::Lambda::EventSourceMapping", found)
                                if isinstance(m["Properties"]["EventSourceArn"], dict)}
        chosen = next(iter(stage.rules_to(targets)), None)
    return _eventbridge(stage, chosen)
