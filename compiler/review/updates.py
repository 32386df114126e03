"""updates: CloudFormation's conditional update rules that a per-property table cannot hold.

- DynamoDB (AWS::DynamoDB::Table, "GlobalSecondaryIndexes" in the template reference, and
  UpdateTable in the DynamoDB API reference): one update creates or deletes at most one
  global secondary index, and an existing index's key schema or projection cannot change
  in place: it must be deleted and created again, in separate updates. A change of a key
  attribute's *type* (AttributeDefinitions) replaces the table when the attribute is a
  table key, and redefines the index when it is an index key.
- Cognito (developer guide, "Settings you can't change"): schema attributes cannot be
  removed or changed after the pool is created, and required attributes are fixed at
  creation; optional attributes can be added.

`index_plan` and `stack_steps` are shared by the review gate (what the change needs) and
deploy (the intermediate templates it applies one after another). Pure functions over
template dicts.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

TABLE = "AWS::DynamoDB::Table"
USER_POOL = "AWS::Cognito::UserPool"


def _types(props: dict[str, Any]) -> dict[str, str]:
    return {a["AttributeName"]: a["AttributeType"] for a in props.get("AttributeDefinitions", []) if isinstance(a, dict)}


def _indexes(props: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", []) if isinstance(i, dict)}


def _signature(index: dict[str, Any], types: dict[str, str]) -> str:
    """What cannot change in place: the typed key schema and the projection."""
    keys = [(k["AttributeName"], k["KeyType"], types.get(k["AttributeName"])) for k in index.get("KeySchema", [])]
    return json.dumps([keys, index.get("Projection")], sort_keys=True)


def key_type_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Table key attributes whose type changes (a replacement of the table)."""
    old_types, new_types = _types(old), _types(new)
    keys = [k["AttributeName"] for k in old.get("KeySchema", []) if isinstance(k, dict)]
    return [f"{a} {old_types[a]} -> {new_types[a]}" for a in keys if a in old_types and a in new_types and old_types[a] != new_types[a]]


@dataclass(frozen=True)
class IndexPlan:
    removed: tuple[str, ...]
    added: tuple[str, ...]
    redefined: tuple[str, ...]  # same name, new key schema or projection: delete, then create

    @property
    def operations(self) -> int:
        return len(self.removed) + len(self.added) + 2 * len(self.redefined)


def index_plan(old: dict[str, Any], new: dict[str, Any]) -> IndexPlan:
    before, after = _indexes(old), _indexes(new)
    old_types, new_types = _types(old), _types(new)
    redefined = [n for n in before if n in after and _signature(before[n], old_types) != _signature(after[n], new_types)]
    return IndexPlan(
        tuple(sorted(set(before) - set(after))), tuple(sorted(set(after) - set(before))), tuple(sorted(redefined))
    )


def _with_indexes(new: dict[str, Any], indexes: list[dict[str, Any]], types: dict[str, str]) -> dict[str, Any]:
    """`new`'s properties with this list of indexes and exactly the attributes their keys need."""
    props = copy.deepcopy(new)
    if indexes:
        props["GlobalSecondaryIndexes"] = indexes
    else:
        props.pop("GlobalSecondaryIndexes", None)
    used = {k["AttributeName"] for k in props.get("KeySchema", [])}
    for index in [*indexes, *props.get("LocalSecondaryIndexes", [])]:
        used |= {k["AttributeName"] for k in index.get("KeySchema", [])}
    props["AttributeDefinitions"] = [{"AttributeName": a, "AttributeType": types[a]} for a in sorted(used)]
    return props


def table_steps(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's properties after each update: one index created or deleted per step.

    Deletions first (they free the names a redefinition reuses), then creations. Every
    other property change rides along with the first step. The last step is `new`.
    """
    plan = index_plan(old, new)
    if plan.operations <= 1:
        return [new]
    before, after = _indexes(old), _indexes(new)
    types = {**_types(old), **_types(new)}
    current = [i for name, i in before.items()]
    steps = []
    for name in [*plan.removed, *plan.redefined]:
        current = [i for i in current if i["IndexName"] != name]
        steps.append(_with_indexes(new, current, {**types, **_types(old)}))
    for name in [*plan.redefined, *plan.added]:
        current = [*current, after[name]]
        steps.append(_with_indexes(new, current, types))
    steps[-1] = new
    return steps


def stack_steps(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The templates one update each takes from `old` (deployed) to `new`; `[new]` when one suffices."""
    per_table: dict[str, list[dict[str, Any]]] = {}
    old_resources, new_resources = old.get("Resources", {}), new.get("Resources", {})
    for logical, resource in sorted(new_resources.items()):
        before = old_resources.get(logical)
        if resource.get("Type") == TABLE and before and before.get("Type") == TABLE:
            steps = table_steps(before.get("Properties", {}), resource.get("Properties", {}))
            if len(steps) > 1:
                per_table[logical] = steps
    count = max((len(s) for s in per_table.values()), default=1)
    if count == 1:
        return [new]
    templates = []
    for i in range(count):
        template = copy.deepcopy(new)
        for logical, steps in per_table.items():
            template["Resources"][logical]["Properties"] = steps[min(i, len(steps) - 1)]
        templates.append(template)
    templates[-1] = new
    return templates


def schema_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """User pool schema changes that Cognito refuses after creation."""
    before = {a["Name"]: a for a in old.get("Schema", []) if isinstance(a, dict)}
    after = {a["Name"]: a for a in new.get("Schema", []) if isinstance(a, dict)}
    problems = [f"attribute '{n}' cannot be removed from a user pool" for n in sorted(set(before) - set(after))]
    problems += [
        f"attribute '{n}' cannot change after the pool is created ({_schema_delta(before[n], after[n])})"
        for n in sorted(set(before) & set(after))
        if before[n] != after[n]
    ]
    problems += [
        f"required attribute '{n}' can only be declared when the pool is created"
        for n in sorted(set(after) - set(before))
        if after[n].get("Required")
    ]
    return problems


def _schema_delta(old: dict[str, Any], new: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {old.get(k)} -> {new.get(k)}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
