"""motopatch: CloudFormation behaviours moto 5.2.5 lacks, added inside the moto server's process.

A take-over (delivery/takeover.py) relies on these things CloudFormation does and moto does
not. Each patch below names the limitation it works around, and
does what CloudFormation documents, no more:

- `retain_on_removal`: an update that removes a resource whose DeletionPolicy is `Retain`
  (or `RetainExceptOnCreate`) leaves the resource in place, outside the stack; moto deletes it.
- `import_change_sets`: an `IMPORT` change set into an existing stack imports into that stack
  (moto makes a second stack of the same name; a stack no change set was executed on, left
  REVIEW_IN_PROGRESS, is imported into anew). It is refused at creation, as CloudFormation
  refuses it, when it would change a resource the stack holds, change the outputs ("As part of
  the import operation, you cannot modify or add [Outputs]"), or add a resource without a
  DeletionPolicy or that does not exist. Its execution makes the existing physical resource
  join the stack with its data (moto would create it again: "Table already exists"). moto
  ignores `ResourcesToImport`: the resource is found by the template's name property, which
  CloudFormation requires to match the identifier imported (a KMS key, which has no name, by
  the alias the same template gives it).
- `keep_on_update`: an update that changes a resource whose type moto cannot update in place
  (AWS::DynamoDB::Table, AWS::KMS::Key) keeps it in the stack, as it is; moto drops it from the stack's
  resources (it records None). What the update changes in it is then made, or refused, by
  the deployer (compiler/local/inplace.py), never left unsaid.
- `key_policy_text`: a KMS key a template creates holds its key policy as JSON text, as KMS
  keeps it; moto keeps the template's object, and every later KMS call on the key (DescribeKey,
  Encrypt) fails reading it.
- a stack an `IMPORT` change set creates resolves `Fn::ImportValue` in its later updates
  (moto gives a stack made by a change set no exports to read).
- outputs on change sets (in `import_change_sets`' execution, for every change set): it refreshes the stack's outputs and the
  region's exports, as `UpdateStack` does; moto registers them only when it creates a stack.

`apply()` installs them once per process: the local server (`python -m compiler.local.motopatch`,
started by `local.emulator.start`) and the tests' in-process server call it before serving.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from ..delivery.handover import named_by

RETAINED = ("Retain", "RetainExceptOnCreate")


def _existing(type_: str, props: dict[str, Any], account: str, region: str, named_by: str | None = None) -> Any:
    """The moto object of an existing resource of `type_` named as `props` name it, or (a KMS
    key, which has no name) as `named_by`, the alias the template gives it, names it (KeyError,
    or moto's own not-found error, when there is none)."""
    if type_ in ("AWS::KMS::Key", "AWS::KMS::Alias"):
        from moto.kms.models import kms_backends

        kms = kms_backends[account][region]
        alias = props["AliasName"] if type_ == "AWS::KMS::Alias" else named_by or ""
        key = kms.keys[kms.get_key_id_from_alias(alias) or ""]  # KeyError: no such alias
        return key.aliases[alias] if type_ == "AWS::KMS::Alias" else key
    if type_ == "AWS::DynamoDB::Table":
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[account][region].get_table(props["TableName"])
    if type_ == "AWS::S3::Bucket":
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        return s3_backends[account][get_partition(region)].get_bucket(props["BucketName"])
    if type_ == "AWS::SQS::Queue":
        from moto.sqs.models import sqs_backends

        return sqs_backends[account][region].get_queue(props["QueueName"])
    if type_ == "AWS::Logs::LogGroup":
        from moto.logs.models import logs_backends

        return logs_backends[account][region].groups[props["LogGroupName"]]
    if type_ == "AWS::Events::EventBus":
        from moto.events.models import events_backends

        return events_backends[account][region].event_buses[props["Name"]]
    if type_ == "AWS::Events::Archive":
        from moto.events.models import events_backends

        return events_backends[account][region].archives[props["ArchiveName"]]
    raise KeyError(f"the emulator cannot import {type_}")


def retain_on_removal() -> None:
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap._delete_resource

    def _delete_resource(self: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
        if resource_json.get("DeletionPolicy") in RETAINED:
            return  # CloudFormation leaves it, outside the stack
        original(self, parsed_resource, resource_json)

    ResourceMap._delete_resource = _delete_resource  # type: ignore[method-assign]


def keep_on_update() -> None:
    from moto.cloudformation import parsing

    original = parsing.parse_and_update_resource

    def parse_and_update_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                                  account_id: str, region_name: str) -> Any:
        updated = original(logical_id, resource_json, resources_map, account_id, region_name)
        if updated is None and logical_id in resources_map._parsed_resources:
            return resources_map._parsed_resources[logical_id]  # not updatable by moto: kept as it is
        return updated

    parsing.parse_and_update_resource = parse_and_update_resource


def key_policy_text() -> None:
    import json

    from moto.kms.models import Key

    create = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        key = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        if not isinstance(key.policy, str):
            key.policy = json.dumps(key.policy)
        return key

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment,arg-type]


def import_change_sets() -> None:
    from moto.cloudformation import models
    from moto.cloudformation.exceptions import ValidationError

    backend = models.CloudFormationBackend
    create, execute = backend.create_change_set, backend.execute_change_set

    def create_change_set(self: Any, stack_name: str, change_set_name: str, template: str, parameters: dict[str, str],
                          description: str, change_set_type: str, *args: Any, **kwargs: Any) -> tuple[str, str]:
        if change_set_type != "IMPORT":
            return create(self, stack_name, change_set_name, template, parameters, description, change_set_type,
                          *args, **kwargs)
        live = [s for s in self.stacks.values() if s.name == stack_name and s.status != "REVIEW_IN_PROGRESS"]
        for stale in [i for i, s in self.stacks.items() if s.name == stack_name and s.status == "REVIEW_IN_PROGRESS"]:
            del self.stacks[stale]  # a stack no change set was executed on holds nothing: imported into anew
        body = models.Stack.parse_template(template)  # JSON or YAML, as moto reads templates
        old = live[0].template_dict if live else {}
        added = [k for k in body.get("Resources", {}) if k not in old.get("Resources", {})]
        changed = [k for k, v in old.get("Resources", {}).items() if body.get("Resources", {}).get(k) != v]
        if changed:
            raise ValidationError(message="As part of the import operation, you cannot modify or delete resources: "
                                          + ", ".join(sorted(changed)))
        if (body.get("Outputs") or {}) != (old.get("Outputs") or {}):
            raise ValidationError(message="As part of the import operation, you cannot modify or add [Outputs]")
        for logical in added:
            resource = body["Resources"][logical]
            if "DeletionPolicy" not in resource:
                raise ValidationError(message=f"The following resource(s) are missing a DeletionPolicy: {logical}")
            try:
                _existing(resource["Type"], resource.get("Properties", {}), self.account_id, self.region_name,
                          named_by(body, logical))
            except Exception:  # noqa: BLE001 - moto's not-found errors differ per service
                raise ValidationError(message=f"Resource {logical} of type {resource['Type']} to import does not "
                                              "exist, or the emulator cannot import that type") from None
        change_set_id, stack_id = create(self, stack_name, change_set_name, template, parameters, description,
                                         "UPDATE" if live else "IMPORT", *args, **kwargs)
        change_set = self.change_sets[change_set_id]
        # a stack moto makes for a change set resolves no Fn::ImportValue (create_stack passes
        # the region's exports; CreateChangeSet does not): given them, as CloudFormation has them
        change_set.stack.cross_stack_resources = change_set.stack.resource_map.cross_stack_resources = self.exports
        change_set.change_set_type = "IMPORT"
        change_set.status, change_set.execution_status, change_set.status_reason = "CREATE_COMPLETE", "AVAILABLE", None
        return change_set_id, stack_id

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        if change_set.change_set_type == "IMPORT":
            resources = stack.resource_map
            for logical in resources.build_resource_diff(change_set.template_dict)["Add"]:
                resource = change_set.template_dict["Resources"][logical]
                joined = _existing(resource["Type"], resource.get("Properties", {}), self.account_id, self.region_name,
                                   named_by(change_set.template_dict, logical))
                joined.logical_resource_id = logical
                joined.cf_resource_type = resource["Type"]
                resources._parsed_resources[logical] = joined  # joins the stack as it is: nothing created
        execute(self, change_set_name, stack_name)
        # outputs_on_change_sets: the stack's outputs and the region's exports, as UpdateStack leaves them
        stack._parse_template()  # moto sets the stack's template text, not its parsed form
        stack.output_map = stack._create_output_map()
        # a snapshot (copied in one C call): moto's server runs requests in threads, and deploy
        # executes the change sets of one level at once, so another stack's exports may change
        # while these are read ("OrderedDict mutated during iteration" in a filtered loop)
        for name in [n for n, e in list(self.exports.items()) if e.exporting_stack_id == stack.stack_id]:
            del self.exports[name]
        for export in stack.exports:
            self.exports[export.name] = export

    backend.create_change_set = create_change_set  # type: ignore[method-assign]
    backend.execute_change_set = execute_change_set  # type: ignore[method-assign]


PATCHES: tuple[Callable[[], None], ...] = (retain_on_removal, keep_on_update, key_policy_text, import_change_sets)
_applied = False


def apply() -> None:
    """Install every patch (once per process)."""
    global _applied
    if not _applied:
        for patch in PATCHES:
            patch()
        _applied = True


if __name__ == "__main__":  # the local server: moto's, patched
    apply()
    from moto.server import main

    main(sys.argv[1:])
