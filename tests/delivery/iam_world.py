"""A stage's generated templates as IAM sees them once deployed: intrinsic functions resolved
to the ARNs CloudFormation would give (ids AWS picks are made up, one per resource), and the
tags each resource carries, for `aws:ResourceTag/...` conditions.

Only what the compiler emits is resolved; anything else raises, so a new kind of value shows
up as a failing test rather than as a request that silently matches nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
PARTITION = "aws"

# resource type -> (ARN template, property holding the name); {r} region, {a} account, {n} name
ARNS = {
    "AWS::DynamoDB::Table": ("arn:aws:dynamodb:{r}:{a}:table/{n}", "TableName"),
    "AWS::SQS::Queue": ("arn:aws:sqs:{r}:{a}:{n}", "QueueName"),
    "AWS::S3::Bucket": ("arn:aws:s3:::{n}", "BucketName"),
    "AWS::Events::EventBus": ("arn:aws:events:{r}:{a}:event-bus/{n}", "Name"),
    "AWS::Cognito::UserPool": ("arn:aws:cognito-idp:{r}:{a}:userpool/{r}_{n}", None),
    "AWS::SecretsManager::Secret": ("arn:aws:secretsmanager:{r}:{a}:secret:{n}-AbCdEf", "Name"),
    "AWS::Logs::LogGroup": ("arn:aws:logs:{r}:{a}:log-group:{n}:*", "LogGroupName"),
    "AWS::KMS::Key": ("arn:aws:kms:{r}:{a}:key/{n}", None),
    "AWS::SNS::Topic": ("arn:aws:sns:{r}:{a}:{n}", "TopicName"),
    "AWS::IAM::Role": ("arn:aws:iam::{a}:role/{n}", "RoleName"),
    "AWS::IAM::ManagedPolicy": ("arn:aws:iam::{a}:policy/{n}", "ManagedPolicyName"),
    "AWS::Lambda::Function": ("arn:aws:lambda:{r}:{a}:function:{n}", "FunctionName"),
    "AWS::Backup::BackupVault": ("arn:aws:backup:{r}:{a}:backup-vault:{n}", "BackupVaultName"),
}
REF_IS_ARN = {"AWS::SecretsManager::Secret", "AWS::SNS::Topic", "AWS::IAM::ManagedPolicy"}


@dataclass
class Stage:
    root: Path  # generated/<stage>
    manifest: dict[str, Any] = field(init=False)
    templates: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.manifest = json.loads((self.root / "manifest.json").read_text())
        self.templates = {stack: json.loads((self.root / entry["template"]).read_text())
                          for stack, entry in self.manifest["stacks"].items()}

    @property
    def boundary(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:policy/{self.manifest['service']}-{self.manifest['stage']}-boundary"

    def region(self, stack: str) -> str:
        return str(self.manifest["stacks"][stack]["region"])

    def resources(self, type_: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(stack, logical id, resource) of every resource of one type."""
        return [(stack, logical, resource) for stack, template in sorted(self.templates.items())
                for logical, resource in sorted(template.get("Resources", {}).items()) if resource["Type"] == type_]

    def arn(self, stack: str, logical: str) -> str:
        resource = self.templates[stack]["Resources"][logical]
        pattern, name_property = ARNS[resource["Type"]]
        name = self.value(stack, resource["Properties"][name_property]) if name_property else logical.lower()
        return pattern.format(r=self.region(stack), a=ACCOUNT, n=name)

    def tags(self, stack: str, logical: str) -> dict[str, str]:
        props = self.templates[stack]["Resources"][logical].get("Properties", {})
        for key in ("Tags", "UserPoolTags", "KeyTags"):
            tags = props.get(key)
            if isinstance(tags, list):
                return {t["Key"]: t["Value"] for t in tags}
            if isinstance(tags, dict):
                return dict(tags)
        return {}

    def target(self, stack: str, value: Any) -> tuple[str, str] | None:
        """(stack, logical id) of the resource a value names, when it names one."""
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return stack, value["Fn::GetAtt"][0]
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in self.templates[stack].get("Resources", {}):
            return stack, value["Ref"]
        if isinstance(value, dict) and "Fn::ImportValue" in value:
            export = self.manifest["exports"][value["Fn::ImportValue"]]
            producer = export["producer"]
            return self.target(producer, self.templates[producer]["Outputs"][export["output"]]["Value"])
        if isinstance(value, dict) and "Ref" in value:  # a cross-region parameter deploy fills
            parameter = self.manifest["stacks"][stack]["parameters"][value["Ref"]]
            producer = parameter["from_stack"]
            return self.target(producer, self.templates[producer]["Outputs"][parameter["output"]]["Value"])
        if isinstance(value, dict) and "Fn::Join" in value:
            return next((t for part in value["Fn::Join"][1] if (t := self.target(stack, part))), None)
        return None

    def value(self, stack: str, value: Any) -> Any:
        """A template value as deployed."""
        if isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, list):
            return [self.value(stack, v) for v in value]
        if not (len(value) == 1 and (next(iter(value)).startswith("Fn::") or "Ref" in value)):
            return {k: self.value(stack, v) for k, v in value.items()}
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            return (value["Fn::Sub"].replace("${AWS::Partition}", PARTITION).replace("${AWS::AccountId}", ACCOUNT)
                    .replace("${AWS::Region}", self.region(stack)))
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.value(stack, p)) for p in parts)
        if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
            return self.arn(stack, value["Fn::GetAtt"][0])
        if "Fn::ImportValue" in value:
            export = self.manifest["exports"][value["Fn::ImportValue"]]
            return self.value(export["producer"], self.templates[export["producer"]]["Outputs"][export["output"]]["Value"])
        if "Ref" in value:
            ref, resources = value["Ref"], self.templates[stack].get("Resources", {})
            if ref == "AWS::AccountId":
                return ACCOUNT
            if ref in resources:
                type_ = resources[ref]["Type"]
                return self.arn(stack, ref) if type_ in REF_IS_ARN else self.value(stack, resources[ref]["Properties"][ARNS[type_][1]])
            parameter = self.manifest["stacks"][stack]["parameters"][ref]  # a cross-region value deploy fills
            return self.value(parameter["from_stack"], self.templates[parameter["from_stack"]]["Outputs"][parameter["output"]]["Value"])
        raise ValueError(f"{stack}: cannot resolve {json.dumps(value)[:200]}")


def policy_documents(stage: Stage, stack: str, role: dict[str, Any]) -> list[dict[str, Any]]:
    """A role's identity policies as IAM reads them, resolved: its inline policies and the
    managed policies of its stack attached to it (`ManagedPolicyArns`: Refs)."""
    props, resources = role["Properties"], stage.templates[stack]["Resources"]
    attached = [resources[arn["Ref"]]["Properties"]["PolicyDocument"] for arn in props.get("ManagedPolicyArns", [])
                if isinstance(arn, dict) and resources.get(arn.get("Ref"), {}).get("Type") == "AWS::IAM::ManagedPolicy"]
    return [stage.value(stack, document) for document in [*(p["PolicyDocument"] for p in props.get("Policies", [])), *attached]]
