"""certificates: ACM certificates validated through DNS in the stage's hosted zone.

CloudFront only takes certificates from us-east-1: declare those in a stack file with
`region: us-east-1`; their ARN reaches other regions as a parameter deploy fills.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from troposphere import certificatemanager

from .. import naming
from ..model import ResourceSpec, StageSettings, matching
from .base import Attr, Context, Kind, PhysicalName, Resource, SpecProblem


Domain = Annotated[str, matching(r"(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}", "a domain name")]


class Spec(ResourceSpec):
    domain: Domain | None = Field(None, description="default: the stage's `domain`")
    alternative_names: list[Domain] = Field(default=[], max_length=10, description="more names the certificate covers")


def domain_of(resource: Resource, ctx: Context) -> str:
    domain = resource.spec.domain or ctx.settings.domain
    if domain is None:
        raise SpecProblem(("domain",), f"no domain: set `domain:` here or `domain` for stage {ctx.stage}")
    return str(domain)


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    zone = ctx.settings.hosted_zone_id
    if zone is None:
        raise SpecProblem((), f"DNS validation needs `hosted_zone_id` in the settings of stage {ctx.stage}")
    domain = domain_of(resource, ctx)
    names_ = [domain, *spec.alternative_names]
    props: dict[str, object] = {
        "DomainName": domain,
        "ValidationMethod": "DNS",
        "DomainValidationOptions": [
            certificatemanager.DomainValidationOption(DomainName=name, HostedZoneId=zone) for name in names_
        ],
        "Tags": ctx.tags(resource),
    }
    if spec.alternative_names:
        props["SubjectAlternativeNames"] = spec.alternative_names
    return [certificatemanager.Certificate(resource.logical_id, **props)]


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    return []  # certificates are named by their domain, which may repeat across regions


KIND = Kind(
    section="certificates",
    ref="certificate",
    spec=Spec,
    id_suffix="Certificate",
    attributes={"arn": Attr(description="certificate ARN")},
    names=names,
    synthesize=synthesize,
)
