"""P004: every bucket's policy denies requests that do not use TLS."""

from __future__ import annotations

from typing import Any, Iterator

from .base import Rule, Unit, props


def _denies_plain_http(document: dict[str, Any]) -> bool:
    for statement in document.get("Statement", []):
        condition = statement.get("Condition", {}).get("Bool", {})
        if statement.get("Effect") == "Deny" and condition.get("aws:SecureTransport") in (False, "false"):
            return True
    return False


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    guarded = {
        props(policy).get("Bucket", {}).get("Ref")
        for _, policy in unit.resources("AWS::S3::BucketPolicy")
        if isinstance(props(policy).get("Bucket"), dict) and _denies_plain_http(props(policy).get("PolicyDocument", {}))
    }
    for logical, _ in unit.resources("AWS::S3::Bucket"):
        if logical not in guarded:
            yield logical, "no bucket policy denies requests without TLS (aws:SecureTransport)"


RULE = Rule("P004", "TLS-only buckets", "Every bucket's policy denies requests made without TLS.", check)
