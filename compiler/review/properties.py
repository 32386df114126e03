"""properties: how two versions of a resource's properties differ, path by path. Lists of
mappings are matched by the field that names their items, text that holds JSON is compared
as JSON, and the references a value makes (Ref, GetAtt, ImportValue, Sub) are listed."""

from __future__ import annotations

import difflib
import json
from typing import Any, Iterator

from . import access

LIST_KEYS = ("IndexName", "AttributeName", "Key", "Id", "Sid", "PolicyName", "Name", "GroupName")


def _keyed(items: list[Any]) -> str | None:
    """The field that names the items of a list of mappings, if one does."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in LIST_KEYS:
        values = [i.get(key) for i in items]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return key
    return None


def _join(path: str, key: str) -> str:
    return f"{path}{key}" if path.endswith("#") else f"{path}.{key}" if path else key


def property_changes(old: Any, new: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Changed leaves between two property trees; named list items are matched by name,
    other lists of mappings as sequences, and JSON held in a string (a dashboard body,
    an event pattern) is compared as JSON: `DashboardBody#widgets[3].properties.title`."""
    if old != new and _holds_text(old) and _holds_text(new) and (before := _embedded_json(old)) is not None and (
            after := _embedded_json(new)) is not None:
        return property_changes(before, after, f"{path}#")
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            sub = _join(path, key)
            if key not in old:
                out.append((sub, None, new[key]))
            elif key not in new:
                out.append((sub, old[key], None))
            else:
                out += property_changes(old[key], new[key], sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and old != new:
        key = _keyed(old)
        key = key if key == _keyed(new) else None
        if key:
            by_old = {i[key]: i for i in old}
            by_new = {i[key]: i for i in new}
            return property_changes(by_old, by_new, path) if set(by_old) | set(by_new) else []
        if any(isinstance(i, (dict, list)) for i in [*old, *new]):
            return _sequence_changes(old, new, path)
    return [] if old == new else [(path, old, new)]


def _holds_text(value: Any) -> bool:
    return isinstance(value, str) or isinstance(value, dict) and len(value) == 1 and ("Fn::Join" in value or "Fn::Sub" in value)


def _sequence_changes(old: list[Any], new: list[Any], path: str) -> list[tuple[str, Any, Any]]:
    """Items inserted, removed or changed in place, by position (new positions)."""
    canon = [json.dumps(i, sort_keys=True) for i in old], [json.dumps(i, sort_keys=True) for i in new]
    out: list[tuple[str, Any, Any]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, *canon, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                out += property_changes(old[i1 + k], new[j1 + k], f"{path}[{j1 + k}]")
            continue
        out += [(f"{path}[{i}]", old[i], None) for i in range(i1, i2)]
        out += [(f"{path}[{j}]", None, new[j]) for j in range(j1, j2)]
    return out


def _embedded_json(value: Any) -> Any:
    """The JSON object or array a string holds (a Join or Sub shown with `${...}` for its
    intrinsics), or None."""
    text = value if isinstance(value, str) else access.show(value)
    if not text or text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def references(value: Any) -> Iterator[tuple[str, str]]:
    """("local", logical id) and ("import", export name) referenced anywhere in a value."""
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            yield "local", value["Ref"]
        elif "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            yield "local", str(value["Fn::GetAtt"][0])
        elif "Fn::ImportValue" in value and isinstance(value["Fn::ImportValue"], str):
            yield "import", value["Fn::ImportValue"]
        elif "Fn::Sub" in value:
            text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            for part in str(text).split("${")[1:]:
                yield "local", part.split("}")[0].split(".")[0]
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def at_path(props: dict[str, Any], dotted: str) -> Any:
    value: Any = props
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


