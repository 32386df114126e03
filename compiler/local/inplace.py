"""inplace: updates moto's CloudFormation cannot apply, done as CloudFormation would, or refused.

moto 5.2.5 updates no DynamoDB table (nor KMS key) in a stack: its model has no update, and
motopatch's `keep_on_update` keeps the resource as it was. Left there, `platformc up` would
print "updated" while the local table kept its old key or indexes. Before each update of a
stack on the emulator, `plan` compares the deployed and the new declaration of every such
resource:

- a change CloudFormation can only make by replacing the resource (a create-only property,
  a key attribute's type) is refused: with a custom name, which every resource the compiler
  emits has, CloudFormation fails that update too ("CloudFormation cannot update a stack when
  a custom-named resource requires replacing"); the refusal says so and how to start the
  local stage anew;
- a table's in-place changes are applied through DynamoDB's API after the stack update
  (`Plan.apply`), from what DynamoDB says the table is (an imported table's template declares
  little): an index created or deleted (deploy already splits them one per update, as
  CloudFormation needs), its stream, time to live, point-in-time recovery, billing mode and
  deletion protection;
- anything else the emulator cannot apply is named in the deploy's output, never passed over.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import awstypes
from ..review.properties import property_changes
from ..review.updates import key_type_changes

TABLE = "AWS::DynamoDB::Table"
# Table properties applied through DynamoDB's API after a stack update (the rest: named, not applied)
TABLE_APPLIED = ("GlobalSecondaryIndexes", "AttributeDefinitions", "StreamSpecification", "TimeToLiveSpecification",
                 "PointInTimeRecoverySpecification", "BillingMode", "ProvisionedThroughput", "DeletionProtectionEnabled")
START_AGAIN = "`platformc down` then `platformc up` starts the local stage anew (its data is lost)"


@functools.cache
def unupdatable() -> frozenset[str]:
    """Resource types moto's CloudFormation models but cannot update in place."""
    from moto.cloudformation.parsing import get_model_map

    return frozenset(kind for kind, model in get_model_map().items()
                     if hasattr(model.update_from_cloudformation_json, "__isabstractmethod__"))


@dataclass
class Plan:
    refused: list[str] = field(default_factory=list)  # what CloudFormation would fail (or replace)
    tables: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (name, new properties)
    unapplied: list[str] = field(default_factory=list)  # in-place changes the emulator does not make

    def apply(self, client: Callable[[str], Any]) -> list[str]:
        """The tables' in-place changes through DynamoDB's API; lines saying what was done."""
        done = []
        for name, new in self.tables:
            done += _converge_table(client("dynamodb"), name, new)
        return done + [f"not applied on the emulator: {what}" for what in self.unapplied]


def plan(deployed: dict[str, Any], new: dict[str, Any], region: str) -> Plan:
    """What an update from `deployed` to `new` needs beyond moto's own update."""
    result = Plan()
    old_resources, new_resources = deployed.get("Resources") or {}, new.get("Resources") or {}
    for logical in sorted(set(old_resources) & set(new_resources)):
        before, after = old_resources[logical], new_resources[logical]
        kind = after.get("Type")
        if kind != before.get("Type") or kind not in unupdatable():
            continue
        old, now = before.get("Properties") or {}, after.get("Properties") or {}
        changed = sorted({path.split(".")[0].split("[")[0] for path, _, _ in property_changes(old, now)})
        if not changed:
            continue
        replacing = [p for p in changed if p in awstypes.create_only(kind, region)]
        if kind == TABLE:
            replacing += [f"key type {change}" for change in key_type_changes(old, now)]
        if replacing:
            named = "a custom-named" if awstypes.facts(kind).name in now else "a"
            result.refused.append(
                f"{logical} ({kind}) would be replaced ({', '.join(replacing)}): CloudFormation fails such an update of "
                f"{named} resource and rolls it back, and the emulator cannot replace it either: nothing was changed; "
                f"{START_AGAIN}")
        elif kind == TABLE:
            result.tables.append((str(now.get("TableName", logical)), now))
            result.unapplied += [f"{logical}.{p}" for p in changed if p not in TABLE_APPLIED]
        else:
            result.unapplied += [f"{logical}.{p}" for p in changed]
    return result


def _converge_table(ddb: Any, name: str, new: dict[str, Any]) -> list[str]:
    """The table made as `new` declares it, from what DynamoDB says it is now (an imported
    table's template declares little: the live table is what counts)."""
    done = []
    table = ddb.describe_table(TableName=name)["Table"]
    live = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes") or []}
    now = {i["IndexName"]: i for i in new.get("GlobalSecondaryIndexes") or []}
    for index in sorted(live - set(now)):
        ddb.update_table(TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": index}}])
        done.append(f"{name}: index {index} deleted")
    for index in sorted(set(now) - live):
        create = {k: v for k, v in now[index].items() if k in ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")}
        ddb.update_table(TableName=name, AttributeDefinitions=new.get("AttributeDefinitions", []),
                         GlobalSecondaryIndexUpdates=[{"Create": create}])
        done.append(f"{name}: index {index} created")
    stream = table.get("StreamSpecification") or {"StreamEnabled": False}
    wanted = {"StreamEnabled": True, **new["StreamSpecification"]} if new.get("StreamSpecification") else {"StreamEnabled": False}
    if bool(stream.get("StreamEnabled")) != wanted["StreamEnabled"] or (
            wanted["StreamEnabled"] and stream.get("StreamViewType") != wanted.get("StreamViewType")):
        ddb.update_table(TableName=name, StreamSpecification=wanted)
        done.append(f"{name}: stream {wanted.get('StreamViewType', 'off')}")
    ttl = new.get("TimeToLiveSpecification")
    described = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    on = described.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
    if ttl and bool(ttl.get("Enabled")) != on:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        done.append(f"{name}: time to live {'on' if ttl.get('Enabled') else 'off'}")
    pitr = bool((new.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled"))
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    if pitr != ((backups.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus") == "ENABLED"):
        ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": pitr})
        done.append(f"{name}: point-in-time recovery {'on' if pitr else 'off'}")
    settings: dict[str, Any] = {}
    billing = new.get("BillingMode", "PROVISIONED")
    if billing != (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"):
        settings["BillingMode"] = billing
        if "ProvisionedThroughput" in new:
            settings["ProvisionedThroughput"] = new["ProvisionedThroughput"]
    if bool(new.get("DeletionProtectionEnabled")) != bool(table.get("DeletionProtectionEnabled")):
        settings["DeletionProtectionEnabled"] = bool(new.get("DeletionProtectionEnabled"))
    if settings:
        ddb.update_table(TableName=name, **settings)
        done.append(f"{name}: {', '.join(sorted(settings))} updated")
    return done
