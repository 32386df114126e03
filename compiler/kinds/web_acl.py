"""web_acls: AWS WAF web ACLs with AWS managed rule groups and a per-IP rate limit.

Scope CLOUDFRONT (for distributions) must live in us-east-1; REGIONAL elsewhere.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from troposphere import wafv2

from .. import naming
from ..model import ResourceSpec, StageSettings
from .base import Attr, Context, Kind, PhysicalName, Resource, SpecProblem


ManagedGroup = Literal[
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesSQLiRuleSet",
]
DEFAULT_GROUPS: tuple[ManagedGroup, ...] = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)


class Spec(ResourceSpec):
    scope: Literal["CLOUDFRONT", "REGIONAL"] = Field("CLOUDFRONT", description="CLOUDFRONT (in us-east-1) or REGIONAL")
    managed_rules: list[ManagedGroup] = Field(default_factory=lambda: list(DEFAULT_GROUPS), description="AWS managed rule groups to apply, in order")
    rate_limit: int | None = Field(2000, ge=10, le=2_000_000_000, description="requests per IP per 5 minutes")


def _visibility(name: str) -> wafv2.VisibilityConfig:
    return wafv2.VisibilityConfig(CloudWatchMetricsEnabled=True, MetricName=name, SampledRequestsEnabled=True)


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    if spec.scope == "CLOUDFRONT" and ctx.region != "us-east-1":
        raise SpecProblem(("scope",), f"a CLOUDFRONT web ACL must be in us-east-1, not {ctx.region}: give its stack `region: us-east-1`")
    rules = []
    if spec.rate_limit:
        rules.append(
            wafv2.WebACLRule(
                Name="rate-limit-per-ip",
                Priority=0,
                Action=wafv2.RuleAction(Block=wafv2.BlockAction()),
                Statement=wafv2.Statement(
                    RateBasedStatement=wafv2.RateBasedStatement(Limit=spec.rate_limit, AggregateKeyType="IP")
                ),
                VisibilityConfig=_visibility("rate-limit-per-ip"),
            )
        )
    for priority, group in enumerate(spec.managed_rules, start=1):
        rules.append(
            wafv2.WebACLRule(
                Name=group,
                Priority=priority,
                OverrideAction=wafv2.OverrideAction(**{"None": {}}),
                Statement=wafv2.Statement(
                    ManagedRuleGroupStatement=wafv2.ManagedRuleGroupStatement(VendorName="AWS", Name=group)
                ),
                VisibilityConfig=_visibility(group),
            )
        )
    acl = wafv2.WebACL(
        resource.logical_id,
        Name=ctx.name(resource),
        Scope=spec.scope,
        DefaultAction=wafv2.DefaultAction(Allow=wafv2.AllowAction()),
        Rules=rules,
        VisibilityConfig=_visibility(ctx.name(resource)),
        Tags=ctx.tags(resource),
    )
    return [acl]


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    return [PhysicalName(f"waf-web-acl:{spec.scope}", naming_.physical(name), naming.WEB_ACL)]


KIND = Kind(
    section="web_acls",
    ref="web-acl",
    spec=Spec,
    id_suffix="WebAcl",
    attributes={"arn": Attr("Arn", description="web ACL ARN")},
    names=names,
    synthesize=synthesize,
)
