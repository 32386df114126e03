"""handover: the templates a resource passes through as it changes stacks (delivery/takeover.py).

Pure functions over JSON templates, and the live values that stand in for a resource where
it was: `retained` (step a: Retain policies, nothing else), `detached` (step b: the holding
stack without it, its outputs gone or written out, every reference to it replaced by its
value, read through `VALUES`), `import_resource` (step c: its declaration in an `IMPORT`
change set: Retain policies and only the properties that must match the live resource), and
`refactorable` (whether one stack refactoring can do (a)-(c) at once instead).
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from .. import awstypes

RETAINED = ("Retain", "RetainExceptOnCreate")
# Imported alongside the create-only and required properties, so that step (d) leaves them
# alone: a table's key attributes and billing mode (CloudFormation's default, PROVISIONED,
# would need a throughput); a secret's value and how it is generated (added by the update,
# GenerateSecretString would give the live secret a new value); a user pool's schema (Cognito
# refuses to change an existing attribute).
IMPORT_KEEPS = {
    "AWS::DynamoDB::Table": ("AttributeDefinitions", "BillingMode", "ProvisionedThroughput"),
    "AWS::SecretsManager::Secret": ("GenerateSecretString", "SecretString"),
    "AWS::Cognito::UserPool": ("Schema",),
}
PSEUDO = ("AWS::AccountId", "AWS::NoValue", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix")


def _partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _table_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    table = client("dynamodb").describe_table(TableName=identifier)["Table"]
    found = {"Ref": identifier, "Arn": table["TableArn"]}
    return {**found, "StreamArn": table["LatestStreamArn"]} if table.get("LatestStreamArn") else found


def _bucket_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    return {"Ref": identifier, "Arn": f"arn:{_partition(region)}:s3:::{identifier}",
            "DomainName": f"{identifier}.s3.amazonaws.com", "RegionalDomainName": f"{identifier}.s3.{region}.amazonaws.com",
            "DualStackDomainName": f"{identifier}.s3.dualstack.{region}.amazonaws.com"}


def _queue_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    arn = client("sqs").get_queue_attributes(QueueUrl=identifier, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Ref": identifier, "QueueUrl": identifier, "Arn": arn, "QueueName": identifier.rsplit("/", 1)[-1]}


def _pool_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    arn = client("cognito-idp").describe_user_pool(UserPoolId=identifier)["UserPool"]["Arn"]
    provider = f"cognito-idp.{region}.amazonaws.com/{identifier}"
    return {"Ref": identifier, "UserPoolId": identifier, "Arn": arn, "ProviderName": provider, "ProviderURL": f"https://{provider}"}


def _secret_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    return {"Ref": identifier, "Id": identifier}


def _log_group_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    groups = client("logs").describe_log_groups(logGroupNamePrefix=identifier)["logGroups"]
    arn = next(g["arn"] for g in groups if g["logGroupName"] == identifier)
    return {"Ref": identifier, "Arn": arn if arn.endswith(":*") else f"{arn}:*"}  # CloudFormation's Arn ends in :*


def _bus_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    return {"Ref": identifier, "Name": identifier, "Arn": client("events").describe_event_bus(Name=identifier)["Arn"]}


def _archive_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    return {"Ref": identifier, "Arn": client("events").describe_archive(ArchiveName=identifier)["ArchiveArn"]}


def _vault_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    arn = client("backup").describe_backup_vault(BackupVaultName=identifier)["BackupVaultArn"]
    return {"Ref": identifier, "BackupVaultName": identifier, "BackupVaultArn": arn}


def _alarm_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    alarms = client("cloudwatch").describe_alarms(AlarmNames=[identifier])["MetricAlarms"]
    return {"Ref": identifier, "Arn": alarms[0]["AlarmArn"]} if alarms else {"Ref": identifier}


def _key_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    return {"Ref": identifier, "KeyId": identifier, "Arn": client("kms").describe_key(KeyId=identifier)["KeyMetadata"]["Arn"]}


def _alias_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    return {"Ref": identifier}


def _app_client_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    pool, client_id = identifier.split("|", 1)
    described = client("cognito-idp").describe_user_pool_client(UserPoolId=pool, ClientId=client_id)["UserPoolClient"]
    found = {"Ref": client_id, "ClientId": client_id, "Name": described["ClientName"]}
    return {**found, "ClientSecret": described["ClientSecret"]} if described.get("ClientSecret") else found


def _group_values(client: Callable[[str], Any], identifier: str, region: str) -> dict[str, str]:
    return {"Ref": identifier.split("|", 1)[1]}


# What Ref and Fn::GetAtt of each adoptable type return, read from the live resource: what
# stays in the old stack gets these values when the resource leaves it.
VALUES: dict[str, Callable[[Callable[[str], Any], str, str], dict[str, str]]] = {
    "AWS::DynamoDB::Table": _table_values, "AWS::S3::Bucket": _bucket_values, "AWS::SQS::Queue": _queue_values,
    "AWS::Cognito::UserPool": _pool_values, "AWS::SecretsManager::Secret": _secret_values,
    "AWS::Logs::LogGroup": _log_group_values, "AWS::Events::EventBus": _bus_values, "AWS::Events::Archive": _archive_values,
    "AWS::Backup::BackupVault": _vault_values,
    "AWS::Cognito::UserPoolGroup": _group_values, "AWS::CloudWatch::Alarm": _alarm_values,
    "AWS::KMS::Key": _key_values, "AWS::KMS::Alias": _alias_values, "AWS::Cognito::UserPoolClient": _app_client_values,
}

_SUB = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")


def references(value: Any) -> set[str]:
    """The logical ids (and parameters) a template value refers to: Ref, Fn::GetAtt, Fn::Sub."""
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if set(value) == {"Ref"} and isinstance(value["Ref"], str):
        return {value["Ref"]}
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        return {(target.split(".")[0] if isinstance(target, str) else str(target[0]))}
    if set(value) == {"Fn::Sub"}:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        return {m.group(1) for m in _SUB.finditer(text) if m.group(1) not in variables} | references(variables)
    return set().union(*(references(v) for v in value.values())) if value else set()


def _substitute(value: Any, values: Callable[[str, str], str]) -> Any:
    """`value` with each Ref, GetAtt and ${...} of a leaving resource replaced by its value
    (`values(logical, attribute)`, attribute "Ref" for Ref; KeyError: not a leaving one)."""
    if isinstance(value, list):
        return [_substitute(v, values) for v in value]
    if not isinstance(value, dict):
        return value
    try:
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            return values(value["Ref"], "Ref")
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            logical, attribute = target.split(".", 1) if isinstance(target, str) else (target[0], target[1])
            return values(logical, attribute)
    except KeyError:
        return value
    if set(value) == {"Fn::Sub"}:
        text, variables = (value["Fn::Sub"], None) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]

        def one(match: re.Match[str]) -> str:
            if variables and match.group(1) in variables:
                return match.group(0)
            try:
                return values(match.group(1), match.group(2) or "Ref")
            except KeyError:
                return match.group(0)

        text = _SUB.sub(one, text)
        return {"Fn::Sub": text if variables is None else [text, _substitute(variables, values)]}
    return {k: _substitute(v, values) for k, v in value.items()}


def custom_name(resource: dict[str, Any]) -> str | None:
    """The literal custom name a template gives a resource (awstypes `name`), or None."""
    path = awstypes.facts(resource.get("Type", "")).name
    value = (resource.get("Properties") or {}).get(path) if path else None
    return value if isinstance(value, str) else None


# Resources with no name of their own, named by another that refers to them (type -> the
# naming type, its property referring to them): a KMS key, by its alias.
NAMED_BY = {"AWS::KMS::Key": ("AWS::KMS::Alias", "TargetKeyId")}


def named_by(template: dict[str, Any], logical: str) -> str | None:
    """The name a resource without one of its own goes by: the custom name of the resource
    that names it (NAMED_BY: a key's alias), or None."""
    resources = template.get("Resources") or {}
    kind = (resources.get(logical) or {}).get("Type", "")
    if kind not in NAMED_BY:
        return None
    naming_type, property_ = NAMED_BY[kind]
    names = [custom_name(r) for _, r in sorted(resources.items())
             if r.get("Type") == naming_type and (r.get("Properties") or {}).get(property_) == {"Ref": logical}]
    return next((n for n in names if n is not None), None)


def naming(template: dict[str, Any], leaving: set[str]) -> list[str]:
    """The outputs of a template that name any of the `leaving` resources."""
    return sorted(key for key, output in (template.get("Outputs") or {}).items() if references(output) & leaving)


def detached(template: dict[str, Any], leaving: dict[str, dict[str, str] | Callable[[], dict[str, str]]],
             keep: frozenset[str] = frozenset()) -> tuple[dict[str, Any], list[str], list[str]]:
    """The template without the `leaving` resources (logical id -> their values, or a reader
    of them) and the outputs that name them, but for the outputs in `keep` (imported by other
    stacks: their values are written out, so the export stays as it is); whatever else names
    them gets their values. Returns (template, outputs removed, references left unresolved)."""
    read: dict[str, dict[str, str]] = {}
    unresolved: list[str] = []

    def values(logical: str, attribute: str) -> str:
        if logical not in leaving:
            raise KeyError(logical)
        if logical not in read:
            source = leaving[logical]
            read[logical] = source() if callable(source) else source
        if attribute not in read[logical]:
            unresolved.append(f"{logical}.{attribute}")
            raise KeyError(logical)
        return read[logical][attribute]

    resources = {}
    for logical, resource in template.get("Resources", {}).items():
        if logical in leaving:
            continue
        resource = _substitute(resource, values)
        if "DependsOn" in resource:
            needs = resource["DependsOn"] if isinstance(resource["DependsOn"], list) else [resource["DependsOn"]]
            kept = [n for n in needs if n not in leaving]
            resource = {k: v for k, v in resource.items() if k != "DependsOn"} | ({"DependsOn": kept} if kept else {})
        resources[logical] = resource
    outputs = {key: _substitute(output, values) if key in keep else output
               for key, output in (template.get("Outputs") or {}).items() if key in keep or not references(output) & set(leaving)}
    removed = sorted(set(template.get("Outputs") or {}) - set(outputs))
    result = {**template, "Resources": resources, "Outputs": outputs}
    if not outputs:
        del result["Outputs"]
    left = references({"Resources": resources, "Outputs": outputs, "Conditions": template.get("Conditions")}) & set(leaving)
    return result, removed, sorted(set(unresolved) | {f"{logical} (in a construct not rewritten)" for logical in left
                                                      if not any(u.startswith(f"{logical}.") for u in unresolved)})


def _imports(value: Any) -> bool:
    """Whether a value reads another stack's export (not resolvable in an import)."""
    if isinstance(value, dict):
        return "Fn::ImportValue" in value or any(_imports(v) for v in value.values())
    return isinstance(value, list) and any(_imports(v) for v in value)


def retained(template: dict[str, Any], logical_ids: list[str]) -> dict[str, Any] | None:
    """The template with Retain policies on `logical_ids`; None when they already have them."""
    resources = template["Resources"]
    if all(resources[r].get("DeletionPolicy") in RETAINED and resources[r].get("UpdateReplacePolicy") == "Retain"
           for r in logical_ids):
        return None
    return {**template, "Resources": {logical: ({**resource, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
                                                if logical in logical_ids else resource)
                                      for logical, resource in resources.items()}}


def import_resource(resource: dict[str, Any], region: str, present: frozenset[str] = frozenset()) -> tuple[
        dict[str, Any], list[str]]:
    """How a resource of generated/ is declared in an IMPORT change set: Retain policies and
    the properties that must match the live resource. Returns it and the properties that
    cannot be imported as declared: they refer to something the import's template will not
    hold (`present`: its resources and parameters; pseudo parameters always resolve)."""
    type_ = resource["Type"]
    keep = awstypes.create_only(type_, region) | awstypes.required(type_, region) | set(IMPORT_KEEPS.get(type_, ()))
    names = {path.split(".")[0] for path in awstypes.name_paths(type_)}
    props = {k: v for k, v in resource.get("Properties", {}).items() if k in keep or k in names}
    if type_ == "AWS::DynamoDB::Table":  # only the attributes of the keys kept (CloudFormation checks the count)
        used = {k["AttributeName"] for k in props.get("KeySchema", [])} | {
            k["AttributeName"] for index in props.get("LocalSecondaryIndexes", []) for k in index["KeySchema"]}
        props["AttributeDefinitions"] = [a for a in props.get("AttributeDefinitions", []) if a["AttributeName"] in used]
    computed = sorted(k for k, v in props.items() if references(v) - present - set(PSEUDO) or _imports(v))
    return {"Type": type_, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": props}, computed


# A resource moved by stack refactoring keeps its template as it is; it cannot carry these
# (what the destination's value differs in), nor go where the template uses them.
_STACK_PSEUDO = ("AWS::StackName", "AWS::StackId")


def refactorable(template: dict[str, Any], leaving: dict[str, tuple[str, str]],
                 destinations: dict[str, dict[str, Any]]) -> str | None:
    """None when one CloudFormation stack refactoring can move the `leaving` resources of
    `template` (logical id there -> the destination stack's name, their logical id there) into `destinations` (stack
    name -> its deployed template, absent for a stack not deployed yet); else why not.

    A refactoring "does not allow new resource creations, resource deletions, or changes to
    resource configurations", nor new parameters, conditions or mappings; no stack may end up
    empty; at most five stacks take part (CloudFormation User Guide, "Stack refactoring").
    So: nothing that stays refers to what leaves (it would change), and what leaves refers
    to nothing but pseudo parameters that mean the same in any stack."""
    resources = template.get("Resources") or {}
    moved = set(leaving)
    if "Transform" in template:
        return "the holding stack uses a transform"
    stacks = {stack for stack, _ in leaving.values()}
    if missing := sorted(stacks - set(destinations)):
        return f"{', '.join(missing)} is not deployed yet"
    if len(stacks) > 4:
        return "more than five stacks would take part"
    if not set(resources) - moved:
        return "the holding stack would be left empty"
    if naming(template, moved):
        return "outputs of the holding stack name what leaves"
    if referring := sorted(k for k, v in resources.items() if k not in moved and references(v) & moved):
        return f"{', '.join(referring)} refer(s) to what leaves"
    for logical in sorted(leaving):
        resource = resources[logical]
        if "Condition" in resource or references({k: v for k, v in resource.items() if k != "DependsOn"}) - (
                set(PSEUDO) - set(_STACK_PSEUDO)) or resource.get("DependsOn") or any(
                p in json.dumps(resource) for p in _STACK_PSEUDO):  # ${AWS::StackName} in a Sub too
            return f"{logical} refers to other resources, parameters or conditions of the holding stack"
    taken = sorted(f"{stack}/{logical}" for stack, logical in leaving.values()
                   if logical in (destinations[stack].get("Resources") or {}))
    return f"{', '.join(taken)} is taken" if taken else None
