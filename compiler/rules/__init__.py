"""Policy rules: the registry and the runner. A new rule is one module here plus one line.

Rules run over the generated templates of a stage (see base.py). Findings carry the spec
location of the resource (from Metadata.Source); a finding the spec suppressed, or
acknowledged through a reasoned unsafe choice, is reported as such and does not fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from . import authorization, dlq_alarm, encryption, iam_wildcard, log_retention, pitr, public_bucket, queue_dlq, retain, routes_authorized, tls_only
from .base import Rule, Template, Unit

RULES: tuple[Rule, ...] = (
    encryption.RULE,
    pitr.RULE,
    public_bucket.RULE,
    tls_only.RULE,
    iam_wildcard.RULE,
    queue_dlq.RULE,
    dlq_alarm.RULE,
    log_retention.RULE,
    retain.RULE,
    routes_authorized.RULE,
    authorization.RULE,
)
BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


@dataclass(frozen=True)
class Finding:
    rule: str
    stage: str
    stack: str
    resource: str
    message: str
    source: str | None  # "spec/file.yaml#section.name"
    waived: str | None = None  # the spec's reason, when suppressed or acknowledged


def _waiver(rule: Rule, resource: dict[str, Any]) -> str | None:
    meta = resource.get("Metadata") or {}
    if rule.id in (meta.get("Suppress") or {}):
        return str(meta["Suppress"][rule.id])
    for field in rule.waived_by:
        if field in (meta.get("UnsafeChoices") or {}):
            return f"{field}: {meta['UnsafeChoices'][field]}"
    return None


def run(stage: str, protect: bool, templates: Mapping[str, Template]) -> list[Finding]:
    """Every rule over every template of one stage."""
    findings = []
    for stack in sorted(templates):
        unit = Unit(stage, stack, protect, templates[stack], templates)
        for rule in RULES:
            for logical, message in rule.check(unit):
                resource = unit.template.get("Resources", {}).get(logical, {})
                source = (resource.get("Metadata") or {}).get("Source")
                findings.append(Finding(rule.id, stage, stack, logical, message, source, _waiver(rule, resource)))
    return findings


__all__ = ["BY_ID", "RULES", "Finding", "Rule", "Unit", "run"]
