"""What invokes a function: HTTP routes, a queue it consumes, bus events it subscribes to.

Each trigger lives in the function's stack, next to the invoke permission that admits
exactly that trigger (one route's ARN, one rule's ARN). Conflicts that only show across
resources (the same route twice, sibling path variables with two names, a queue whose
visibility timeout is shorter than the consumer's timeout) are raised as SpecProblem.
"""

from __future__ import annotations

import re
from typing import Any

from troposphere import GetAtt, Join, Ref, Sub, apigatewayv2, awslambda, events

from ..cfn import SqsScalingConfig
from ...naming import camel
from ..base import Context, Resource, SpecProblem
from .spec import API_TIMEOUT, Route, Spec



def _route_id(route: Route) -> str:
    words = re.sub(r"[{}+]", "", route.path).replace("/", "-").replace(".", "-").replace("_", "-").replace("~", "-")
    return camel(route.method.lower()) + (camel(words) or "Root")


def _claim_path_variables(resource: Resource, ctx: Context, i: int, route: Route) -> None:
    """Sibling path variables need one name per position: API Gateway rejects
    `/accounts/{accountId}` beside `/accounts/{parentAccountId}/sub-accounts`."""
    spec: Spec = resource.spec
    parts = route.path.strip("/").split("/")
    for depth, part in enumerate(parts):
        if not part.startswith("{"):
            continue
        prefix = "/" + "/".join("{}" if p.startswith("{") else p for p in parts[:depth])
        name = part.strip("{}+")
        other = ctx.claim(("path-variable", spec.api, prefix), resource, ("routes", i), value=name)
        if other is not None:
            raise SpecProblem(
                ("routes", i),
                f"path variable '{{{name}}}' after '{prefix}' is '{{{other.value}}}' in another route of the same "
                f"API ({other.owner.label}); API Gateway rejects two names at one position",
                other.owner,
                other.path,
            )


def routes(resource: Resource, ctx: Context, target: Any) -> list[object]:
    spec: Spec = resource.spec
    if not spec.routes or spec.api is None:
        return []
    api_id = ctx.ref(spec.api, "id")
    api_spec = ctx.resource(spec.api).spec
    integration = apigatewayv2.Integration(
        resource.logical_id + "Integration",
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=target,
        PayloadFormatVersion="2.0",
        TimeoutInMillis=min(API_TIMEOUT, spec.timeout + 1) * 1000,
    )
    out: list[object] = [integration]
    for i, route in enumerate(spec.routes):
        first = ctx.claim(("route", spec.api, route.route), resource, ("routes", i))
        if first is not None:
            raise SpecProblem(
                ("routes", i), f"route '{route.route}' is already declared on {spec.api}", first.owner, first.path
            )
        _claim_path_variables(resource, ctx, i, route)
        auth: dict[str, object] = {"AuthorizationType": "NONE"}
        if route.auth == "jwt":
            if api_spec.auth is None:
                raise SpecProblem(
                    ("routes", i),
                    f"{spec.api} has no authorizer, so '{route.route}' would be public: say `auth: none` to mean it",
                )
            auth = {"AuthorizationType": "JWT", "AuthorizerId": ctx.ref(spec.api, "authorizer_id")}
        route_id = resource.logical_id + "Route" + _route_id(route)
        route_object = apigatewayv2.Route(
            route_id, ApiId=api_id, RouteKey=route.route, Target=Join("/", ["integrations", Ref(integration)]), **auth
        )
        if route.auth == "none":
            route_object.Metadata = {"Auth": "none"}  # declared public in the spec (policy rule P010)
        out.append(route_object)
        source_path = re.sub(r"\{[^}]+\}", "*", route.path)
        method = "*" if route.method == "ANY" else route.method
        out.append(
            awslambda.Permission(
                route_id + "Invoke",
                Action="lambda:InvokeFunction",
                FunctionName=target,
                Principal="apigateway.amazonaws.com",
                SourceArn=Sub(
                    f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{ApiId}}/*/{method}{source_path}",
                    ApiId=api_id,
                ),
            )
        )
    return out


def consumer(resource: Resource, ctx: Context, target: Any) -> list[object]:
    spec: Spec = resource.spec
    if spec.consumes is None:
        return []
    queue = ctx.resource(spec.consumes.queue)
    visibility = queue.spec.visibility_timeout
    if visibility < spec.timeout:
        raise SpecProblem(
            ("consumes", "queue"),
            f"{spec.consumes.queue} has a visibility timeout of {visibility} s, shorter than this function's "
            f"timeout ({spec.timeout} s): AWS rejects the mapping. Give the queue at least {spec.timeout} s "
            f"(AWS recommends six times the timeout, {6 * spec.timeout} s)",
            queue,
        )
    props: dict[str, object] = {
        "EventSourceArn": ctx.ref(spec.consumes.queue, "arn"),
        "FunctionName": target,
        "BatchSize": spec.consumes.batch_size,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "Enabled": True,
    }
    # With a reservation, the event source never scales past it (resolve checks an explicit
    # maximum): a throttled message counts as a receive and would reach the DLQ unrun.
    if maximum := spec.consumes.max_concurrency or spec.reserved(ctx.settings):
        props["ScalingConfig"] = SqsScalingConfig(MaximumConcurrency=maximum)
    return [awslambda.EventSourceMapping(resource.logical_id + "Consumer", **props)]


def subscriptions(resource: Resource, ctx: Context, target: Any) -> list[object]:
    spec: Spec = resource.spec
    out: list[object] = []
    for name in sorted(spec.subscribes):
        subscription = spec.subscribes[name]
        rule_id = resource.logical_id + "On" + camel(name)
        props: dict[str, object] = {
            "Name": ctx.name(resource, f"-{name}"),
            "EventBusName": ctx.ref(subscription.bus, "name"),
            "EventPattern": subscription.pattern,
            "State": "ENABLED",
            "Targets": [events.Target(Id="function", Arn=target)],
        }
        if subscription.description:
            props["Description"] = subscription.description
        rule = events.Rule(rule_id, **props)
        permission = awslambda.Permission(
            rule_id + "Invoke",
            Action="lambda:InvokeFunction",
            FunctionName=target,
            Principal="events.amazonaws.com",
            SourceArn=GetAtt(rule, "Arn"),
        )
        out += [rule, permission]
    return out
