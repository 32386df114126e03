"""P009: in protected stages, stateful resources survive deletion and replacement."""

from __future__ import annotations

from typing import Iterator

from ..awstypes import STATEFUL
from .base import Rule, Unit


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    if not unit.protect:
        return
    for logical, resource in unit.resources(*sorted(STATEFUL)):
        missing = [p for p in ("DeletionPolicy", "UpdateReplacePolicy") if resource.get(p) != "Retain"]
        if missing:
            yield logical, f"{resource['Type']} in {unit.stage} without Retain ({', '.join(missing)})"


RULE = Rule("P009", "Retain stateful resources", "Protected stages never delete data with a stack or replacement.", check, ("retain",))
