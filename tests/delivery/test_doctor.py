"""`platformc doctor --stage S`: what a first deploy into a new account needs, checked with
read-only calls against the moto server on 127.0.0.1 (and, where moto lacks the API, the AWS
calls pinned with botocore's Stubber). Expectations come from generated/prod itself."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.delivery import doctor
from compiler.delivery.deploy import Deployer
from compiler.manifest import Manifest
from tests.conftest import REPO
from tests.delivery.test_deploy import _client

pytestmark = pytest.mark.usefixtures("local_credentials")
OUT = REPO / "generated"


def _resources(kind: str) -> list[dict[str, Any]]:
    manifest = Manifest.read(OUT, "prod")
    assert manifest is not None
    return [r for stack in sorted(manifest.stacks)
            for r in json.loads(manifest.template_path(OUT, stack).read_text())["Resources"].values() if r["Type"] == kind]


def _doctor(endpoint: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["doctor", "--stage", "prod", "--endpoint-url", endpoint, "--out", str(OUT)])
    return result.exit_code, result.output


def test_a_new_account_lacks_what_the_first_deploy_needs_and_each_fix_is_said(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    code, text = _doctor(endpoint)
    assert code == 1, text
    zones = {r["Properties"]["HostedZoneId"] for r in _resources("AWS::Route53::RecordSet")
             if isinstance(r["Properties"].get("HostedZoneId"), str)}
    assert zones and all(f"MISSING  hosted zone {zone}" in text for zone in zones)
    aliases = {r["Properties"]["AliasTarget"]["HostedZoneId"] for r in _resources("AWS::Route53::RecordSet")
               if "AliasTarget" in r["Properties"] and isinstance(r["Properties"]["AliasTarget"]["HostedZoneId"], str)}
    assert not any(f"hosted zone {zone}" in text for zone in aliases - zones)  # CloudFront's zone is AWS's, not ours
    for secret in _resources("AWS::SecretsManager::Secret"):
        random = "random" in str(secret["Properties"].get("Description", "")).lower()
        words = "CloudFormation makes its random value" if random else "not created yet"
        assert f"secret {secret['Properties']['Name']}: {words}" in text
    for topic in _resources("AWS::SNS::Topic"):
        for sub in topic["Properties"].get("Subscription") or []:
            assert f"alarm e-mail {sub['Endpoint']} on {topic['Properties']['TopicName']}: not subscribed yet" in text
    assert "MISSING  bootstrap stack listbackup-prod-" in text and "platformc bootstrap --stage prod" in text
    assert "skipped  Lambda concurrency: this endpoint has no GetAccountSettings" in text
    assert "manual   GitHub (not checked here" in text and "infra-risk-approved" in text

    # the operator sets a secret's value and a recipient confirms: those checks turn ok
    sm, sns = _client(endpoint, "secretsmanager"), _client(endpoint, "sns")
    secret = next(r["Properties"]["Name"] for r in _resources("AWS::SecretsManager::Secret")
                  if "random" not in str(r["Properties"].get("Description", "")).lower())  # one an operator sets
    sm.create_secret(Name=secret, SecretString="placeholder")
    code, text = _doctor(endpoint)
    assert f"MISSING  secret {secret}: still the placeholder CloudFormation made" in text
    sm.put_secret_value(SecretId=secret, SecretString='{"real": "value"}')
    topic = next(t for t in _resources("AWS::SNS::Topic") if t["Properties"].get("Subscription"))["Properties"]
    arn = sns.create_topic(Name=topic["TopicName"])["TopicArn"]
    for sub in topic["Subscription"]:
        sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=sub["Endpoint"])
    code, text = _doctor(endpoint)
    assert f"ok       secret {secret}: a value was set (2 versions)" in text
    for sub in topic["Subscription"]:  # moto confirms e-mail subscriptions at once
        assert f"ok       alarm e-mail {sub['Endpoint']} on {topic['TopicName']}: confirmed" in text


def test_the_concurrency_check_reads_the_quota_and_names_the_increase() -> None:
    """On AWS: GetAccountSettings and each function's reserved concurrency, pinned with
    Stubber (moto has no GetAccountSettings)."""
    import boto3
    from botocore.stub import ANY, Stubber

    deployer = Deployer(OUT, "prod", yes=True, echo=lambda _: None, poll=0)
    lam = boto3.client("lambda", region_name=deployer.manifest.region)
    deployer.client = lambda service, region=None: lam  # type: ignore[method-assign]
    functions = _resources("AWS::Lambda::Function")
    reserved = sum(int(r["Properties"].get("ReservedConcurrentExecutions") or 0) for r in functions)

    def check(quota: int, unreserved: int) -> doctor.Check:
        stub = Stubber(lam)
        stub.add_response("get_account_settings", {"AccountLimit": {"ConcurrentExecutions": quota,
                                                                    "UnreservedConcurrentExecutions": unreserved}})
        for _ in functions:  # none deployed yet: nothing of the stage's is reserved already
            stub.add_client_error("get_function_concurrency", "ResourceNotFoundException",
                                  expected_params={"FunctionName": ANY})
        with stub:
            (found,) = doctor.concurrency(deployer)
            stub.assert_no_pending_responses()
        return found

    roomy = check(1000, 1000)
    assert roomy.status == (doctor.OK if reserved <= 900 else doctor.MISSING)
    assert f"stage prod reserves {reserved}" in roomy.what
    short = check(200, 150)
    assert short.status == doctor.MISSING and f"{reserved - 50} short" in short.what
    assert f"--quota-code L-B99A9384 --desired-value {200 + reserved - 50}" in short.fix
