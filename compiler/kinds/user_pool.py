"""user_pools: Cognito user pools (AWS::Cognito::UserPool) with one app client and groups.

Email is the username. The app client has no secret and, by default, only the refresh-token
flow: passwords are checked by the login function (the `admin-password` flow, through IAM),
behind its lockout. The client id is public, so a flow that takes a password from anyone
holding it (`srp`, `password`) lets passwords be tried around that lockout: either is an
unsafe choice with a reason. No OAuth implicit/code flows without a hosted UI, unlike the
real platform. The pool's id, ARN, client id and issuer URL are referable, which is what an
API's JWT authorizer and the auth functions use.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field
from troposphere import Ref, Sub, cognito

from .. import naming
from .cfn import alarm
from ..diagnostics import KeyPath
from ..model import Duration, Email, SpecModel, StageSettings, StatefulSpec, matching
from .base import ACCOUNT, ARN, Attr, CheckEnv, Context, Grant, Kind, Permission, PhysicalName, Resource


Requirement = Literal["lowercase", "uppercase", "numbers", "symbols"]
Flow = Literal["srp", "refresh", "admin-password", "password"]
GroupName = Annotated[str, matching(r"[A-Za-z0-9_+=,.@-]{1,128}", "a group name")]
REQUIREMENTS: tuple[Requirement, ...] = ("lowercase", "uppercase", "numbers", "symbols")
DEFAULT_FLOWS: tuple[Flow, ...] = ("refresh",)
FLOWS = {
    "srp": "ALLOW_USER_SRP_AUTH",  # anyone with the (public) client id may try passwords (SRP)
    "refresh": "ALLOW_REFRESH_TOKEN_AUTH",
    "admin-password": "ALLOW_ADMIN_USER_PASSWORD_AUTH",  # server side only: needs IAM (the `login` level)
    "password": "ALLOW_USER_PASSWORD_AUTH",  # anyone with the (public) client id may try passwords
}
PUBLIC_PASSWORD_FLOWS = {"srp", "password"}  # Cognito's public APIs take a password for the client id alone
Attribute = Literal["name", "given_name", "family_name", "phone_number", "locale", "zoneinfo", "picture"]
MINUTE, HOUR, DAY = 60, 3600, 86400


class Password(SpecModel):
    min_length: int = Field(12, ge=8, le=99)
    require: list[Requirement] = Field(default_factory=lambda: list(REQUIREMENTS))
    temporary_valid_days: int = Field(7, ge=1, le=365)


class Client(SpecModel):
    flows: list[Flow] = Field(default_factory=lambda: list(DEFAULT_FLOWS), min_length=1,
                              description="`srp` and `password` take passwords from anyone holding the public "
                                          "client id, around the login function's lockout: each needs a reason "
                                          "(`reasons: {client: ...}`)")
    writable: list[Attribute] = Field(default=[], description="attributes users may change besides "
                                      "e-mail (verified first) and the required ones")
    access_token: Duration = Field(HOUR, ge=5 * MINUTE, le=DAY)
    id_token: Duration = Field(HOUR, ge=5 * MINUTE, le=DAY)
    refresh_token: Duration = Field(30 * DAY, ge=HOUR, le=3650 * DAY)


Domain = Annotated[str, matching(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", "a domain such as listbackup.ai")]
COGNITO_DAILY_MAILS = 50  # what Cognito's own sender allows per account and day


class Mail(SpecModel):
    sender: Literal["cognito", "ses"] = Field(
        "cognito", description="who sends sign-up, reset and MFA mail: Cognito's own sender (50 mails a day for the "
        "whole account: fine for dev) or SES from your verified identity (staging, prod)")
    identity: Domain | Email | None = Field(None, description="ses: the verified SES identity (a domain or an address) "
                                                             "in the pool's region")
    from_address: str | None = Field(None, max_length=256, description="ses: the From header, e.g. 'ListBackup "
                                     "<noreply@listbackup.ai>'; an address of `identity`")
    daily_quota: int | None = Field(None, ge=1, description="ses: the account's 24-hour SES sending quota (`aws sesv2 "
                                    "get-account`, Max24HourSend): the alarm fires on an hour that sends more than "
                                    "1/24 of it")


def check_mail(spec: "Spec", env: CheckEnv) -> list[tuple[KeyPath, str]]:
    mail = spec.email
    if mail.sender == "cognito":
        return [(("email", f), "only with `sender: ses`") for f in ("identity", "from_address", "daily_quota")
                if getattr(mail, f) is not None]
    problems: list[tuple[KeyPath, str]] = [(("email",), f"`sender: ses` needs `{f}`")
                                           for f in ("identity", "from_address", "daily_quota") if getattr(mail, f) is None]
    if mail.identity and mail.from_address:
        address = re.search(r"<([^<>]+)>\s*$", mail.from_address)
        sent_as = (address.group(1) if address else mail.from_address).strip().lower()
        allowed = sent_as == mail.identity.lower() if "@" in mail.identity else sent_as.endswith("@" + mail.identity.lower())
        if not allowed:
            problems.append((("email", "from_address"), f"'{sent_as}' is not an address of the SES identity '{mail.identity}'"))
    return problems


class Group(SpecModel):
    precedence: int = Field(ge=0)
    description: str | None = Field(None, max_length=2048)


class Spec(StatefulSpec):
    mfa: Literal["off", "optional", "required"] = Field("optional", description="TOTP (authenticator apps)")
    threat_protection: Literal["enforced", "audit", "off"] = Field(
        "enforced", description="Cognito threat protection (compromised credentials, risky sign-ins); the Plus plan")
    password: Password = Field(default_factory=lambda: Password(), description="password policy")
    self_sign_up: bool = Field(True, description="let users sign themselves up (false: only administrators create users)")
    required_attributes: list[Literal["name", "given_name", "family_name", "phone_number", "locale"]] = Field(
        default=[], description="standard attributes every user must have, besides email"
    )
    client: Client = Field(default_factory=lambda: Client(), description="the one app client (no secret), its auth flows and token lifetimes")
    email: Mail = Field(default_factory=lambda: Mail(), description="the sender of the pool's mail, and with SES the "
                        "alarm on its quota")
    groups: dict[GroupName, Group] = Field(default={}, description="user groups by name")
    deletion_protection: bool | None = Field(None, description="default: on in protected stages")

    UNSAFE = {
        "deletion_protection": lambda v: v is False,
        "threat_protection": lambda v: v != "enforced",
        "client": lambda v: bool(PUBLIC_PASSWORD_FLOWS & set(v.flows)),
        **StatefulSpec.UNSAFE,
    }


# Sign-up, login, token refresh, sign-out and password flows with the app client are
# Cognito's public (token-based) APIs and need no IAM permission; only Admin* calls do.
# The levels are narrow on purpose and add up in a list (`[read, attributes]`): a function
# that only logs users in holds `client` (the ids, no permission at all), one that renames
# a user cannot add anyone to a group.
POOL_READ = ("cognito-idp:AdminGetUser", "cognito-idp:AdminListGroupsForUser", "cognito-idp:ListUsers")
POOL_ATTRIBUTES = ("cognito-idp:AdminUpdateUserAttributes",)
POOL_STATUS = (  # enable or disable a user (disabling ends their sessions); never delete one
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminEnableUser",
    "cognito-idp:AdminUserGlobalSignOut",
)
POOL_USERS = ("cognito-idp:AdminDeleteUser", *POOL_STATUS)
POOL_GROUPS = ("cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminRemoveUserFromGroup")
POOL_LOGIN = ("cognito-idp:AdminInitiateAuth", "cognito-idp:AdminRespondToAuthChallenge")
POOL_SESSIONS = ("cognito-idp:AdminGetUser", "cognito-idp:AdminUserGlobalSignOut")  # find a user, end their sessions
POOL_ADMIN = tuple(sorted(POOL_ATTRIBUTES + POOL_USERS + POOL_GROUPS + POOL_LOGIN + (
    "cognito-idp:AdminConfirmSignUp",
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminResetUserPassword",
    "cognito-idp:AdminSetUserPassword",
)))


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    found = [
        PhysicalName("cognito-user-pool", naming_.physical(name), naming.USER_POOL),
        PhysicalName(f"cognito-client:{name}", naming_.physical(name, "-app"), naming.USER_POOL),
    ]
    if spec.email.sender == "ses" and settings.alarms.enabled:
        found.append(PhysicalName("cloudwatch-alarm", naming_.physical(name, "-email-quota"), naming.ALARM))
    return found


def _email(resource: Resource, ctx: Context) -> tuple[dict[str, object], list[object]]:
    """The pool's EmailConfiguration and, with SES, the alarm on the account's quota.

    Cognito's own sender allows 50 mails a day for the whole account: one client address
    could drain sign-up and reset mail for everyone in about an hour. With SES the quota is
    the account's own (tens of thousands a day); an hour that sends more than 1/24 of it is
    on course to run it dry within a day, and every user's reset and MFA mail with it."""
    mail: Mail = resource.spec.email
    if mail.sender == "cognito":
        return {}, []
    assert mail.identity and mail.from_address and mail.daily_quota
    config = cognito.EmailConfiguration(
        EmailSendingAccount="DEVELOPER",
        SourceArn=Sub(f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:identity/{mail.identity}"),
        From=mail.from_address,
    )
    alarms: list[object] = []
    if ctx.settings.alarms.enabled:
        hourly = -(-mail.daily_quota // 24)
        alarms.append(alarm(
            resource.logical_id + "EmailQuotaAlarm", ctx.name(resource, "-email-quota"),
            f"SES sent more than {hourly} mails in an hour, 1/24 of the account's 24-hour quota ({mail.daily_quota}): "
            "at this rate the quota runs out within a day, and sign-up, reset and MFA mail stops for every user",
            ctx.alarm_actions(), threshold=hourly, period=3600, Namespace="AWS/SES", MetricName="Send", Statistic="Sum"))
    return {"EmailConfiguration": config}, alarms


# Setting a pool's sender to SES makes Cognito create its e-mail service-linked role (once
# per account), with the caller's credentials: CloudFormation's execution role.
SES_SENDER = Permission(
    "CognitoEmailRole", ("iam:CreateServiceLinkedRole",),
    (f"{ARN}:iam::{ACCOUNT}:role/aws-service-role/email.cognito-idp.amazonaws.com/"
     "AWSServiceRoleForAmazonCognitoIdpEmailService",),
    (("StringEquals", "iam:AWSServiceName", "email.cognito-idp.amazonaws.com"),))


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    policy = cognito.PasswordPolicy(
        MinimumLength=spec.password.min_length,
        RequireLowercase="lowercase" in spec.password.require,
        RequireUppercase="uppercase" in spec.password.require,
        RequireNumbers="numbers" in spec.password.require,
        RequireSymbols="symbols" in spec.password.require,
        TemporaryPasswordValidityDays=spec.password.temporary_valid_days,
    )
    props: dict[str, object] = {
        "UserPoolName": ctx.name(resource),
        "UsernameAttributes": ["email"],
        "AutoVerifiedAttributes": ["email"],
        "UsernameConfiguration": cognito.UsernameConfiguration(CaseSensitive=False),
        "Policies": cognito.Policies(PasswordPolicy=policy),
        "AdminCreateUserConfig": cognito.AdminCreateUserConfig(AllowAdminCreateUserOnly=not spec.self_sign_up),
        "AccountRecoverySetting": cognito.AccountRecoverySetting(
            RecoveryMechanisms=[cognito.RecoveryOption(Name="verified_email", Priority=1)]
        ),
        "MfaConfiguration": {"off": "OFF", "optional": "OPTIONAL", "required": "ON"}[spec.mfa],
        "DeletionProtection": "ACTIVE" if ctx.setting(spec.deletion_protection, "protect") else "INACTIVE",
        "UserPoolTags": ctx.tag_map(resource),
        # The username is the e-mail: a new one takes effect only once its code is confirmed.
        "UserAttributeUpdateSettings": cognito.UserAttributeUpdateSettings(AttributesRequireVerificationBeforeUpdate=["email"]),
        "Schema": [
            cognito.SchemaAttribute(Name="email", AttributeDataType="String", Required=True, Mutable=True),
            *[
                cognito.SchemaAttribute(Name=attr, AttributeDataType="String", Required=True, Mutable=True)
                for attr in sorted(spec.required_attributes)
            ],
        ],
    }
    email, alarms = _email(resource, ctx)
    props.update(email)
    if spec.mfa != "off":
        props["EnabledMfas"] = ["SOFTWARE_TOKEN_MFA"]
    if spec.threat_protection != "off":
        props["UserPoolTier"] = "PLUS"  # threat protection is part of the Plus feature plan
        props["UserPoolAddOns"] = cognito.UserPoolAddOns(AdvancedSecurityMode=spec.threat_protection.upper())
    writable = sorted({"email", *spec.required_attributes, *spec.client.writable})
    readable = sorted({"email", "email_verified", *spec.required_attributes, *spec.client.writable})
    pool = cognito.UserPool(resource.logical_id, **props, **ctx.deletion_policies(resource))
    client = cognito.UserPoolClient(
        resource.logical_id + "Client",
        ClientName=ctx.name(resource, "-app"),
        UserPoolId=Ref(pool),
        GenerateSecret=False,
        ExplicitAuthFlows=sorted(FLOWS[flow] for flow in spec.client.flows),
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=True,
        AccessTokenValidity=spec.client.access_token // MINUTE,
        IdTokenValidity=spec.client.id_token // MINUTE,
        RefreshTokenValidity=spec.client.refresh_token // MINUTE,
        TokenValidityUnits=cognito.TokenValidityUnits(AccessToken="minutes", IdToken="minutes", RefreshToken="minutes"),
        SupportedIdentityProviders=["COGNITO"],
        ReadAttributes=readable,
        WriteAttributes=writable,
    )
    groups = [
        cognito.UserPoolGroup(
            resource.logical_id + "Group" + re.sub(r"[^A-Za-z0-9]", "", naming.camel(name)),
            UserPoolId=Ref(pool),
            GroupName=name,
            Precedence=group.precedence,
            **({"Description": group.description} if group.description else {}),
        )
        for name, group in sorted(spec.groups.items())
    ]
    return [pool, client, *groups, *alarms]


KIND = Kind(
    section="user_pools",
    ref="user-pool",
    spec=Spec,
    id_suffix="UserPool",
    attributes={
        "id": Attr(description="user pool id"),
        "arn": Attr("Arn", description="user pool ARN"),
        "client_id": Attr(part="Client", description="app client id"),
        "issuer": Attr("ProviderURL", description="token issuer URL (JWT authorizers)"),
    },
    names=names,
    synthesize=synthesize,
    checks=(check_mail,),
    alarms=lambda spec: spec.email.sender == "ses",  # the quota alarm
    deploy_needs=lambda spec: (SES_SENDER,) if spec.email.sender == "ses" else (),
    access={
        "client": (),
        "read": (Grant(POOL_READ),),
        "attributes": (Grant(POOL_ATTRIBUTES),),
        "status": (Grant(POOL_STATUS),),
        "users": (Grant(POOL_USERS),),
        "groups": (Grant(POOL_GROUPS),),
        "login": (Grant(POOL_LOGIN),),
        "sessions": (Grant(POOL_SESSIONS),),
        "admin": (Grant(tuple(sorted(POOL_READ + POOL_ADMIN))),),
    },
    env={"USER_POOL_ID": "id", "USER_POOL_CLIENT_ID": "client_id"},
)
