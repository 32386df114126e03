"""P001: data at rest is encrypted (buckets, queues, tables)."""

from __future__ import annotations

from typing import Iterator

from .base import Rule, Unit, props


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    for logical, resource in unit.resources("AWS::S3::Bucket"):
        if not props(resource).get("BucketEncryption"):
            yield logical, "bucket has no default encryption"
    for logical, resource in unit.resources("AWS::SQS::Queue"):
        p = props(resource)
        if not (p.get("SqsManagedSseEnabled") is True or p.get("KmsMasterKeyId")):
            yield logical, "queue is not encrypted (SqsManagedSseEnabled or KmsMasterKeyId)"
    for logical, resource in unit.resources("AWS::DynamoDB::Table"):
        if "SSESpecification" not in props(resource):
            yield logical, "table does not state its encryption (SSESpecification)"


RULE = Rule("P001", "Encryption at rest", "Buckets, queues and tables are encrypted at rest.", check, ("encrypted",))
