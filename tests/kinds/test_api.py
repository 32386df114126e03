"""apis: HTTP API, JWT authorizer from a user pool, CORS per stage, throttling, access logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import compile_spec, errors_of, template

SPEC = """\
apis:
  main:
    auth: user-pool:main
    cors:
      origins: ["https://app.listbackup.ai"]
    throttling: {rate: 20, burst: 40}
    stages:
      dev: {cors: {origins: ["http://localhost:3000"]}}
"""
POOL = "user_pools:\n  main: {}\n"


def test_api_stage_logs_authorizer(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"cognito.yaml": POOL, "gateway.yaml": SPEC})
    dev, prod = template(result, "dev", "gateway")["Resources"], template(result, "prod", "gateway")["Resources"]
    assert dev["MainHttpApi"]["Properties"]["Name"] == "listbackup-dev-main"
    assert dev["MainHttpApi"]["Properties"]["CorsConfiguration"]["AllowOrigins"] == ["http://localhost:3000"]
    assert prod["MainHttpApi"]["Properties"]["CorsConfiguration"]["AllowOrigins"] == ["https://app.listbackup.ai"]
    stage = dev["MainHttpApiDefaultStage"]["Properties"]
    assert (stage["StageName"], stage["AutoDeploy"]) == ("$default", True)
    assert stage["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 40, "ThrottlingRateLimit": 20.0}
    assert stage["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["MainHttpApiAccessLogs", "Arn"]}
    logs = dev["MainHttpApiAccessLogs"]["Properties"]
    assert (logs["LogGroupName"], logs["RetentionInDays"]) == ("/aws/http-api/listbackup-dev-main", 30)
    jwt = dev["MainHttpApiAuthorizer"]["Properties"]
    assert jwt["AuthorizerType"] == "JWT" and jwt["IdentitySource"] == ["$request.header.Authorization"]
    assert jwt["JwtConfiguration"] == {
        "Audience": [{"Fn::ImportValue": "listbackup-dev-user-pool-main:client-id"}],
        "Issuer": {"Fn::ImportValue": "listbackup-dev-user-pool-main:issuer"},
    }


def test_api_errors(tmp_path: Path) -> None:
    spec = """\
tables:
  t: {hash_key: id:S}
apis:
  a:
    auth: table:t
  b:
    cors: {origins: ["*"], credentials: true}
  c:
    cors: {origins: [app.example.com]}
"""
    out = errors_of(tmp_path, {"x.yaml": spec})
    assert "an API's JWT authorizer comes from a user pool, not a table" in out
    assert "browsers refuse credentials with the `*` origin" in out
    assert "'app.example.com' is not an origin such as https://app.example.com" in out


@pytest.mark.parametrize("origin", ["http://localhost:not-a-number", "https://a.example.com/path", "ftp://x.example.com",
                                    "http://localhost:70000", "https://", "https://exa mple.com"])
def test_a_cors_origin_must_be_an_origin(tmp_path: Path, origin: str) -> None:
    out = errors_of(tmp_path, {"a.yaml": f'apis:\n  main: {{cors: {{origins: ["{origin}"]}}}}\n'})
    assert f"origins[0]: '{origin}' is not an origin such as https://app.example.com" in out


@pytest.mark.parametrize("origin", ["*", "https://*.example.com", "http://127.0.0.1:3000", "https://app.example.com:8443"])
def test_valid_cors_origins_compile(tmp_path: Path, origin: str) -> None:
    result = compile_spec(tmp_path, {"a.yaml": f'apis:\n  main: {{cors: {{origins: ["{origin}"]}}}}\n'})
    assert template(result, "dev", "a")["Resources"]["MainHttpApi"]["Properties"]["CorsConfiguration"]["AllowOrigins"] == [origin]
