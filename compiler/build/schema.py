"""schema: the spec's format as JSON Schema and as the field reference of docs/spec.md,
both generated from the pydantic models — one source.

`platformc schema` writes `docs/schema/platform.schema.json` (platform.yaml) and
`docs/schema/stack.schema.json` (every other spec file) and rewrites the generated field
tables of docs/spec.md. Spec files name their schema on their first line
(`# yaml-language-server: $schema=...`), so VS Code and any yaml-language-server editor
completes fields and flags mistakes while typing; `platformc` stays the judge (references,
names, cross-resource rules are not expressible in a schema).
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any, Iterable

from pydantic.json_schema import models_json_schema
from pydantic_core import to_jsonable_python

from .emit import write_file
from ..kinds import Kind, all_kinds
from ..model import NAME_PATTERN, Platform

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = "docs/schema"
PLATFORM_SCHEMA = "platform.schema.json"
STACK_SCHEMA = "stack.schema.json"
REGION_PATTERN = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
STAGE_KEYS = "stages"
DEFAULTS_KEY = "defaults"


def _without_titles(value: Any) -> Any:
    """pydantic's titles repeat the field names; editors show descriptions instead."""
    if isinstance(value, dict):
        return {k: _without_titles(v) for k, v in value.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(value, list):
        return [_without_titles(v) for v in value]
    return value


def _schema(value: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = _without_titles(value)
    return cleaned


def _partial(schema: dict[str, Any]) -> dict[str, Any]:
    """The same fields with none required: stage overrides and file defaults set only some."""
    found = copy.deepcopy(schema)
    found.pop("required", None)
    return found


def _first_line(kind: Kind) -> str:
    doc = (sys.modules[kind.spec.__module__].__doc__ or "").strip()
    return doc.splitlines()[0] if doc else kind.section


def stack_schema(kinds: Iterable[Kind] | None = None) -> dict[str, Any]:
    kinds = tuple(kinds) if kinds is not None else all_kinds()
    refs, top = models_json_schema([(kind.spec, "validation") for kind in kinds], ref_template="#/$defs/{model}")
    defs: dict[str, Any] = top.get("$defs", {})
    properties: dict[str, Any] = {
        "description": {"type": "string", "description": "what the stack is for (in the template's description)"},
        "region": {"type": "string", "pattern": REGION_PATTERN, "description": "deploy this stack to another region"},
    }
    defaults: dict[str, Any] = {}
    for kind in kinds:
        name = refs[(kind.spec, "validation")]["$ref"].rsplit("/", 1)[1]
        spec = defs[name]
        partial = _partial(spec)
        partial["description"] = f"overrides of one stage for {kind.section}"
        defs[f"{kind.section}.override"] = partial
        spec.setdefault("properties", {})[STAGE_KEYS] = {
            "type": "object",
            "description": "per-stage overrides, merged over the resource's fields for that stage",
            "additionalProperties": {"$ref": f"#/$defs/{kind.section}.override"},
        }
        spec["description"] = f"one resource of {kind.section} (`{kind.ref}:NAME` refers to it)"
        properties[kind.section] = {
            "type": "object",
            "description": _first_line(kind),
            "propertyNames": {"pattern": NAME_PATTERN},
            "additionalProperties": {"$ref": f"#/$defs/{name}"},
        }
        defaults[kind.section] = {**_partial(spec), "description": f"fields every resource of {kind.section} in this file inherits"}
        defaults[kind.section]["properties"] = {k: v for k, v in spec["properties"].items() if k != STAGE_KEYS}
    properties[DEFAULTS_KEY] = {
        "type": "object",
        "description": "per kind, field values the file's resources inherit unless they set their own",
        "additionalProperties": False,
        "properties": defaults,
    }
    return _schema({
        "$schema": DIALECT,
        "$id": STACK_SCHEMA,
        "title": "platformc stack file",
        "description": "one spec file = one CloudFormation stack per stage; see docs/spec.md",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "$defs": dict(sorted(defs.items())),
    })


def platform_schema() -> dict[str, Any]:
    schema = Platform.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    return _schema({
        "$schema": DIALECT,
        "$id": PLATFORM_SCHEMA,
        "title": "platformc platform.yaml",
        "description": "the service, its region, stages and default tags; see docs/spec.md",
        **schema,
    })


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schemas() -> dict[str, str]:
    """File name under docs/schema -> its text."""
    return {PLATFORM_SCHEMA: render(platform_schema()), STACK_SCHEMA: render(stack_schema())}


# ---------------------------------------------------------------------------- docs/spec.md

BLOCK = re.compile(r"<!-- fields: ([a-z_]+) -->\n.*?<!-- /fields -->", re.S)


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return "mapping" if defs.get(name, {}).get("type") == "object" else name
    if "anyOf" in schema:
        kinds = [_type(s, defs) for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds)) or "null"
    if "enum" in schema:
        return " | ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), defs)}"
    if kind == "object":
        return "mapping"
    if kind == "string" and _is_reference(schema):
        return "reference"
    return str(kind)


def _is_reference(schema: dict[str, Any]) -> bool:
    """model.RefTo's schema: `^(kind|kind):NAME`."""
    pattern = str(schema.get("pattern", ""))
    return pattern.startswith("^(") and pattern.endswith("):" + NAME_PATTERN[1:])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def field_table(kind: Kind) -> str:
    """The reference table of a kind's fields: name, type, default, description."""
    schema = kind.spec.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, info in kind.spec.model_fields.items():
        key = info.alias or name
        if name in ("tags", "export", "reasons", "suppress"):
            continue  # fields every resource has: documented once, above
        prop = schema["properties"][key]
        value = None if info.is_required() else to_jsonable_python(info.get_default(call_default_factory=True))
        if key in required:
            default = "required"
        elif value is None:
            default = "none"
        else:
            default = f"`{json.dumps(value, sort_keys=True)}`" if value not in ({}, []) else "empty"
        rows.append(f"| `{key}` | {_cell(_type(prop, defs))} | {_cell(default)} | {_cell(info.description or '')} |")
    return "\n".join(rows)


def docs(text: str, kinds: Iterable[Kind] | None = None) -> str:
    """docs/spec.md with every `<!-- fields: SECTION -->` block regenerated."""
    by_section = {kind.section: kind for kind in (all_kinds() if kinds is None else kinds)}

    def block(match: re.Match[str]) -> str:
        section = match.group(1)
        if section not in by_section:
            raise KeyError(f"docs/spec.md has a field table for unknown section '{section}'")
        generated = "generated by `platformc schema` from the models; do not edit"
        return f"<!-- fields: {section} -->\n<!-- {generated} -->\n{field_table(by_section[section])}\n<!-- /fields -->"

    return BLOCK.sub(block, text)


def sections_documented(text: str) -> set[str]:
    return {match.group(1) for match in BLOCK.finditer(text)}


def expected(root: Path) -> dict[Path, str]:
    """Every file `platformc schema` owns under `root`, with the text it must hold."""
    found = {root / SCHEMA_DIR / name: text for name, text in schemas().items()}
    spec_md = root / "docs" / "spec.md"
    if spec_md.exists():
        found[spec_md] = docs(spec_md.read_text())
    return found


def stale(root: Path) -> list[Path]:
    return [path for path, text in expected(root).items() if not path.exists() or path.read_text() != text]


def write(root: Path) -> list[Path]:
    """Write the schemas and regenerate docs/spec.md's tables under `root`; the changed files."""
    changed = stale(root)
    for path, text in expected(root).items():
        if path in changed:
            write_file(root, path.relative_to(root).as_posix(), text)
    return changed
