"""New and renamed roles (compiler/review/principals.py): a rename keeps its access and is a
note; a new role reaching an admin or destructive level is BROADENS, naming level and data."""

from __future__ import annotations

from typing import Any

from compiler.review.principals import NEW_PRINCIPAL, RENAMED_PRINCIPAL, judge

POOL = {"Fn::ImportValue": "listbackup-prod-user-pool-main:arn"}
TABLE = {"Fn::ImportValue": "listbackup-prod-table-users:arn"}


def _role(name: str, statements: list[dict[str, Any]], service: str = "lambda.amazonaws.com") -> dict[str, Any]:
    return {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": name,
        "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "access", "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": [{"Fn::GetAtt": [f"{name}Logs", "Arn"]}]},
            *statements]}}]}}


def _function(logical: str, role: str, name: str) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": name, "Role": {"Fn::GetAtt": [role, "Arn"]}}}


ADMIN = {"Effect": "Allow", "Action": ["cognito-idp:AdminCreateUser", "cognito-idp:AdminDeleteUser", "cognito-idp:ListUsers"],
         "Resource": [POOL]}
READ = {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": [TABLE]}


def _template(roles: dict[str, Any], functions: bool) -> dict[str, Any]:
    """The roles, each with its log group, and (`functions`) a function that runs with it."""
    resources = {**roles, **{f"{k}Logs": {"Type": "AWS::Logs::LogGroup"} for k in roles}}
    if functions:
        resources.update({f"{k}Function": _function(f"{k}Function", k, f"listbackup-prod-{k.lower()}") for k in roles})
    return {"api": {"Resources": resources}}


def _judge(added: dict[str, Any], removed: dict[str, Any], functions: bool = True) -> dict[tuple[str, str], Any]:
    return judge({("api", k): v for k, v in added.items()}, {("api", k): v for k, v in removed.items()},
                 _template(added, functions), _template(removed, functions))


def test_a_new_function_with_admin_rights_is_a_risk_naming_the_level_and_the_data() -> None:
    found = _judge({"InvoicesX": _role("InvoicesX", [ADMIN, READ])}, {})
    finding = found[("api", "InvoicesX")]
    assert (finding.verdict, finding.cause) == ("BROADENS", NEW_PRINCIPAL)
    assert finding.message.startswith("new function listbackup-prod-invoicesx gets user-pool:main admin (")
    assert "cognito-idp:AdminCreateUser" in finding.message and "ListUsers" not in finding.message


def test_plain_read_and_write_of_a_new_function_stays_informational() -> None:
    assert _judge({"Reader": _role("Reader", [READ])}, {}) == {}


def test_a_renamed_function_keeps_its_access_as_a_note() -> None:
    found = _judge({"UsersRemove": _role("UsersRemove", [ADMIN])}, {"UsersDelete": _role("UsersDelete", [ADMIN])})
    finding = found[("api", "UsersRemove")]
    assert (finding.verdict, finding.cause) == ("", RENAMED_PRINCIPAL)
    assert "new function listbackup-prod-usersremove renamed from UsersDelete: keeps its access" in finding.message
    more = _judge({"UsersRemove": _role("UsersRemove", [ADMIN, READ])}, {"UsersDelete": _role("UsersDelete", [ADMIN])})
    assert more[("api", "UsersRemove")].cause == NEW_PRINCIPAL  # renamed with more access: judged as new


def test_iam_writes_destructive_actions_and_decryption_by_other_roles_are_risks() -> None:
    role = _role("Ops", [{"Effect": "Allow", "Action": ["iam:PassRole", "iam:GetRole", "dynamodb:DeleteTable", "kms:Decrypt"],
                          "Resource": [TABLE]}], service="codebuild.amazonaws.com")
    message = _judge({"Ops": role}, {}, functions=False)[("api", "Ops")].message
    assert message.startswith("new role Ops gets ")
    for part in ("IAM writes on table:users", "table:users (deletes the table)", "decryption with table:users"):
        assert part in message, message
    function = _role("Fn", [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": ["arn:aws:kms:r:1:key/k"]}])
    assert _judge({"Fn": function}, {}) == {}  # every function decrypts its own environment with the stage key
