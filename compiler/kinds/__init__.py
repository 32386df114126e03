"""The registry of resource kinds. A new kind is one module here plus one line in KINDS.

Order in KINDS sets the order in which sections are validated and reported; template
order comes from sorted keys instead.
"""

from __future__ import annotations

from . import alarm, api, backup_plan, bucket, bus, certificate, dashboard, delivery, distribution, function, key, queue, secret, table, topic, user_pool, web_acl
from .base import Attr, Kind, PhysicalName, Resource

KINDS: tuple[Kind, ...] = (
    table.KIND,
    queue.KIND,
    bucket.KIND,
    bus.KIND,
    user_pool.KIND,
    api.KIND,
    function.KIND,
    topic.KIND,
    alarm.KIND,
    secret.KIND,
    key.KIND,
    backup_plan.KIND,
    dashboard.KIND,
    certificate.KIND,
    web_acl.KIND,
    distribution.KIND,
    delivery.KIND,
)
BY_SECTION: dict[str, Kind] = {kind.section: kind for kind in KINDS}
BY_REF: dict[str, Kind] = {kind.ref: kind for kind in KINDS}

__all__ = ["Attr", "BY_REF", "BY_SECTION", "KINDS", "Kind", "PhysicalName", "Resource"]
