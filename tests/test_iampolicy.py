"""IAM's evaluation logic, case by case (IAM User Guide: policy evaluation logic, condition
operators): what the boundary and execution-role tests rely on."""

from __future__ import annotations

from typing import Any

import pytest

from compiler.iampolicy import Request, allowed, decide

ROLE = "arn:aws:iam::123456789012:role/app-dev-x"
BOUNDARY = "arn:aws:iam::123456789012:policy/app-dev-boundary"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_BOUNDED = {"Effect": "Allow", "Action": ["iam:CreateRole"], "Resource": ["arn:aws:iam::123456789012:role/app-dev-*"],
                 "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}}}
DENY_UNBOUNDED = {"Effect": "Deny", "Action": "iam:*Role*", "Resource": "*",
                  "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY}}}

CASES = [
    # (id, statements, request, decision)
    ("allow-matches", [ALLOW_BOUNDED], Request("iam:CreateRole", ROLE, {"iam:PermissionsBoundary": BOUNDARY}), "allow"),
    ("action-is-case-insensitive", [ALLOW_BOUNDED], Request("IAM:createrole", ROLE, {"iam:permissionsboundary": BOUNDARY}), "allow"),
    ("missing-key-fails-a-positive-operator", [ALLOW_BOUNDED], Request("iam:CreateRole", ROLE), "implicit"),
    ("missing-key-holds-a-negated-operator", [DENY_UNBOUNDED], Request("iam:CreateRole", ROLE), "deny"),
    ("deny-wins", [ALLOW_BOUNDED, DENY_UNBOUNDED], Request("iam:CreateRole", ROLE, {"iam:PermissionsBoundary": "other"}), "deny"),
    ("resource-is-case-sensitive", [ALLOW_BOUNDED], Request("iam:CreateRole", ROLE.upper(), {"iam:PermissionsBoundary": BOUNDARY}),
     "implicit"),
    ("another-prefix", [ALLOW_BOUNDED], Request("iam:CreateRole", ROLE.replace("app-dev", "app-prod"),
                                                 {"iam:PermissionsBoundary": BOUNDARY}), "implicit"),
    ("values-of-a-key-are-ored", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                   "Condition": {"StringEquals": {"aws:ResourceTag/Stage": ["dev", "prod"]}}}],
     Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:ResourceTag/Stage": "prod"}), "allow"),
    ("operators-are-anded", [{"Effect": "Allow", "Action": "kms:TagResource", "Resource": "*",
                              "Condition": {"StringEquals": {"aws:RequestTag/Stage": "dev"}, "Null": {"aws:ResourceTag/Stage": "true"}}}],
     Request("kms:TagResource", "arn:aws:kms:us-west-2:1:key/k", {"aws:RequestTag/Stage": "dev", "aws:ResourceTag/Stage": "prod"}),
     "implicit"),
    ("null-true-when-absent", [{"Effect": "Allow", "Action": "kms:TagResource", "Resource": "*",
                                "Condition": {"Null": {"aws:ResourceTag/Stage": "true"}}}],
     Request("kms:TagResource", "arn:aws:kms:us-west-2:1:key/k"), "allow"),
    ("if-exists-holds-when-absent", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                      "Condition": {"StringEqualsIfExists": {"s3:prefix": "a"}}}],
     Request("s3:GetObject", "arn:aws:s3:::b/k"), "allow"),
    ("arn-like", [{"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": "*",
                   "Condition": {"ArnLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/AWSBackup*"}}}],
     Request("iam:AttachRolePolicy", ROLE, {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}), "implicit"),
    ("not-action", [{"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}], Request("iam:CreateRole", ROLE), "deny"),
    ("not-resource", [{"Effect": "Allow", "Action": "*", "NotResource": ROLE}], Request("iam:CreateRole", ROLE), "implicit"),
    ("for-any-value", [{"Effect": "Allow", "Action": "iam:TagRole", "Resource": "*",
                        "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["Stage"]}}}],
     Request("iam:TagRole", ROLE, {"aws:TagKeys": ["Owner", "Stage"]}), "allow"),
    ("for-all-values", [{"Effect": "Allow", "Action": "iam:TagRole", "Resource": "*",
                         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["Stage"]}}}],
     Request("iam:TagRole", ROLE, {"aws:TagKeys": ["Owner", "Stage"]}), "implicit"),
]


@pytest.mark.parametrize(("statements", "request_", "decision"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(statements: list[dict[str, Any]], request_: Request, decision: str) -> None:
    assert decide([_doc(*statements)], request_) == decision


def test_a_boundary_cuts_what_the_identity_allows() -> None:
    identity = _doc({"Effect": "Allow", "Action": ["s3:GetObject", "iam:CreateRole"], "Resource": "*"})
    boundary = _doc({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::app-dev-*"})
    assert allowed([identity], Request("s3:GetObject", "arn:aws:s3:::app-dev-data/k"), boundary)
    assert not allowed([identity], Request("s3:GetObject", "arn:aws:s3:::app-prod-data/k"), boundary)
    assert not allowed([identity], Request("iam:CreateRole", ROLE), boundary)


def test_an_unknown_operator_is_never_passed() -> None:
    policy = _doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": "2030"}}})
    with pytest.raises(ValueError, match="DateLessThan"):
        decide([policy], Request("s3:GetObject", "*", {"aws:CurrentTime": "2026"}))


@pytest.mark.usefixtures("local_credentials")
def test_the_local_platforms_call_check_reads_policies_as_iam_does(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """compiler/local/runtime.py's guard (what every worker installs) on real calls to the moto
    server: an explicit Deny wins, a condition must hold, the resource ARN carries the
    client's region, and the permissions boundary caps what the role allows."""
    import boto3
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    from compiler.local import runtime

    def client(service: str, region: str = "us-west-2") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint)

    for name in ("guard-notes", "guard-audit"):
        client("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[
            {"AttributeName": "id", "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    queue = client("sqs").create_queue(QueueName="guard-queue")["QueueUrl"]
    policies = [_doc(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
         "Resource": ["arn:aws:dynamodb:us-west-2:123456789012:table/guard-*"]},
        {"Effect": "Deny", "Action": "dynamodb:PutItem", "Resource": "arn:aws:dynamodb:*:*:table/guard-audit"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}})]
    item = {"id": {"S": "1"}}

    def outcome(call: Any) -> str:
        try:
            call()
            return "allowed"
        except ClientError as exc:
            message = exc.response["Error"]["Message"]
            return message.rsplit("(", 1)[-1].rstrip(")") if "not authorized" in message else message

    original = BaseClient._make_api_call
    monkeypatch.setattr(BaseClient, "_make_api_call", original)  # the guard's patch ends with the test
    runtime._guard(policies, _doc({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}), "fn", "123456789012")
    assert outcome(lambda: client("dynamodb").put_item(TableName="guard-notes", Item=item)) == "allowed"
    assert outcome(lambda: client("dynamodb").put_item(TableName="guard-audit", Item=item)) == "an explicit Deny"
    assert outcome(lambda: client("dynamodb", "us-east-1").get_item(TableName="guard-notes", Key=item)) == \
        "no statement that allows it"  # the ARN of us-east-1's table
    assert outcome(lambda: client("sqs").send_message(QueueUrl=queue, MessageBody="x")) == "no statement that allows it"

    monkeypatch.setattr(BaseClient, "_make_api_call", original)  # a second worker: a narrower boundary
    runtime._guard(policies, _doc({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}), "fn", "123456789012")
    assert outcome(lambda: client("dynamodb").put_item(TableName="guard-notes", Item=item)) == "its permissions boundary"
