"""The registry of resource kinds. A new kind is one module here plus one line in REGISTRY.

Order in REGISTRY sets the order in which sections are validated and reported; template
order comes from sorted keys instead.

Why each kind loads on first use: importing a kind's module builds its pydantic models and
imports its troposphere services (3-15 ms a kind, about 0.1 s for all of them), and a spec
that declares only tables, buckets and queues (the data tier) needs three of them. So the
registry names each kind's section, reference prefix and module, and `BY_SECTION` /
`BY_REF` import a module when one of its kinds is first asked for; reading which sections
and references exist imports nothing. tests/build/test_registry.py checks these names
against each module's `KIND`.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from importlib import import_module

from .base import Attr, Kind, PhysicalName, Resource

# (section, reference prefix, module under compiler.kinds)
REGISTRY: tuple[tuple[str, str, str], ...] = (
    ("tables", "table", "table"),
    ("queues", "queue", "queue"),
    ("buckets", "bucket", "bucket"),
    ("buses", "bus", "bus"),
    ("user_pools", "user-pool", "user_pool"),
    ("apis", "api", "api"),
    ("functions", "function", "function"),
    ("topics", "topic", "topic"),
    ("alarms", "alarm", "alarm"),
    ("secrets", "secret", "secret"),
    ("keys", "key", "key"),
    ("backup_plans", "backup-plan", "backup_plan"),
    ("dashboards", "dashboard", "dashboard"),
    ("certificates", "certificate", "certificate"),
    ("web_acls", "web-acl", "web_acl"),
    ("distributions", "distribution", "distribution"),
    ("delivery", "delivery", "delivery"),
)


class _Kinds(MutableMapping[str, Kind]):
    """Kinds by section or by reference prefix, in REGISTRY order; a kind's module is imported
    when the kind is first looked up. Setting an entry replaces that kind (tests do)."""

    def __init__(self, position: int) -> None:
        self._modules = {entry[position]: entry[2] for entry in REGISTRY}
        self._loaded: dict[str, Kind] = {}

    def __getitem__(self, key: str) -> Kind:
        kind = self._loaded.get(key)
        if kind is None:
            kind = self._loaded[key] = import_module(f"{__name__}.{self._modules[key]}").KIND
        return kind

    def __setitem__(self, key: str, kind: Kind) -> None:
        if key not in self._modules:
            raise KeyError(f"{key}: not a registered kind (add it to REGISTRY)")
        self._loaded[key] = kind

    def __delitem__(self, key: str) -> None:
        self._loaded.pop(key, None)  # the next lookup imports the kind again

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


BY_SECTION: MutableMapping[str, Kind] = _Kinds(0)
BY_REF: MutableMapping[str, Kind] = _Kinds(1)


def all_kinds() -> tuple[Kind, ...]:
    """Every kind, in REGISTRY order (imports them all: the schema, the docs, the review)."""
    return tuple(BY_SECTION[section] for section, _, _ in REGISTRY)


__all__ = ["Attr", "BY_REF", "BY_SECTION", "REGISTRY", "Kind", "PhysicalName", "Resource", "all_kinds"]
