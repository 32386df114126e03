"""P003: no bucket is public unless the spec declares it public (with a reason)."""

from __future__ import annotations

from typing import Iterator

from .base import Rule, Unit, props

BLOCKS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    for logical, resource in unit.resources("AWS::S3::Bucket"):
        block = props(resource).get("PublicAccessBlockConfiguration") or {}
        off = [name for name in BLOCKS if block.get(name) is not True]
        if off:
            yield logical, f"public access is not blocked ({', '.join(off)} off)"


RULE = Rule("P003", "No public buckets", "Every bucket blocks public access unless declared public.", check, ("public",))
