"""What a deploy did, for machines: `platformc deploy --format json` prints it, `--format
github` renders it into the job summary of a GitHub Actions run (and the environment URL into
the step's outputs). Built from the deployer's results, the change sets it showed (with the
review gate's risks) and the stage's stack outputs after the run.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from .lifecycle import StackResult
from ..manifest import Manifest


def summary(manifest: Manifest, results: Sequence[StackResult], shown: Mapping[str, list[dict[str, Any]]],
            outputs: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    return {
        "stage": manifest.stage,
        "url": f"https://{manifest.domain}" if manifest.domain else None,
        "failed": any(r.status == "failed" for r in results),
        "stacks": [
            {"stack": r.stack, "status": r.status, "detail": r.detail, "change_sets": shown.get(r.stack, [])}
            for r in results
        ],
        "outputs": {stack: dict(sorted(values.items())) for stack, values in sorted(outputs.items())},
    }


def as_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(report: dict[str, Any]) -> str:
    """The job summary: each stack's result and change sets (risks first), then the outputs."""
    verdict = "failed" if report["failed"] else "deployed"
    lines = [f"## Deploy {report['stage']}: {verdict}", ""]
    if report["url"]:
        lines += [f"API: {report['url']}", ""]
    lines += ["| stack | result | detail |", "|---|---|---|"]
    lines += [f"| {_cell(s['stack'])} | {_cell(s['status'])} | {_cell(s['detail'])} |" for s in report["stacks"]]
    for stack in report["stacks"]:
        for change_set in stack["change_sets"]:
            lines += ["", f"<details><summary>{_cell(change_set['label'])}: {len(change_set['changes'])} change(s)"
                          f"{', RISKS' if change_set['risks'] else ''}</summary>", ""]
            lines += [f"- **risk**: {_cell(risk)}" for risk in change_set["risks"]]
            lines += ["| action | logical id | type | replacement |", "|---|---|---|---|"]
            lines += [f"| {_cell(c['action'])} | {_cell(c['logical_id'])} | {_cell(c['type'])} | {_cell(c['replacement'])} |"
                      for c in change_set["changes"]]
            lines += ["", "</details>"]
    rows = [(stack, key, value) for stack, values in report["outputs"].items() for key, value in values.items()]
    if rows:
        lines += ["", "### Stack outputs", "", "| stack | output | value |", "|---|---|---|"]
        lines += [f"| {_cell(stack)} | {_cell(key)} | `{_cell(value)}` |" for stack, key, value in rows]
    return "\n".join(lines) + "\n"
