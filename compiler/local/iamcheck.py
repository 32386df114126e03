"""iamcheck: which IAM actions, on which resources, an AWS call needs — what the local
platform checks every call a handler makes against (compiler/local/runtime.py, with the IAM
evaluator of compiler/iampolicy.py), and the handler contract tests reuse.

A call is (IAM action, the name or id of what it acts on); `resources` turns the name into
the ARN AWS authorises, by service and region. The mapping from an API call to its IAM
actions is the part AWS documents per service; the cases the handlers use are listed here.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

# Cognito APIs called with the app client or a user's tokens: no IAM permission applies.
COGNITO_PUBLIC = frozenset({
    "AssociateSoftwareToken", "ChangePassword", "ConfirmForgotPassword", "ConfirmSignUp", "ForgotPassword",
    "GetUser", "GlobalSignOut", "InitiateAuth", "ResendConfirmationCode", "RespondToAuthChallenge",
    "SetUserMFAPreference", "SignUp", "VerifySoftwareToken",
})
# S3 operations whose IAM action has another name.
S3_ACTIONS = {"ListObjectsV2": "ListBucket", "ListObjects": "ListBucket", "HeadObject": "GetObject", "HeadBucket": "ListBucket"}
# A DynamoDB transaction is authorised item by item, with these actions.
TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}

Call = tuple[str, str]  # (IAM action, the name or id of what it acts on)


def targets(service: str, operation: str, params: dict[str, Any]) -> list[Call]:
    """The IAM actions a call needs, each with the resource it names."""
    action = f"{service}:{S3_ACTIONS.get(operation, operation) if service == 's3' else operation}"
    if service == "dynamodb" and operation == "TransactWriteItems":
        return [(f"dynamodb:{TRANSACT[kind]}", spec["TableName"]) for item in params["TransactItems"] for kind, spec in item.items()]
    if service == "dynamodb" and operation.startswith("Batch"):
        return [(action, name) for name in params["RequestItems"]]
    if service == "events" and operation == "PutEvents":
        return [(action, entry.get("EventBusName", "default")) for entry in params["Entries"]]
    if service == "sqs" and "QueueUrl" in params:
        return [(action, str(params["QueueUrl"]).rsplit("/", 1)[-1])]
    for key in ("TableName", "Bucket", "UserPoolId", "SecretId", "TopicArn"):
        if key in params:
            return [(action, str(params[key]))]
    return [(action, "")]


def resources(service: str, operation: str, params: dict[str, Any], region: str, account: str,
              known: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) for each authorisation a call needs, by service and region:
    the ARN AWS authorises it against ("*" for actions that act on no resource). `known` are
    ARNs the role names, to find a secret's ARN (its random suffix) from its name, as AWS
    looks the secret up before it authorises."""
    def arn(name: str, build: str) -> str:
        return name if name.startswith("arn:") else build

    found: list[tuple[str, str]] = []
    for action, target in targets(service, operation, params):
        if service == "dynamodb" and target:
            table = arn(target, f"arn:aws:dynamodb:{region}:{account}:table/{target}")
            index = params.get("IndexName") if target == params.get("TableName") else None
            found.append((action, f"{table}/index/{index}" if index else table))
        elif service == "s3" and target:
            key = params.get("Key")
            found.append((action, f"arn:aws:s3:::{target}/{key}" if key is not None else f"arn:aws:s3:::{target}"))
        elif service == "sqs" and target:
            found.append((action, f"arn:aws:sqs:{region}:{account}:{target}"))
        elif service == "events" and target:
            found.append((action, arn(target, f"arn:aws:events:{region}:{account}:event-bus/{target}")))
        elif service == "cognito-idp" and target:
            found.append((action, f"arn:aws:cognito-idp:{region}:{account}:userpool/{target}"))
        elif service == "secretsmanager" and target:
            prefix = f"arn:aws:secretsmanager:{region}:{account}:secret:{target}-"
            named = sorted(k for k in known if k.startswith(prefix) and len(k) == len(prefix) + 6)
            found.append((action, arn(target, named[0] if named else prefix + "??????")))
        else:
            found.append((action, target if target.startswith("arn:") else "*"))
    return found


def covers(arn: str, target: str) -> bool:
    """Whether a policy resource (an ARN, maybe with a wildcard tail) names the target."""
    return arn == "*" or target == arn or bool(re.search(rf"[:/]{re.escape(target)}(/|$)", arn))


def public(action: str) -> bool:
    """Calls no IAM policy governs (made with a user's tokens or the app client)."""
    service, operation = action.split(":", 1)
    return service == "cognito-idp" and operation in COGNITO_PUBLIC
