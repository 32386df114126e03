"""user_pools: email usernames, password policy, MFA per stage, client flows, groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import compile_spec, errors_of, template

SPEC = """\
user_pools:
  main:
    required_attributes: [name]
    client: {flows: [refresh, admin-password], access_token: 1h, refresh_token: 30d}
    groups:
      SuperAdmins: {precedence: 1, description: Operators}
      Customer-Tier-0: {precedence: 20}
    stages:
      prod: {mfa: required}
"""


def test_pool_client_groups(tmp_path: Path) -> None:
    result = compile_spec(tmp_path, {"c.yaml": SPEC})
    dev, prod = template(result, "dev", "c")["Resources"], template(result, "prod", "c")["Resources"]
    pool = dev["MainUserPool"]["Properties"]
    assert pool["UserPoolName"] == "listbackup-dev-main"
    assert pool["UsernameAttributes"] == ["email"] and pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert pool["MfaConfiguration"] == "OPTIONAL" and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert pool["DeletionProtection"] == "INACTIVE"
    assert [s["Name"] for s in pool["Schema"]] == ["email", "name"]
    assert pool["UserPoolTags"]["Stage"] == "dev"
    assert prod["MainUserPool"]["Properties"]["MfaConfiguration"] == "ON"
    assert prod["MainUserPool"]["Properties"]["DeletionProtection"] == "ACTIVE"
    assert prod["MainUserPool"]["DeletionPolicy"] == "Retain"
    client = dev["MainUserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert client["ExplicitAuthFlows"] == ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["WriteAttributes"] == ["email", "name"] and client["ReadAttributes"] == ["email", "email_verified", "name"]
    assert pool["UserPoolTier"] == "PLUS" and pool["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    assert pool["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    assert (client["AccessTokenValidity"], client["RefreshTokenValidity"]) == (60, 43200)
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert "AllowedOAuthFlows" not in client
    groups = {r["Properties"]["GroupName"]: r["Properties"] for r in dev.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert groups == {
        "SuperAdmins": {"GroupName": "SuperAdmins", "Precedence": 1, "Description": "Operators", "UserPoolId": {"Ref": "MainUserPool"}},
        "Customer-Tier-0": {"GroupName": "Customer-Tier-0", "Precedence": 20, "UserPoolId": {"Ref": "MainUserPool"}},
    }


def test_token_lifetimes_are_bounded(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"c.yaml": "user_pools:\n  main:\n    client: {access_token: 2d}\n"})
    assert "access_token: Input should be less than or equal to 86400" in out


def test_turning_off_deletion_protection_needs_a_reason(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"c.yaml": "user_pools:\n  main: {deletion_protection: false}\n"})
    assert "'deletion_protection: false' turns off a safe default" in out


@pytest.mark.parametrize("flow", ["srp", "password"])
def test_a_public_password_flow_needs_a_reason(flow: str, tmp_path: Path) -> None:
    """USER_SRP_AUTH and USER_PASSWORD_AUTH let anyone holding the public client id try
    passwords against Cognito directly, around the login function's lockout. The default
    client has neither."""
    default = template(compile_spec(tmp_path / "default", {"c.yaml": "user_pools:\n  main: {}\n"}), "dev", "c")
    assert default["Resources"]["MainUserPoolClient"]["Properties"]["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    out = errors_of(tmp_path, {"c.yaml": f"user_pools:\n  main:\n    client: {{flows: [refresh, {flow}]}}\n"})
    assert "error[E209]" in out and "'client" in out
    ok = compile_spec(tmp_path / "ok", {"c.yaml": f"user_pools:\n  main:\n    client: {{flows: [refresh, {flow}]}}\n"
                                                  "    reasons: {client: a legacy mobile app signs in by itself}\n"})
    flows = template(ok, "dev", "c")["Resources"]["MainUserPoolClient"]["Properties"]["ExplicitAuthFlows"]
    assert {"srp": "ALLOW_USER_SRP_AUTH", "password": "ALLOW_USER_PASSWORD_AUTH"}[flow] in flows


def test_threat_protection_is_enforced_unless_a_reason_says_otherwise(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"c.yaml": "user_pools:\n  main: {threat_protection: audit}\n"})
    assert "error[E209]" in out and "threat_protection" in out
    off = compile_spec(tmp_path / "off", {"c.yaml": "user_pools:\n  main:\n    threat_protection: 'off'\n"
                                                    "    reasons: {threat_protection: dev pool without real users}\n"})
    pool = template(off, "dev", "c")["Resources"]["MainUserPool"]["Properties"]
    assert "UserPoolAddOns" not in pool and "UserPoolTier" not in pool


SES = ("user_pools:\n  main:\n    email: {sender: ses, identity: example.com, from_address: 'Example <noreply@example.com>', "
       "daily_quota: 24000}\n")


def test_ses_sends_the_pools_mail_with_an_alarm_on_its_quota(tmp_path: Path) -> None:
    """Cognito's own sender allows 50 mails a day per account; SES sends from the verified
    identity, an hour above 1/24 of the quota alarms, and the execution role may create
    the service-linked role Cognito needs for SES, nothing wider."""
    result = compile_spec(tmp_path, {"c.yaml": SES})
    resources = template(result, "prod", "c")["Resources"]
    assert resources["MainUserPool"]["Properties"]["EmailConfiguration"] == {
        "EmailSendingAccount": "DEVELOPER", "From": "Example <noreply@example.com>",
        "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/example.com"}}
    quota = resources["MainUserPoolEmailQuotaAlarm"]["Properties"]
    assert (quota["Namespace"], quota["MetricName"], quota["Statistic"], quota["Period"], quota["Threshold"]) == (
        "AWS/SES", "Send", "Sum", 3600, 1000)
    default = compile_spec(tmp_path / "default", {"c.yaml": "user_pools:\n  main: {}\n"})
    assert "EmailConfiguration" not in template(default, "prod", "c")["Resources"]["MainUserPool"]["Properties"]


def test_ses_settings_are_checked(tmp_path: Path) -> None:
    out = errors_of(tmp_path, {"c.yaml": "user_pools:\n  main:\n    email: {sender: ses, identity: example.com}\n"})
    assert "`sender: ses` needs `from_address`" in out and "`sender: ses` needs `daily_quota`" in out
    out = errors_of(tmp_path / "b", {"c.yaml": SES.replace("noreply@example.com", "noreply@example.org")})
    assert "'noreply@example.org' is not an address of the SES identity 'example.com'" in out
    out = errors_of(tmp_path / "c", {"c.yaml": "user_pools:\n  main:\n    email: {daily_quota: 10}\n"})
    assert "daily_quota" in out and "only with `sender: ses`" in out
