"""The bootstrap stack (`delivery:`): who may assume the deploy and review roles, what the
deploy role may pass, what the execution role may do, and how deploy and bootstrap use them
on the moto server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.awstypes import WILDCARD_REASONS
from compiler.delivery.deploy import DeployError
from compiler.manifest import Manifest
from tests.conftest import REPO, compile_spec, platform
from tests.delivery.test_deploy import _client, _deployer, _platform

PLATFORM = yaml.safe_load((REPO / "spec" / "platform.yaml").read_text())
ISSUER = "token.actions.githubusercontent.com"


pytestmark = pytest.mark.usefixtures("local_credentials")  # any credentials do on the emulator


def _bootstrap_template(out: Path, stage: str) -> dict[str, Any]:
    manifest = Manifest.read(out, stage)
    assert manifest is not None
    [stack] = manifest.bootstrap_stacks
    return dict(json.loads(manifest.template_path(out, stack).read_text()))


def _role(template: dict[str, Any], marker: str) -> dict[str, Any]:
    """The role's properties; its `Policies` as IAM reads them: the inline ones, then the
    managed policies of the template attached to it."""
    [role] = [r for r in template["Resources"].values() if (r.get("Metadata") or {}).get("Delivery") == marker]
    props = dict(role["Properties"])
    attached = [{"PolicyName": arn["Ref"], "PolicyDocument": template["Resources"][arn["Ref"]]["Properties"]["PolicyDocument"]}
                for arn in props.get("ManagedPolicyArns", [])]
    return {**props, "Policies": [*props.get("Policies", []), *attached]}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("stage", sorted(PLATFORM["stages"]))
def test_only_the_stages_github_environment_may_assume_its_deploy_role(stage: str) -> None:
    template = _bootstrap_template(REPO / "generated", stage)
    repo = PLATFORM["repository"]
    [trust] = _role(template, "deploy-role")["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == ["sts:AssumeRoleWithWebIdentity"] and trust["Effect"] == "Allow"
    assert trust["Condition"] == {"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com",
                                                   f"{ISSUER}:sub": f"repo:{repo}:environment:{stage}"}}
    assert "oidc-provider/token.actions.githubusercontent.com" in _text(trust["Principal"]["Federated"]) or \
        trust["Principal"]["Federated"] == {"Ref": next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::OIDCProvider")}
    [review] = _role(template, "review-role")["AssumeRolePolicyDocument"]["Statement"]
    assert review["Condition"] == {"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com", f"{ISSUER}:sub": [
        f"repo:{repo}:pull_request", f"repo:{repo}:ref:refs/heads/main"]}}
    [execution] = _role(template, "execution-role")["AssumeRolePolicyDocument"]["Statement"]
    assert execution["Principal"] == {"Service": "cloudformation.amazonaws.com"}


@pytest.mark.parametrize("stage", sorted(PLATFORM["stages"]))
def test_the_deploy_role_passes_only_the_execution_role_and_never_touches_its_own_stack(stage: str) -> None:
    template = _bootstrap_template(REPO / "generated", stage)
    deploy = _statements(_role(template, "deploy-role"))
    execution_id = next(k for k, r in template["Resources"].items() if (r.get("Metadata") or {}).get("Delivery") == "execution-role")
    passing = [s for s in deploy if any(a.startswith("iam:") for a in s["Action"])]
    assert passing == [{
        "Action": ["iam:PassRole"], "Effect": "Allow", "Resource": [{"Fn::GetAtt": [execution_id, "Arn"]}],
        "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}, "Sid": "PassOnlyTheExecutionRole"}]
    manifest = Manifest.read(REPO / "generated", stage)
    assert manifest is not None
    bootstrap_name = manifest.stacks[manifest.bootstrap_stacks[0]].name
    [denied] = [s for s in deploy if s["Effect"] == "Deny"]
    assert {"cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet", "cloudformation:DeleteStack"} <= set(denied["Action"])
    assert f"stack/{bootstrap_name}/*" in _text(denied["Resource"])
    # no role may be changed through a stack either: the execution role is denied the delivery roles
    execution = _statements(_role(template, "execution-role"))
    [guard] = [s for s in execution if s["Effect"] == "Deny" and s.get("Sid") == "NeverTheDeliveryRoles"]
    names = {_role(template, m)["RoleName"] for m in ("deploy-role", "review-role", "execution-role")}
    assert guard["Action"] == ["iam:*"] and {n for n in names if n in _text(guard["Resource"])} == names


@pytest.mark.parametrize("stage", sorted(PLATFORM["stages"]))
def test_every_wildcard_is_documented_and_everything_else_names_the_stage(stage: str) -> None:
    template = _bootstrap_template(REPO / "generated", stage)
    prefix = f"{PLATFORM['service']}-{stage}-"
    # ids AWS picks: scoped to the account, since no name can be known before creation
    id_scoped = ("userpool/*", "certificate/*", "distribution/*", "origin-access-control/*", "backup-plan:*",
                 "discoverer/*", "::/apis", "::/apis/*", "::/tags/*", "::/domainnames", "::/domainnames/*", "event-source-mapping:*", "hostedzone/", "change/*",
                 "managedruleset/*", "changeSet/platformc-",
                 # a service-linked role: one per account, its name fixed by AWS
                 ":role/aws-service-role/email.cognito-idp.amazonaws.com/AWSServiceRoleForAmazonCognitoIdpEmailService")
    for marker in ("deploy-role", "review-role", "execution-role"):
        for statement in (s for s in _statements(_role(template, marker)) if s["Effect"] == "Allow"):
            assert not any(a == "*" or a.endswith(":*") for a in statement["Action"]), statement
            for resource in statement["Resource"]:
                text = _text(resource)
                if resource == "*":
                    assert set(statement["Action"]) <= set(WILDCARD_REASONS), (marker, statement)
                elif ":key/*" in text:  # KMS keys have no name: the stage's are those tagged with it
                    assert _text(statement.get("Condition")).count(f'"aws:ResourceTag/Stage": "{stage}"') + _text(
                        statement.get("Condition")).count(f'"aws:RequestTag/Stage": "{stage}"') == 1, statement
                elif prefix not in text and "Fn::GetAtt" not in text:
                    assert any(scope in text for scope in id_scoped), (marker, statement["Sid"], text)
    assert all(len(reason) > 20 for reason in WILDCARD_REASONS.values())


def test_the_execution_role_allows_only_the_services_the_stage_declares(tmp_path: Path) -> None:
    files = {"delivery.yaml": "delivery:\n  github: {}\n", "data.yaml": "tables:\n  items: {hash_key: id:S}\n"}
    result = compile_spec(tmp_path, files, platform=platform("{alarms: {enabled: false}}") + "repository: acme/platform\n")
    template = json.loads(result.outputs["dev/delivery.json"])
    actions = {a for s in _statements(_role(template, "execution-role")) if s["Effect"] == "Allow" for a in s["Action"]}
    assert {a.split(":")[0] for a in actions} == {"dynamodb"}
    prod = json.loads(result.outputs["prod/delivery.json"])  # prod raises alarms: the table's throttle alarms
    actions = {a for s in _statements(_role(prod, "execution-role")) if s["Effect"] == "Allow" for a in s["Action"]}
    assert {a.split(":")[0] for a in actions} == {"dynamodb", "cloudwatch"}
    [trust] = _role(template, "deploy-role")["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"][f"{ISSUER}:sub"] == "repo:acme/platform:environment:dev"


def test_a_pool_sending_with_ses_lets_the_execution_role_create_cognitos_mail_role_only(tmp_path: Path) -> None:
    """Cognito creates its e-mail service-linked role with the caller's credentials when a
    pool first sends with SES: the execution role may create that one role, named and
    conditioned on its service, and only in stages whose pools send with SES."""
    pool = ("user_pools:\n  main:\n    stages:\n      prod: {email: {sender: ses, identity: example.com, "
            "from_address: noreply@example.com, daily_quota: 1000}}\n")
    files = {"delivery.yaml": "delivery:\n  github: {}\n", "pool.yaml": pool}
    result = compile_spec(tmp_path, files, platform=platform("{alarms: {enabled: false}}") + "repository: acme/platform\n")
    linked = {stage: [s for s in _statements(_role(json.loads(result.outputs[f"{stage}/delivery.json"]), "execution-role"))
                      if "iam:CreateServiceLinkedRole" in s["Action"]] for stage in ("dev", "prod")}
    assert linked["dev"] == []
    [statement] = linked["prod"]
    assert statement["Action"] == ["iam:CreateServiceLinkedRole"]
    assert statement["Condition"] == {"StringEquals": {"iam:AWSServiceName": "email.cognito-idp.amazonaws.com"}}
    assert _text(statement["Resource"]).endswith(
        ":role/aws-service-role/email.cognito-idp.amazonaws.com/AWSServiceRoleForAmazonCognitoIdpEmailService\"}]")


def test_delivery_without_a_repository_is_an_error_at_the_delivery(tmp_path: Path) -> None:
    from tests.conftest import errors_of

    out = errors_of(tmp_path, {"delivery.yaml": "delivery:\n  github: {}\n"})
    assert "spec/delivery.yaml:2:11: error[E308]: delivery needs the GitHub repository" in out
    assert "set `repository: owner/name` in platform.yaml" in out


def test_deploy_needs_the_bootstrap_then_acts_through_the_execution_role(endpoint: str, tmp_path: Path) -> None:
    out, artifacts = _platform(tmp_path, service="boot", extra={"delivery.yaml": "delivery:\n  github: {}\n"},
                               repository="acme/platform")
    lines: list[str] = []
    with pytest.raises(DeployError, match="platformc bootstrap --stage dev"):
        _deployer(out, "dev", endpoint, artifacts, lines).deploy()
    assert not _client(endpoint, "s3").list_buckets(Prefix="boot-dev-")["Buckets"]  # nothing made outside a stack

    deployer = _deployer(out, "dev", endpoint, artifacts, lines)
    assert [(r.stack, r.status) for r in deployer.bootstrap()] == [("delivery", "created")]
    assert "boot-dev-deployment" in {b["Name"] for b in _client(endpoint, "s3").list_buckets()["Buckets"]}
    iam = _client(endpoint, "iam")
    assert {"boot-dev-github-deploy", "boot-dev-github-review", "boot-dev-github-cloudformation"} <= {
        r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert any(p["Arn"].endswith("oidc-provider/token.actions.githubusercontent.com")
               for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])

    calls: list[tuple[str, dict[str, Any]]] = []
    deployer = _deployer(out, "dev", endpoint, artifacts, lines)
    deployer._session.events.register("provide-client-params.cloudformation",
                                      lambda params, model, **_: calls.append((model.name, dict(params))))
    assert {(r.stack, r.status) for r in deployer.deploy()} == {("app", "created"), ("data", "created")}  # not delivery
    created = [params for name, params in calls if name in ("CreateStack", "CreateChangeSet")]
    assert sorted(p["StackName"] for p in created) == ["boot-dev-app", "boot-dev-data"]
    assert {p["RoleARN"] for p in created} == {"arn:aws:iam::123456789012:role/boot-dev-github-cloudformation"}

    with pytest.raises(DeployError, match="bootstrap stack: an administrator deploys it"):
        _deployer(out, "dev", endpoint, artifacts, lines).deploy(only={"delivery"})
