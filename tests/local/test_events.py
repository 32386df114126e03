"""`platformc event TYPE`: sample events shaped as AWS sends them, read from generated/<stage>.
Expectations come from the committed templates themselves (whatever functions they hold)."""

from __future__ import annotations

import json
import re
from typing import Any

from click.testing import CliRunner

from compiler.cli import main
from compiler.manifest import Manifest
from tests.conftest import REPO

OUT = REPO / "generated"


def _resources(kind: str) -> list[dict[str, Any]]:
    manifest = Manifest.read(OUT, "dev")
    assert manifest is not None
    return [r for stack in sorted(manifest.stacks)
            for _, r in sorted(json.loads(manifest.template_path(OUT, stack).read_text())["Resources"].items())
            if r["Type"] == kind]


def _event(*args: str) -> Any:
    result = CliRunner().invoke(main, ["event", *args, "--out", str(OUT)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _short(source: str) -> str:
    return source.rsplit("functions.", 1)[1]


def test_an_sqs_record_comes_from_the_queue_the_function_consumes() -> None:
    queues = {r["Properties"]["QueueName"] for r in _resources("AWS::SQS::Queue")}
    for mapping in _resources("AWS::Lambda::EventSourceMapping"):
        (record,) = _event("sqs", "--function", _short(mapping["Metadata"]["Source"]))["Records"]
        queue = record["eventSourceARN"].rsplit(":", 1)[1]
        assert queue in queues and record["eventSource"] == "aws:sqs"
        assert ("MessageGroupId" in record["attributes"]) == queue.endswith(".fifo")
        assert re.fullmatch(r"[0-9a-f]{32}", record["md5OfBody"])


def test_an_http_event_fills_the_route_its_path_parameters_and_claims() -> None:
    routes = [r for r in _resources("AWS::ApiGatewayV2::Route") if "{" in r["Properties"]["RouteKey"]]
    assert routes, "the fixture needs a route with a path parameter"
    route = routes[0]
    event = _event("http", "--function", _short(route["Metadata"]["Source"]), "--route", route["Properties"]["RouteKey"])
    method, template = route["Properties"]["RouteKey"].split(" ", 1)
    assert event["routeKey"] == route["Properties"]["RouteKey"] and event["requestContext"]["http"]["method"] == method
    assert set(event["pathParameters"]) == set(re.findall(r"\{([^}+]+)\+?\}", template))
    assert "{" not in event["rawPath"]
    assert ("authorizer" in event["requestContext"]) == (route["Properties"].get("AuthorizationType") == "JWT")


def test_an_eventbridge_event_matches_the_rules_pattern() -> None:
    rule = next(r for r in _resources("AWS::Events::Rule") if r["Properties"].get("EventPattern"))
    short = rule["Properties"]["Name"].removeprefix("listbackup-dev-")
    event = _event("eventbridge", "--rule", short)
    assert event["source"] == rule["Properties"]["EventPattern"]["source"][0]
    assert event["detail-type"] == rule["Properties"]["EventPattern"]["detail-type"][0]


def test_a_function_without_that_trigger_is_a_clear_error() -> None:
    route = _resources("AWS::ApiGatewayV2::Route")[0]
    result = CliRunner().invoke(main, ["event", "sqs", "--function", _short(route["Metadata"]["Source"]), "--out", str(OUT)])
    assert result.exit_code == 1 and "consumes no queue" in result.output
    unknown = CliRunner().invoke(main, ["event", "http", "--function", "no-such-function", "--out", str(OUT)])
    assert unknown.exit_code == 1 and "no function no-such-function in stage dev" in unknown.output
