"""SARIF 2.1.0 for lint and policy findings, for code-scanning annotations.

A finding is placed at its spec location when known (that is what a reviewer edits), with
the generated template's location as a related location. Waived findings are included with
a SARIF suppression carrying the reviewed reason, so the scanning UI shows them as such.
"""

from __future__ import annotations

import json
from typing import Any

from .lint import Finding, Report
from ..rules import BY_ID

LEVELS = {"error": "error", "warning": "warning", "informational": "note"}


def _location(uri: str, line: int, column: int) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": line, "startColumn": column}}}


def _spec_location(source: str | None) -> dict[str, Any] | None:
    if not source or source.count(":") < 2:
        return None
    file, line, column = source.rsplit(":", 2)
    return _location(file, int(line), int(column)) if line.isdigit() and column.isdigit() else None


def _result(finding: Finding) -> dict[str, Any]:
    generated = _location(finding.template, finding.line, finding.column)
    spec = _spec_location(finding.source)
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": LEVELS.get(finding.severity, "warning"),
        "message": {"text": f"{finding.message} ({finding.resource})" if finding.resource else finding.message},
        "locations": [spec or generated],
    }
    if spec:
        result["relatedLocations"] = [{**generated, "id": 1, "message": {"text": "generated template"}}]
    if finding.waived:
        result["suppressions"] = [{"kind": "inSource", "justification": finding.waived}]
    return result


def _rule(rule_id: str, tool: str) -> dict[str, Any]:
    if tool == "policy" and rule_id in BY_ID:
        rule = BY_ID[rule_id]
        return {"id": rule.id, "name": rule.title, "shortDescription": {"text": rule.title}, "fullDescription": {"text": rule.description}}
    return {
        "id": rule_id,
        "shortDescription": {"text": f"cfn-lint rule {rule_id}"},
        "helpUri": f"https://github.com/aws-cloudformation/cfn-lint/blob/main/docs/rules.md#{rule_id}",
    }


def render(report: Report) -> str:
    everything = [*report.findings, *report.waived]
    rules = {f.rule: f.tool for f in everything}
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "platformc",
                        "informationUri": "https://listbackup.ai",
                        "rules": [_rule(rule_id, rules[rule_id]) for rule_id in sorted(rules)],
                    }
                },
                "results": [_result(f) for f in everything],
            }
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
