"""The function's role: exactly the actions of its access levels, on exactly their ARNs.

Every statement names its resources. The only `*` resources are the X-Ray actions, for
which AWS has no resource-level permissions (awstypes.WILDCARD_REASONS, checked by a test over
every generated policy).
"""

from __future__ import annotations

from typing import Any

from awacs.aws import Action, Allow, PolicyDocument, Statement
from troposphere import GetAtt, Join, iam

from ...awstypes import TRACING_ACTIONS
from ..cfn import bounded, trust_policy
from ...model import Ref
from ...naming import camel
from ..api import origin_secret
from ..base import ACCOUNT, ARN, STAGE_KEYS, STAGE_TAGGED, Context, Permission, Resource
from .spec import Spec, levels

# What a function's role may ever need besides the access levels of what it reaches (the
# stage's permissions boundary is made of these): its own log group, its dead-letter queue,
# its API's origin secret, tracing, and the stage's key (environment, DLQ, encrypted data).
ROLE_NEEDS = (
    Permission("FunctionLogs", ("logs:CreateLogStream", "logs:PutLogEvents"),
               (f"{ARN}:logs:*:{ACCOUNT}:log-group:/aws/lambda/{{p}}*",)),
    Permission("FunctionDeadLetters", ("sqs:SendMessage",), (f"{ARN}:sqs:*:{ACCOUNT}:{{p}}*",)),
    Permission("FunctionOriginSecret", ("secretsmanager:GetSecretValue",), (f"{ARN}:secretsmanager:*:{ACCOUNT}:secret:{{p}}*",)),
    Permission("FunctionTracing", TRACING_ACTIONS, ("*",)),
    Permission("FunctionStageKey", ("kms:Decrypt", "kms:GenerateDataKey"), (STAGE_KEYS,), STAGE_TAGGED),
)


def _actions(names: tuple[str, ...] | list[str]) -> list[Action]:
    return [Action(*name.split(":", 1)) for name in sorted(names)]


def grants(spec: Spec) -> list[tuple[Ref, str]]:
    """(resource, level) pairs the role must allow: `access:` plus what triggers need."""
    pairs = {(ref, level) for ref, value in spec.access.items() for level in levels(value)}
    if spec.consumes is not None and spec.consumes.queue not in spec.access:
        pairs.add((spec.consumes.queue, "consume"))
    return sorted(pairs)


def _resource_value(ctx: Context, ref: Ref, attribute: str, suffix: str) -> Any:
    value = ctx.ref(ref, attribute)
    return Join("", [value, suffix]) if suffix else value


def policy(resource: Resource, ctx: Context, log_group: Any, dlq: Any = None) -> PolicyDocument:
    spec: Spec = resource.spec
    statements = [
        Statement(
            Sid="WriteOwnLogs",
            Effect=Allow,
            Action=_actions(["logs:CreateLogStream", "logs:PutLogEvents"]),
            Resource=[GetAtt(log_group, "Arn")],
        )
    ]
    for ref, level in grants(spec):
        for i, grant in enumerate(ctx.resource(ref).kind.access[level]):
            statements.append(
                Statement(
                    Sid=camel(f"{ref.kind}-{ref.name}-{ref.part}-{level}") + (str(i + 1) if i else ""),
                    Effect=Allow,
                    Action=_actions(grant.actions),
                    Resource=[_resource_value(ctx, ref, attr, suffix) for attr, suffix in grant.resources],
                )
            )
    if spec.api is not None and (secret := origin_secret(ctx.resource(spec.api))) is not None:
        statements.append(Statement(  # the API refuses requests that did not come through its distribution
            Sid="ReadOriginSecret", Effect=Allow, Action=_actions(["secretsmanager:GetSecretValue"]),
            Resource=[ctx.ref(secret, "arn")]))
    if dlq is not None:  # Lambda sends failed asynchronous events there with the function's role
        statements.append(Statement(Sid="DeadLetters", Effect=Allow, Action=_actions(["sqs:SendMessage"]),
                                    Resource=[GetAtt(dlq, "Arn")]))
    if (key := ctx.stage_key()) is not None:
        # the environment (Lambda decrypts it with this role; so does reading the API's origin
        # secret), then what each access level needs of the key where its resource uses it
        actions = {"kms:Decrypt"} | ({"kms:GenerateDataKey"} if dlq is not None else set())
        for ref, level in grants(spec):
            target = ctx.resource(ref)
            if target.kind.encrypts:
                actions.update(a for grant in target.kind.access[level] for a in grant.key)
        statements.append(Statement(Sid="StageKey", Effect=Allow, Action=_actions(sorted(actions)), Resource=[key]))
    if spec.tracing:
        statements.append(Statement(Sid="Tracing", Effect=Allow, Action=_actions(TRACING_ACTIONS), Resource=["*"]))
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def role(resource: Resource, ctx: Context, log_group: Any, dlq: Any = None) -> iam.Role:
    return iam.Role(
        resource.logical_id + "Role",
        RoleName=ctx.name(resource),
        AssumeRolePolicyDocument=trust_policy("lambda.amazonaws.com"),
        Policies=[iam.Policy(PolicyName="access", PolicyDocument=policy(resource, ctx, log_group, dlq))],
        Tags=ctx.tags(resource),
        **bounded(ctx.boundary()),
    )
