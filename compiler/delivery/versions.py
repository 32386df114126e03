"""versions: each function's `live` alias after a deploy, `platformc rollback`, and pruning.

Every function publishes a version when its definition changes and invokes through its
`live` alias (kinds/function). After a stack deploys, the deployer settles each alias on the
version the stack published: an alias moved by `platformc rollback` (or by hand) is brought
forward again, and said. Versions beyond the newest KEEP_VERSIONS are deleted, never one an
alias points at: each version holds a copy of its code and Lambda's code storage per region
is limited, while a rollback further back than a few deploys is a redeploy of an older commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..naming import KEEP_VERSIONS, LIVE_ALIAS as ALIAS

__all__ = ["ALIAS", "KEEP_VERSIONS", "Live", "RollbackError", "live_aliases", "published", "prune", "rollback", "settle"]


class RollbackError(Exception):
    """The alias cannot be moved as asked (no such function, no earlier version)."""


@dataclass(frozen=True)
class Live:
    """One function's alias in a template: the function's name and the version resource's id."""

    function: str
    alias_id: str
    version_id: str


def live_aliases(template: dict[str, Any]) -> list[Live]:
    resources = template.get("Resources", {})
    found = []
    for logical, resource in sorted(resources.items()):
        props = resource.get("Properties", {})
        if resource.get("Type") != "AWS::Lambda::Alias" or props.get("Name") != ALIAS:
            continue
        function = resources[props["FunctionName"]["Ref"]]["Properties"]["FunctionName"]
        found.append(Live(str(function), logical, str(props["FunctionVersion"]["Fn::GetAtt"][0])))
    return found


def published(lam: Any, function: str) -> list[dict[str, Any]]:
    """The function's numbered versions, oldest first."""
    pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName=function)
    versions = [v for page in pages for v in page["Versions"] if v["Version"] != "$LATEST"]
    return sorted(versions, key=lambda v: int(v["Version"]))


def _alias_version(lam: Any, function: str) -> str | None:
    try:
        return str(lam.get_alias(FunctionName=function, Name=ALIAS)["FunctionVersion"])
    except lam.exceptions.ResourceNotFoundException:
        return None


def settle(lam: Any, function: str, expected: str, echo: Callable[[str], None], keep: int | None = KEEP_VERSIONS) -> None:
    """Point `live` at `expected` (the version the stack published) and prune old versions
    (None: keep them all)."""
    current = _alias_version(lam, function)
    if current is None:
        lam.create_alias(FunctionName=function, Name=ALIAS, FunctionVersion=expected)
    elif current != expected:
        lam.update_alias(FunctionName=function, Name=ALIAS, FunctionVersion=expected)
        echo(f"{function}: {ALIAS} moved forward from version {current} to {expected}, the deployed one")
    if keep is not None:
        prune(lam, function, keep)


def prune(lam: Any, function: str, keep: int = KEEP_VERSIONS) -> list[str]:
    """Delete versions older than the newest `keep`, except those an alias points at."""
    pages = lam.get_paginator("list_aliases").paginate(FunctionName=function)
    pinned = {str(a["FunctionVersion"]) for page in pages for a in page["Aliases"]}
    versions = [str(v["Version"]) for v in published(lam, function)]
    doomed = [v for v in versions[:-keep] if v not in pinned] if len(versions) > keep else []
    for version in doomed:
        lam.delete_function(FunctionName=function, Qualifier=version)
    return doomed


def rollback(lam: Any, function: str, to: str | None,
             approve: Callable[[str, dict[str, Any]], bool] | None = None) -> tuple[str, dict[str, Any]]:
    """Move `live` to version `to`, or to the version before the one it is on; returns the
    version it was on and the version it is on now. `approve(current, target)`, when given,
    is asked before anything moves (a protected stage); no means nothing moves."""
    try:
        lam.get_function_configuration(FunctionName=function)
    except lam.exceptions.ResourceNotFoundException:
        raise RollbackError(f"function {function} is not deployed") from None
    versions = published(lam, function)
    current = _alias_version(lam, function)
    if current is None:
        raise RollbackError(f"{function} has no `{ALIAS}` alias: deploy the stage first")
    numbers = [str(v["Version"]) for v in versions]
    if to is not None:
        if to not in numbers:
            raise RollbackError(f"{function} has no version {to}; it keeps {', '.join(numbers) or 'none'}")
        target = to
    else:
        earlier = [n for n in numbers if int(n) < int(current)]
        if not earlier:
            raise RollbackError(f"{function} has no version before {current} to roll back to")
        target = earlier[-1]
    if target == current:
        raise RollbackError(f"{function}: {ALIAS} is on version {current} already")
    chosen = next(v for v in versions if str(v["Version"]) == target)
    if approve is not None and not approve(current, chosen):
        raise RollbackError(f"rollback of {function} not confirmed: {ALIAS} stays on version {current}")
    lam.update_alias(FunctionName=function, Name=ALIAS, FunctionVersion=target)
    return current, chosen
