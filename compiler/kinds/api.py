"""apis: HTTP APIs (AWS::ApiGatewayV2::Api) with a JWT authorizer, CORS, throttling and logs.

One `$default` stage with auto-deploy, default throttling (rate and burst, per stage),
JSON access logs to a log group with the stage's retention, and CORS per stage (prod:
only the app's origins). With `auth: user-pool:main` every route of the API uses the JWT
authorizer (issuer and audience from the pool) unless the route says `auth: none`.
Routes themselves are declared on functions.

An HTTP API takes no WAF, so the distribution in front of it is the only way in:
- `origin_domain: certificate:NAME` gives the API a regional custom domain (the
  certificate's domain, in the API's region, with a Route 53 alias in the stage's zone),
  which the distribution uses as its origin, and turns the execute-api endpoint off
  (`DisableExecuteApiEndpoint`): the `<id>.execute-api...` URL answers nothing;
- `origin_secret: secret:NAME`: the distribution sends the secret's value in
  `X-Origin-Verify` (CloudFront overwrites any the viewer sends), every function behind the
  API gets read access to it (`ORIGIN_SECRET_ARN`), and the handlers answer 403 to a
  request without it, so WAF, rate limits and headers cannot be skipped by calling the
  custom domain (or, without one, the execute-api endpoint) directly.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Callable, Literal

from pydantic import AfterValidator, Field
from troposphere import GetAtt, Ref, apigatewayv2, logs, route53

from .. import naming
from .cfn import alarm, dimensions, math
from ..diagnostics import KeyPath
from ..model import Duration, LogRetentionDays, RefTo, SpecModel, StageSettings, StatefulSpec
from ..model import Ref as SpecRef
from .base import Attr, CheckEnv, Context, Kind, PhysicalName, Resource, SpecProblem
from .certificate import domain_of


LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


def _origin(value: str) -> str:
    """`*`, or scheme://host[:port] as browsers send it in `Origin` (host: DNS names, the first
    label may be `*` for any subdomain; port 1-65535; no path)."""
    match = re.fullmatch(rf"https?://(?:\*\.)?{LABEL}(?:\.{LABEL})*(?::(?P<port>\d{{1,5}}))?", value)
    if value != "*" and (match is None or (match["port"] is not None and not 1 <= int(match["port"]) <= 65535)):
        raise ValueError(f"'{value}' is not an origin such as https://app.example.com or http://localhost:3000 "
                         "(scheme, host and optional port 1-65535; no path)")
    return value


Origin = Annotated[str, AfterValidator(_origin)]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "*"]
DEFAULT_METHODS: tuple[Method, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "latency": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    },
    sort_keys=True,
)


class Cors(SpecModel):
    origins: list[Origin] = Field(min_length=1)
    methods: list[Method] = Field(default_factory=lambda: list(DEFAULT_METHODS))
    headers: list[str] = Field(default_factory=lambda: ["Authorization", "Content-Type"])
    max_age: Duration = Field(3600, ge=0, le=86400)
    credentials: bool = False


class Throttling(SpecModel):
    rate: float = Field(ge=0, description="requests per second, steady state")
    burst: int = Field(ge=0)


class Spec(StatefulSpec):  # retains its access-log group
    description: str | None = Field(None, max_length=1024, description="what the API serves")
    auth: Annotated[SpecRef, RefTo("user-pool", why="an API's JWT authorizer comes from a user pool")] | None = Field(None, description="user-pool:NAME: JWT authorizer for every route")
    cors: Cors | None = Field(None, description="CORS configuration of the API (origins, methods, headers)")
    throttling: Throttling = Field(default_factory=lambda: Throttling(rate=100, burst=200), description="rate and burst limits of the API's stage")
    log_retention_days: LogRetentionDays | None = Field(None, description="default: the stage's setting")
    origin_secret: Annotated[SpecRef, RefTo("secret", why="`origin_secret:` names a secret")] | None = Field(
        None, description="secret:NAME: only requests carrying it in X-Origin-Verify are served (a distribution in "
                          "front adds it); the execute-api endpoint alone then answers 403")
    origin_domain: Annotated[SpecRef, RefTo("certificate", why="`origin_domain:` names a certificate")] | None = Field(
        None, description="certificate:NAME (in the API's region): a regional custom domain, the certificate's domain, "
                          "for the distribution in front to use as its origin; the execute-api endpoint is then off")


def check_cors(spec: Spec, env: CheckEnv) -> list[tuple[KeyPath, str]]:
    if spec.cors and spec.cors.credentials and "*" in spec.cors.origins:
        return [(("cors", "credentials"), "browsers refuse credentials with the `*` origin: list the origins")]
    return []


def origin_secret(api: Resource | None) -> SpecRef | None:
    """The secret a request to this API must carry (for its functions and the distribution
    in front of it), or None; `api` may be any resource (only an API has one)."""
    secret: SpecRef | None = api.spec.origin_secret if api is not None and api.kind.ref == "api" else None
    return secret


def log_group_name(ctx: Context, resource: Resource) -> str:
    return f"/aws/http-api/{ctx.name(resource)}"


def implied_origin_secret(ref_field: str) -> Callable[[Resource, Callable[[SpecRef], Resource | None]], list[tuple[SpecRef, str]]]:
    """`Kind.implied` for a kind that names an API in `ref_field`: the API's origin secret."""

    def implied(resource: Resource, lookup: Callable[[SpecRef], Resource | None]) -> list[tuple[SpecRef, str]]:
        api_ref = getattr(resource.spec, ref_field, None)
        api = lookup(api_ref) if api_ref is not None else None
        secret = origin_secret(api)
        return [(secret, f"{resource.label} behind {api_ref} -> {secret} (origin secret)")] if secret is not None else []

    return implied


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    found = [
        PhysicalName("http-api", naming_.physical(name), naming.HTTP_API),
        PhysicalName("log-group", f"/aws/http-api/{naming_.physical(name)}", naming.LOG_GROUP),
    ]
    if settings.alarms.enabled:
        found += [PhysicalName("cloudwatch-alarm", naming_.physical(name, what), naming.ALARM) for what in ("-5xx-rate", "-latency")]
    return found


def _alarms(resource: Resource, ctx: Context, api: apigatewayv2.Api) -> list[object]:
    """The share of 5xx answers, and the p99 latency."""
    settings = ctx.settings.alarms
    if not settings.enabled:
        return []
    dims = dimensions(ApiId=Ref(api), Stage="$default")
    name = ctx.name(resource)
    return [
        alarm(
            resource.logical_id + "ErrorRateAlarm", f"{name}-5xx-rate",
            f"More than {settings.api_5xx_rate:.0%} of requests to {name} failed with 5xx", ctx.alarm_actions(),
            threshold=settings.api_5xx_rate,
            Metrics=math("IF(requests > 0, errors / requests, 0)", "5xx rate",
                         errors=("AWS/ApiGateway", "5xx", dims, "Sum"), requests=("AWS/ApiGateway", "Count", dims, "Sum")),
        ),
        alarm(
            resource.logical_id + "LatencyAlarm", f"{name}-latency",
            f"p99 latency of {name} above {settings.api_latency_ms} ms", ctx.alarm_actions(),
            threshold=settings.api_latency_ms, evaluation_periods=3,
            Namespace="AWS/ApiGateway", MetricName="Latency", Dimensions=dims, ExtendedStatistic="p99",
        ),
    ]


def origin_host(api: SpecRef, ctx: Context) -> object | None:
    """The host the distribution in front of `api` connects to: its custom domain (a Ref,
    which carries the deploy order), or None when the API only has its execute-api endpoint."""
    return ctx.ref(api, "origin_domain") if ctx.resource(api).spec.origin_domain is not None else None


def _origin_domain(resource: Resource, ctx: Context, api: apigatewayv2.Api, stage: apigatewayv2.Stage) -> list[object]:
    """The regional custom domain CloudFront connects to, mapped to the `$default` stage,
    with its Route 53 alias; the certificate must be in the API's region."""
    spec: Spec = resource.spec
    assert spec.origin_domain is not None
    certificate = ctx.resource(spec.origin_domain)
    region = next(stack.region for stack in ctx.stacks() if stack.id == certificate.stack)
    if region != ctx.region:
        raise SpecProblem(("origin_domain",), f"{spec.origin_domain} is in {region}: a regional custom domain takes a "
                                              f"certificate of the API's region ({ctx.region})", certificate)
    zone = ctx.settings.hosted_zone_id
    if zone is None:
        raise SpecProblem(("origin_domain",), f"the origin domain's DNS record needs `hosted_zone_id` in the settings of stage {ctx.stage}")
    domain = apigatewayv2.DomainName(
        resource.logical_id + "OriginDomain",
        DomainName=domain_of(certificate, ctx),
        DomainNameConfigurations=[apigatewayv2.DomainNameConfiguration(
            CertificateArn=ctx.ref(spec.origin_domain, "arn"), EndpointType="REGIONAL", SecurityPolicy="TLS_1_2")],
        Tags=ctx.tag_map(resource),
    )
    mapping = apigatewayv2.ApiMapping(resource.logical_id + "OriginMapping", ApiId=Ref(api), DomainName=Ref(domain),
                                      Stage=Ref(stage))
    record = route53.RecordSetType(
        resource.logical_id + "OriginRecord", HostedZoneId=zone, Name=domain_of(certificate, ctx), Type="A",
        AliasTarget=route53.AliasTarget(DNSName=GetAtt(domain, "RegionalDomainName"),
                                        HostedZoneId=GetAtt(domain, "RegionalHostedZoneId")))
    return [domain, mapping, record]


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    props: dict[str, object] = {"Name": ctx.name(resource), "ProtocolType": "HTTP", "Tags": ctx.tag_map(resource)}
    if spec.origin_domain is not None:
        props["DisableExecuteApiEndpoint"] = True  # the custom domain is the only way in
    if spec.description:
        props["Description"] = spec.description
    if spec.cors:
        props["CorsConfiguration"] = apigatewayv2.Cors(
            AllowOrigins=sorted(spec.cors.origins),
            AllowMethods=sorted(spec.cors.methods),
            AllowHeaders=sorted(spec.cors.headers),
            MaxAge=spec.cors.max_age,
            AllowCredentials=spec.cors.credentials,
        )
    api = apigatewayv2.Api(resource.logical_id, **props)
    key = ctx.stage_key()
    log_group = logs.LogGroup(
        resource.logical_id + "AccessLogs",
        LogGroupName=log_group_name(ctx, resource),
        RetentionInDays=ctx.setting(spec.log_retention_days, "log_retention_days"),
        Tags=ctx.tags(resource),
        **({"KmsKeyId": key} if key is not None else {}),
        **ctx.deletion_policies(resource),
    )
    stage = apigatewayv2.Stage(
        resource.logical_id + "DefaultStage",
        ApiId=Ref(api),
        StageName="$default",
        AutoDeploy=True,
        AccessLogSettings=apigatewayv2.AccessLogSettings(
            DestinationArn=GetAtt(log_group, "Arn"), Format=ACCESS_LOG_FORMAT
        ),
        DefaultRouteSettings=apigatewayv2.RouteSettings(
            ThrottlingRateLimit=spec.throttling.rate, ThrottlingBurstLimit=spec.throttling.burst
        ),
        Tags=ctx.tag_map(resource),
    )
    out: list[object] = [api, log_group, stage, *_alarms(resource, ctx, api)]
    if spec.origin_domain is not None:
        out += _origin_domain(resource, ctx, api, stage)
    if spec.auth is not None:
        out.append(
            apigatewayv2.Authorizer(
                resource.logical_id + "Authorizer",
                ApiId=Ref(api),
                Name=f"{ctx.name(resource)}-jwt",
                AuthorizerType="JWT",
                IdentitySource=["$request.header.Authorization"],
                JwtConfiguration=apigatewayv2.JWTConfiguration(
                    Audience=[ctx.ref(spec.auth, "client_id")], Issuer=ctx.ref(spec.auth, "issuer")
                ),
            )
        )
    return out


KIND = Kind(
    section="apis",
    ref="api",
    spec=Spec,
    id_suffix="HttpApi",
    attributes={
        "id": Attr(description="API id"),
        "endpoint": Attr("ApiEndpoint", description="https://<id>.execute-api.<region>.amazonaws.com"),
        "authorizer_id": Attr(part="Authorizer", description="JWT authorizer id (APIs with `auth:`)"),
        "origin_domain": Attr(part="OriginDomain", description="its custom domain name (APIs with `origin_domain:`)"),
    },
    names=names,
    synthesize=synthesize,
    checks=(check_cors,),
    alarms=True,
    encrypts=True,
    env={"API_URL": "endpoint"},
)
