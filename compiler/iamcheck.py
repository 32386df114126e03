"""iamcheck: whether a function's role allows the AWS calls it makes — the check the local
platform applies to every call a handler makes, and the handler contract tests reuse.

A call is (IAM action, the name or id of what it acts on); a role is its policy statements
(actions, resource ARNs) as deployed. The mapping from an API call to its IAM actions is the
part AWS documents per service; the cases the handlers use are listed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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


def covers(arn: str, target: str) -> bool:
    """Whether a policy resource (an ARN, maybe with a wildcard tail) names the target."""
    return arn == "*" or target == arn or bool(re.search(rf"[:/]{re.escape(target)}(/|$)", arn))


def public(action: str) -> bool:
    """Calls no IAM policy governs (made with a user's tokens or the app client)."""
    service, operation = action.split(":", 1)
    return service == "cognito-idp" and operation in COGNITO_PUBLIC


@dataclass
class Role:
    """A function's permissions: (actions, resource ARNs) per Allow statement."""

    statements: list[tuple[set[str], list[str]]] = field(default_factory=list)

    @classmethod
    def from_documents(cls, documents: list[dict[str, Any]]) -> "Role":
        statements = []
        for document in documents:
            for statement in document.get("Statement", []):
                if statement.get("Effect", "Allow") != "Allow":
                    continue
                actions = statement.get("Action", [])
                resources = statement.get("Resource", [])
                statements.append((set([actions] if isinstance(actions, str) else actions),
                                   [str(r) for r in ([resources] if isinstance(resources, str) else resources)]))
        return cls(statements)

    @property
    def granted(self) -> set[str]:
        return {action for actions, _ in self.statements for action in actions}

    def allows(self, call: Call) -> bool:
        action, target = call
        return public(action) or any(action in actions and any(covers(arn, target) for arn in arns)
                                     for actions, arns in self.statements)

    def denial(self, call: Call) -> str | None:
        """Why the role refuses the call (AWS's AccessDenied, in words), or None."""
        if self.allows(call):
            return None
        action, target = call
        if action not in self.granted:
            return f"the role does not allow {action}"
        return f"the role allows {action} only on other resources, not on {target or 'this resource'}"
