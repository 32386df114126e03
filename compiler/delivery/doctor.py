"""doctor: what a stage's first deploy into an account needs, checked with read-only calls.

`platformc doctor --stage S` reads generated/<stage> (what will be deployed) and asks the
account, through the same credentials and endpoint deploy uses:

- credentials and account: who the caller is; the stage's account (platform.yaml `accounts:`);
- the bootstrap stack (deploy roles, deployment bucket), for a stage that declares one;
- every Route 53 hosted zone the templates name (certificates validate in it, aliases live in it);
- the Lambda concurrency the stage reserves against the account's quota and what is unreserved;
- every secret: created yet, and its value set by an operator (not the placeholder CloudFormation made);
- every alarm e-mail subscription: confirmed by its recipient;
- every SES identity the stage sends mail from: verified.

Each check prints `ok`, `MISSING` (with the fix) or `skipped` (with why: the emulator has no
such API, the stage has no such thing). GitHub's side (the risk label, code scanning) is not
reachable from AWS credentials: it is listed as a manual step (docs/deploy.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import ClientError

from ..build.budget import QUOTA_CODE, UNRESERVED
from ..manifest import of_type
from .stage import StageAccess

OK, MISSING, SKIPPED = "ok", "MISSING", "skipped"


@dataclass(frozen=True)
class Check:
    status: str
    what: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status:<8} {self.what}" + (f"\n         fix: {self.fix}" if self.fix else "")


def _resources(access: StageAccess, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return of_type({stack: access.generated(stack) for stack in access.manifest.stacks}, kind)


def _strings(value: Any) -> list[str]:
    """Every string in a template value (a `Fn::Sub` text too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _unsupported(exc: ClientError) -> bool:
    """The emulator answers an API it lacks with an error of its own (moto: 404/501)."""
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (404, 501) or \
        exc.response.get("Error", {}).get("Code") in ("NotImplemented", "InvalidAction", "UnknownOperationException")


def account(access: StageAccess) -> list[Check]:
    expected = access.manifest.account
    found = access.account
    if expected is not None and expected != found:
        return [Check(MISSING, f"credentials of account {found}, but stage {access.stage} belongs to account {expected}",
                      "use the stage's own credentials (AWS_PROFILE, or the deploy role of that account)")]
    return [Check(OK, f"credentials of account {found}" + (" (the stage's)" if expected else " (platform.yaml names no account)"))]


def bootstrap(access: StageAccess) -> list[Check]:
    stacks = access.manifest.bootstrap_stacks
    if not stacks:
        return [Check(SKIPPED, "bootstrap stack: the stage declares no delivery roles")]
    out = []
    for stack in stacks:
        if access.describe(stack):
            out.append(Check(OK, f"bootstrap stack {access.stack_name(stack)} is deployed"))
        else:
            out.append(Check(MISSING, f"bootstrap stack {access.stack_name(stack)} (deploy roles, deployment bucket)",
                             f"an administrator runs `platformc bootstrap --stage {access.stage}` once (docs/deploy.md)"))
    return out


def hosted_zones(access: StageAccess) -> list[Check]:
    # the zones records go into and certificates validate in (an alias target's zone is AWS's own)
    zones = sorted({str(r["Properties"]["HostedZoneId"]) for _, _, r in _resources(access, "AWS::Route53::RecordSet")
                    if isinstance((r.get("Properties") or {}).get("HostedZoneId"), str)}
                   | {str(option["HostedZoneId"]) for _, _, r in _resources(access, "AWS::CertificateManager::Certificate")
                      for option in (r.get("Properties") or {}).get("DomainValidationOptions") or []
                      if isinstance(option.get("HostedZoneId"), str)})
    if not zones:
        return [Check(SKIPPED, "hosted zones: the stage names none (no domain)")]
    route53 = access.client("route53", "us-east-1")
    out = []
    for zone in zones:
        try:
            name = route53.get_hosted_zone(Id=zone)["HostedZone"]["Name"]
            out.append(Check(OK, f"hosted zone {zone} ({name.rstrip('.')})"))
        except route53.exceptions.NoSuchHostedZone:
            domain = access.manifest.domain or "the stage's domain"
            out.append(Check(MISSING, f"hosted zone {zone}, which the certificates validate in and the aliases live in",
                             f"create the public hosted zone for {domain} (or its parent) and put its id in platform.yaml "
                             "`hosted_zone_id`; delegate the domain to its name servers"))
    return out


def concurrency(access: StageAccess) -> list[Check]:
    reserved = sum(int((r.get("Properties") or {}).get("ReservedConcurrentExecutions") or 0)
                   for _, _, r in _resources(access, "AWS::Lambda::Function"))
    if not reserved:
        return [Check(SKIPPED, f"Lambda concurrency: stage {access.stage} reserves none")]
    lam = access.client("lambda", access.manifest.region)
    try:
        settings = lam.get_account_settings()
    except ClientError as exc:
        if _unsupported(exc):
            return [Check(SKIPPED, "Lambda concurrency: this endpoint has no GetAccountSettings (the emulator)")]
        raise
    quota = int(settings["AccountLimit"]["ConcurrentExecutions"])
    unreserved = int(settings["AccountLimit"]["UnreservedConcurrentExecutions"])
    held = 0  # what the stage's functions reserve already (a re-run): it comes back when they are updated
    for _, _, resource in _resources(access, "AWS::Lambda::Function"):
        name = (resource.get("Properties") or {}).get("FunctionName")
        if isinstance(name, str):
            try:
                held += int(lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions") or 0)
            except lam.exceptions.ResourceNotFoundException:
                pass
    room = unreserved + held - UNRESERVED
    what = (f"Lambda concurrency: the account's quota is {quota}, {unreserved} unreserved; stage {access.stage} reserves "
            f"{reserved} (Lambda keeps {UNRESERVED} unreserved)")
    if reserved <= room:
        return [Check(OK, what)]
    return [Check(MISSING, what + f": {reserved - room} short",
                  f"ask AWS for a quota of at least {quota + reserved - room} (Service Quotas, AWS Lambda, code {QUOTA_CODE}: "
                  f"`aws service-quotas request-service-quota-increase --service-code lambda --quota-code {QUOTA_CODE} "
                  f"--desired-value {quota + reserved - room}`), or lower the stage's reservations (`concurrency:` in "
                  "platform.yaml)")]


def secrets(access: StageAccess) -> list[Check]:
    found = _resources(access, "AWS::SecretsManager::Secret")
    if not found:
        return [Check(SKIPPED, "secrets: the stage declares none")]
    sm = access.client("secretsmanager", access.manifest.region)
    out = []
    for _, _, resource in found:
        name = (resource.get("Properties") or {}).get("Name")
        description = str((resource.get("Properties") or {}).get("Description") or "")
        if "random" in description.lower() and "cloudformation" in description.lower():
            out.append(Check(OK, f"secret {name}: CloudFormation makes its random value, as its description says"))
            continue
        try:
            described = sm.describe_secret(SecretId=name)
        except sm.exceptions.ResourceNotFoundException:
            out.append(Check(MISSING, f"secret {name}: not created yet; the deploy creates it with a random placeholder",
                             f"after the first deploy: `aws secretsmanager put-secret-value --secret-id {name} "
                             "--secret-string file://value.json` (never in the spec or the repository)"))
            continue
        versions = described.get("VersionIdsToStages") or {}
        if len(versions) <= 1:
            out.append(Check(MISSING, f"secret {name}: still the placeholder CloudFormation made (one version)",
                             f"`aws secretsmanager put-secret-value --secret-id {name} --secret-string file://value.json`"))
        else:
            out.append(Check(OK, f"secret {name}: a value was set ({len(versions)} versions)"))
    return out


def subscriptions(access: StageAccess) -> list[Check]:
    topics = [(r["Properties"].get("TopicName"), r["Properties"].get("Subscription") or [])
              for _, _, r in _resources(access, "AWS::SNS::Topic")]
    mails = [(str(topic), str(s["Endpoint"])) for topic, subs in topics for s in subs if s.get("Protocol") == "email"]
    if not mails:
        return [Check(SKIPPED, "alarm e-mail: the stage subscribes no address")]
    sns = access.client("sns", access.manifest.region)
    out = []
    for topic, endpoint in mails:
        arn = f"arn:aws:sns:{access.manifest.region}:{access.account}:{topic}"
        try:
            listed = [s for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
                      for s in page["Subscriptions"] if s.get("Endpoint") == endpoint]
        except sns.exceptions.NotFoundException:
            listed = []
        if listed and listed[0]["SubscriptionArn"] not in ("PendingConfirmation", "Deleted"):
            out.append(Check(OK, f"alarm e-mail {endpoint} on {topic}: confirmed"))
        else:
            state = "waiting for its confirmation" if listed else "not subscribed yet (the deploy subscribes it)"
            out.append(Check(MISSING, f"alarm e-mail {endpoint} on {topic}: {state}",
                             f"{endpoint} clicks the link in AWS's \"Subscription Confirmation\" mail after the deploy; "
                             "until then alarms reach nobody"))
    return out


def mail_identities(access: StageAccess) -> list[Check]:
    identities = sorted({value.rsplit(":identity/", 1)[1] for _, _, r in _resources(access, "AWS::Cognito::UserPool")
                         for value in _strings((r.get("Properties") or {}).get("EmailConfiguration")) if ":identity/" in value})
    if not identities:
        return [Check(SKIPPED, "SES identities: the stage sends mail with Cognito's own sender")]
    ses = access.client("sesv2", access.manifest.region)
    out = []
    for identity in identities:
        try:
            verified = bool(ses.get_email_identity(EmailIdentity=identity).get("VerifiedForSendingStatus"))
        except ses.exceptions.NotFoundException:
            verified = False
        out.append(Check(OK, f"SES identity {identity}: verified") if verified else Check(
            MISSING, f"SES identity {identity}: not verified for sending",
            f"verify {identity} in SES (its DKIM records in the hosted zone) and request production access"))
    return out


CHECKS: tuple[Callable[[StageAccess], list[Check]], ...] = (
    account, bootstrap, hosted_zones, concurrency, secrets, subscriptions, mail_identities)
GITHUB = ("GitHub (not checked here: AWS credentials cannot see it): create the `infra-risk-approved` label "
          "(`gh label create infra-risk-approved --description \"a reviewer approved the infrastructure risks\"`) and "
          "enable code scanning (Settings > Code security) for the SARIF upload (docs/deploy.md)")


def run(access: StageAccess) -> list[Check]:
    return [check for step in CHECKS for check in step(access)]


def render(checks: list[Check], fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps({"checks": [c.__dict__ for c in checks], "manual": [GITHUB]}, indent=2, sort_keys=True) + "\n"
    missing = sum(1 for c in checks if c.status == MISSING)
    return "\n".join([c.line() for c in checks] + [f"manual   {GITHUB}",
                                                   f"{missing} missing" if missing else "nothing missing"]) + "\n"
