"""Edge: certificates and web ACLs in us-east-1, CloudFront distributions in front of the
API and a private bucket, Route 53 aliases; values cross regions as parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import compile_spec, errors_of, platform, template

PLATFORM = platform(
    dev="{domain: dev.api.example.com, hosted_zone_id: Z0123456789ABC, alarms: {enabled: false}}",
    prod="{protect: true, domain: api.example.com, hosted_zone_id: Z0123456789ABC, alarms: {enabled: false}}",
    tags=None,
)
FILES = {
    "certs.yaml": "region: us-east-1\ncertificates:\n  api: {}\n  assets: {domain: assets.example.com}\n"
    "web_acls:\n  edge: {rate_limit: 1000}\n",
    "app.yaml": "user_pools:\n  p: {}\napis:\n  main: {auth: user-pool:p}\nbuckets:\n  assets: {cdn: true}\n",
    "edge.yaml": "distributions:\n  api: {origin: api:main, certificate: certificate:api, web_acl: web-acl:edge}\n"
    "  assets: {origin: bucket:assets, domain: assets.example.com, certificate: certificate:assets}\n",
}


@pytest.fixture
def result(tmp_path: Path):
    return compile_spec(tmp_path, FILES, platform=PLATFORM)


def test_certificates_and_web_acl(result) -> None:
    resources = template(result, "prod", "certs")["Resources"]
    cert = resources["ApiCertificate"]["Properties"]
    assert cert["DomainName"] == "api.example.com" and cert["ValidationMethod"] == "DNS"
    assert cert["DomainValidationOptions"] == [{"DomainName": "api.example.com", "HostedZoneId": "Z0123456789ABC"}]
    acl = resources["EdgeWebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    assert acl["Rules"][0]["Statement"] == {"RateBasedStatement": {"AggregateKeyType": "IP", "Limit": 1000}}
    assert [r["Name"] for r in acl["Rules"][1:]] == [
        "AWSManagedRulesAmazonIpReputationList", "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
    ]


def test_api_distribution(result) -> None:
    edge = template(result, "prod", "edge")
    config = edge["Resources"]["ApiDistribution"]["Properties"]["DistributionConfig"]
    assert config["Aliases"] == ["api.example.com"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": {"Ref": "FromCertsApiCertificateArn"},
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert config["WebACLId"] == {"Ref": "FromCertsEdgeWebAclArn"}
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # nothing cached for the API
    origin = config["Origins"][0]
    assert origin["DomainName"] == {"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::ImportValue": "listbackup-prod-api-main:endpoint"}]}]}
    alias = edge["Resources"]["ApiDistributionAliasA"]["Properties"]
    assert alias["AliasTarget"]["HostedZoneId"] == "Z2FDTNDATAQYW2" and alias["Name"] == "api.example.com"
    manifest = json.loads(result.outputs["prod/manifest.json"])
    assert manifest["stacks"]["edge"]["parameters"]["FromCertsApiCertificateArn"]["region"] == "us-east-1"


def test_bucket_distribution_keeps_the_bucket_private(result) -> None:
    edge = template(result, "prod", "edge")["Resources"]
    origin = edge["AssetsDistribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["AssetsDistributionOriginAccess", "Id"]}
    app = template(result, "prod", "app")["Resources"]
    block = app["AssetsBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    assert all(block.values())
    statement = app["AssetsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][1]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_edge_errors(tmp_path: Path) -> None:
    files = {**FILES, "certs.yaml": FILES["certs.yaml"].replace("region: us-east-1\n", "")}
    assert "a CLOUDFRONT web ACL must be in us-east-1, not us-west-2" in errors_of(tmp_path / "a", files, platform=PLATFORM)
    files = {**FILES, "app.yaml": FILES["app.yaml"].replace("{cdn: true}", "{}")}
    assert "bucket:assets does not admit CloudFront: give it `cdn: true`" in errors_of(tmp_path / "b", files, platform=PLATFORM)
    no_zone = PLATFORM.replace(", hosted_zone_id: Z0123456789ABC", "")
    assert "DNS validation needs `hosted_zone_id` in the settings of stage dev" in errors_of(tmp_path / "c", FILES, platform=no_zone)


def test_an_origin_secret_reaches_cloudfront_and_every_function_behind_the_api(tmp_path: Path) -> None:
    files = {**FILES, "app.yaml": FILES["app.yaml"].replace("apis:\n  main: {auth: user-pool:p}",
                                                           "apis:\n  main: {auth: user-pool:p, origin_secret: secret:origin}"),
             "secrets.yaml": "secrets:\n  origin: {}\n",
             "fns.yaml": "functions:\n  hello: {handler: h.hello, api: api:main, routes: [{route: GET /hello, auth: none}]}\n"
                         "  worker: {handler: h.hello}\n"}
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "h.py").write_text("def hello(event, context):\n    return {}\n")
    result = compile_spec(tmp_path, files, platform=PLATFORM)
    origin = template(result, "dev", "edge")["Resources"]["ApiDistribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    assert origin["OriginCustomHeaders"] == [{"HeaderName": "X-Origin-Verify",
                                              "HeaderValue": "{{resolve:secretsmanager:listbackup-dev-origin}}"}]
    fns = template(result, "dev", "fns")["Resources"]
    assert "ORIGIN_SECRET_ARN" in fns["HelloFunction"]["Properties"]["Environment"]["Variables"]
    statements = fns["HelloFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    read = next(s for s in statements if s["Sid"] == "ReadOriginSecret")
    assert read["Action"] == ["secretsmanager:GetSecretValue"] and "Fn::ImportValue" in read["Resource"][0]
    assert "ORIGIN_SECRET_ARN" not in fns["WorkerFunction"]["Properties"]["Environment"]["Variables"]  # not behind the API
    manifest = json.loads(result.outputs["dev/manifest.json"])
    assert "secrets" in manifest["stacks"]["fns"]["depends_on"] and "secrets" in manifest["stacks"]["edge"]["depends_on"]


def test_an_origin_secret_must_be_a_secret(tmp_path: Path) -> None:
    files = {**FILES, "app.yaml": FILES["app.yaml"].replace("apis:\n  main: {auth: user-pool:p}",
                                                           "apis:\n  main: {auth: user-pool:p, origin_secret: bucket:assets}")}
    assert "`origin_secret:` names a secret, not a bucket" in errors_of(tmp_path, files, platform=PLATFORM)


LOGS = ("  logs:\n    versioning: false\n    access_logs: false\n"
        "    reasons: {versioning: logs expire and are written once, access_logs: it receives the access logs}\n")


def test_buckets_and_distributions_log_into_the_stages_access_log_bucket(tmp_path: Path) -> None:
    settings = PLATFORM.replace("alarms: {enabled: false}}", "alarms: {enabled: false}, access_logs: logs}")
    result = compile_spec(tmp_path, {**FILES, "app.yaml": FILES["app.yaml"] + LOGS}, platform=settings)
    app = template(result, "prod", "app")["Resources"]
    assert app["AssetsBucket"]["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": "LogsBucket"}, "LogFilePrefix": "s3/listbackup-prod-assets/"}
    logs = app["LogsBucket"]
    assert "LoggingConfiguration" not in logs["Properties"]  # never into itself
    assert logs["Properties"]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerPreferred"}]  # CloudFront's ACL
    assert app["AssetsBucket"]["Properties"]["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    [allow] = [s for s in app["LogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"] if s["Sid"] == "S3ServerAccessLogs"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"} and allow["Action"] == ["s3:PutObject"]
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::listbackup-prod-*"}
    assert logs["Metadata"]["checkov"]["skip"] == [  # the unsafe choices' own reasons, for checkov
        {"id": "CKV_AWS_18", "comment": "it receives the access logs (reasons: access_logs)"},
        {"id": "CKV_AWS_21", "comment": "logs expire and are written once (reasons: versioning)"}]
    edge = template(result, "prod", "edge")["Resources"]
    assert edge["ApiDistribution"]["Properties"]["DistributionConfig"]["Logging"] == {
        "Bucket": "listbackup-prod-logs.s3.amazonaws.com", "IncludeCookies": False, "Prefix": "cloudfront/listbackup-prod-api/"}
    assert result.resolved["prod"].levels.index(next(l for l in result.resolved["prod"].levels if "edge" in l)) > \
        result.resolved["prod"].levels.index(next(l for l in result.resolved["prod"].levels if "app" in l))
    assert "Logging" not in template(compile_spec(tmp_path, FILES, platform=PLATFORM), "prod", "edge")["Resources"][
        "ApiDistribution"]["Properties"]["DistributionConfig"]  # no access-log bucket: nothing logged


def test_the_access_log_bucket_must_not_log_into_itself_nor_across_regions(tmp_path: Path) -> None:
    settings = PLATFORM.replace("alarms: {enabled: false}}", "alarms: {enabled: false}, access_logs: logs}")
    out = errors_of(tmp_path, {**FILES, "app.yaml": FILES["app.yaml"] + "  logs: {versioning: true}\n",
                               "dr.yaml": "region: us-east-1\nbuckets:\n  replica: {}\n"}, platform=settings)
    assert "spec/app.yaml:7:3: error[E207]: bucket:logs receives the stage's access logs and cannot log into itself" in out
    assert "spec/dr.yaml:3:3: error[E207]: buckets.replica is in us-east-1, but the stage's access-log bucket:logs is in " \
           "us-west-2: S3 delivers server access logs only within a region" in out
    out = errors_of(tmp_path, FILES, platform=settings.replace("access_logs: logs", "access_logs: log"))
    assert "error[E305]: stage dev sends access logs to bucket:log, which no spec declares" in out


ORIGIN = {**FILES, "app.yaml": "user_pools:\n  p: {}\napis:\n  main: {auth: user-pool:p, origin_domain: certificate:origin}\n"
          "certificates:\n  origin: {domain: origin.api.example.com}\nbuckets:\n  assets: {cdn: true}\n"}


def test_an_origin_domain_is_cloudfronts_only_way_in(tmp_path: Path) -> None:
    """With `origin_domain:` the distribution connects to the API's regional custom domain,
    and the execute-api endpoint is off: the <id>.execute-api URL answers nothing, so WAF
    and the edge's limits cannot be skipped through it."""
    result = compile_spec(tmp_path, ORIGIN, platform=PLATFORM)
    app = template(result, "prod", "app")["Resources"]
    assert app["MainHttpApi"]["Properties"]["DisableExecuteApiEndpoint"] is True
    domain = app["MainHttpApiOriginDomain"]["Properties"]
    assert domain["DomainName"] == "origin.api.example.com"
    assert domain["DomainNameConfigurations"] == [{"CertificateArn": {"Ref": "OriginCertificate"}, "EndpointType": "REGIONAL",
                                                   "SecurityPolicy": "TLS_1_2"}]
    assert app["MainHttpApiOriginMapping"]["Properties"] == {
        "ApiId": {"Ref": "MainHttpApi"}, "DomainName": {"Ref": "MainHttpApiOriginDomain"}, "Stage": {"Ref": "MainHttpApiDefaultStage"}}
    record = app["MainHttpApiOriginRecord"]["Properties"]
    assert (record["Name"], record["Type"], record["HostedZoneId"]) == ("origin.api.example.com", "A", "Z0123456789ABC")
    [origin] = template(result, "prod", "edge")["Resources"]["ApiDistribution"]["Properties"]["DistributionConfig"]["Origins"]
    assert origin["DomainName"] == {"Fn::ImportValue": "listbackup-prod-api-main:origin-domain"}
    without = template(compile_spec(tmp_path / "without", FILES, platform=PLATFORM), "prod", "app")["Resources"]
    assert "DisableExecuteApiEndpoint" not in without["MainHttpApi"]["Properties"]


def test_an_origin_domain_needs_a_certificate_of_the_apis_region(tmp_path: Path) -> None:
    files = {**ORIGIN, "app.yaml": ORIGIN["app.yaml"].replace("origin_domain: certificate:origin", "origin_domain: certificate:api")}
    out = errors_of(tmp_path, files, platform=PLATFORM)
    assert "certificate:api is in us-east-1: a regional custom domain takes a certificate of the API's region (us-west-2)" in out
