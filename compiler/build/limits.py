"""limits: CloudFormation's hard quotas, checked on the rendered templates of a stage.

Errors point at the stack's spec file. Over the 51,200-byte limit for an inline template
body is not an error: the manifest marks the stack `upload_required` and deploy sends the
template through S3 (whose limit is 1 MB).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import orjson

from ..kinds.cfn import MANAGED_POLICY_CHARS, ROLE_INLINE_CHARS, plain_policy_chars
from ..diagnostics import Diagnostic, Where
from .resolve import Resolved

MAX_RESOURCES = 500
MAX_OUTPUTS = 200
MAX_PARAMETERS = 200
MAX_INLINE_BYTES = 51_200
MAX_BYTES = 1_000_000  # templates uploaded to S3: 1 MB


def check(resolved: Resolved, rendered: Mapping[str, str], stacks: Iterable[str] | None = None) -> list[Diagnostic]:
    """The quotas of every stack of the stage, or of `stacks` (their texts in `rendered`)."""
    diags = []
    for stack_id in resolved.stacks if stacks is None else stacks:
        plan = resolved.stacks[stack_id]
        text = rendered[f"{resolved.stage}/{stack_id}.json"]
        template: dict[str, Any] = orjson.loads(text)  # only counted: json.loads' result, 5x sooner
        where = Where(plan.file)
        size = len(text.encode("utf-8"))
        for what, count, limit, code in (
            ("resources", len(template.get("Resources", {})), MAX_RESOURCES, "E310"),
            ("outputs", len(template.get("Outputs", {})), MAX_OUTPUTS, "E311"),
            ("parameters", len(template.get("Parameters", {})), MAX_PARAMETERS, "E312"),
        ):
            if count > limit:
                diags.append(
                    Diagnostic(
                        code,
                        f"stack {plan.name} has {count} {what} in stage {resolved.stage}; CloudFormation allows {limit}",
                        where,
                        help="split the spec file: each file is one stack",
                    )
                )
        if not template.get("Resources"):
            diags.append(
                Diagnostic(
                    "E314",
                    f"stack {plan.name} has no resources in stage {resolved.stage}; CloudFormation needs at least one",
                    where,
                    help="everything in this file is off in this stage: move it beside resources that exist there",
                )
            )
        diags += _policy_sizes(template, plan.name, resolved.stage, where)
        if size > MAX_BYTES:
            diags.append(
                Diagnostic(
                    "E313",
                    f"the template of {plan.name} is {size:,} bytes; CloudFormation accepts at most {MAX_BYTES:,}",
                    where,
                    help="split the spec file: each file is one stack",
                )
            )
    return diags


def _policy_sizes(template: dict[str, Any], stack: str, stage: str, where: Where) -> list[Diagnostic]:
    """IAM's size quotas (whitespace not counted; cfn.policy_chars): a role's inline policies
    together, and each managed policy. CloudFormation would fail the stack at that resource."""
    found = []
    for logical, resource in sorted(template.get("Resources", {}).items()):
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::IAM::Role":
            size, limit, what = sum(plain_policy_chars(p.get("PolicyDocument")) for p in props.get("Policies") or []), ROLE_INLINE_CHARS, \
                "inline policies of role"
        elif resource.get("Type") == "AWS::IAM::ManagedPolicy":
            size, limit, what = plain_policy_chars(props.get("PolicyDocument")), MANAGED_POLICY_CHARS, "managed policy"
        else:
            continue
        if size > limit:
            found.append(Diagnostic(
                "E315", f"the {what} {logical} of {stack} hold {size:,} characters in stage {stage}; IAM allows {limit:,}",
                where, help="narrow the resource's `access:` (fewer resources or levels), or split it into two functions"))
    return found


def upload_required(text: str) -> bool:
    return len(text.encode("utf-8")) > MAX_INLINE_BYTES
