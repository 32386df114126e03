"""distributions: CloudFront in front of an HTTP API or a private bucket, with WAF.

- Origin `api:NAME`: the API's execute-api endpoint over HTTPS, nothing cached, every
  viewer header but Host forwarded; the distribution carries the API's custom domain. When
  the API has an `origin_secret`, CloudFront sends its value in X-Origin-Verify (a dynamic
  reference, resolved when the distribution is deployed), which the API's handlers require.
- Origin `bucket:NAME`: the bucket through origin access control; the bucket stays private
  (give it `cdn: true` so CloudFront of this account may read it).

Always: TLS 1.2+ (TLSv1.2_2021), HTTPS only, the managed security-headers policy, HTTP/2
and 3, IPv6, and Route 53 A/AAAA aliases in the stage's hosted zone. The certificate and
the web ACL come from us-east-1 (CloudFront's rule), as cross-region parameters.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from troposphere import GetAtt, Select, Split, cloudfront, route53

from .. import naming
from ..model import Ref, RefTo, ResourceSpec, StageSettings
from .api import implied_origin_secret, origin_host, origin_secret
from .base import Attr, Context, Kind, PhysicalName, Resource, SpecProblem
from .certificate import Domain


# AWS managed CloudFront policies (fixed ids, documented by AWS).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
CLOUDFRONT_ZONE = "Z2FDTNDATAQYW2"  # the hosted zone of every CloudFront alias target


class Spec(ResourceSpec):
    origin: Annotated[Ref, RefTo("api", "bucket", why="a distribution serves an api or a bucket")] = Field(description="what it serves: `api:NAME`, or `bucket:NAME` with `cdn: true`")
    domain: Domain | None = Field(None, description="default: the stage's `domain` (for an API origin)")
    certificate: Annotated[Ref, RefTo("certificate", why="`certificate:` names a certificate")] = Field(description="the ACM certificate (in us-east-1) for the domain")
    web_acl: Annotated[Ref, RefTo("web-acl", why="`web_acl:` names a web-acl")] | None = Field(None, description="the WAF web ACL in front of it (`web-acl:NAME`)")
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = Field("PriceClass_100", description="which CloudFront edge locations serve it")
    comment: str | None = Field(None, max_length=128, description="the distribution's comment (default: its name and origin)")
    access_logs: bool = Field(True, description="standard logs into the stage's access-log bucket (`access_logs:` in "
                                                "platform.yaml); false is an unsafe choice")

    CHECKOV = {"access_logs": (("CKV_AWS_86", "AWS::CloudFront::Distribution"),)}
    UNSAFE = {"access_logs": lambda v: v is False}

def _origin(resource: Resource, ctx: Context) -> tuple[cloudfront.Origin, list[object], dict[str, object]]:
    spec: Spec = resource.spec
    if spec.origin.kind == "api":
        api = ctx.resource(spec.origin)
        # its custom domain (the execute-api endpoint is then off), else https://<id>.execute-api...
        host = origin_host(spec.origin, ctx) or Select(2, Split("/", ctx.ref(spec.origin, "endpoint")))
        secret = origin_secret(api)
        headers = {} if secret is None else {"OriginCustomHeaders": [cloudfront.OriginCustomHeader(
            # by name (same account and region): CloudFormation resolves it when the distribution deploys
            HeaderName="X-Origin-Verify", HeaderValue="{{resolve:secretsmanager:" + ctx.name(ctx.resource(secret)) + "}}")]}
        origin = cloudfront.Origin(
            Id="api",
            DomainName=host,
            CustomOriginConfig=cloudfront.CustomOriginConfig(
                OriginProtocolPolicy="https-only", OriginSSLProtocols=["TLSv1.2"], HTTPSPort=443
            ),
            **headers,
        )
        behavior: dict[str, object] = {
            "CachePolicyId": CACHING_DISABLED,
            "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,
            "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
        }
        return origin, [], behavior
    target = ctx.resource(spec.origin)
    if not getattr(target.spec, "cdn", False):
        raise SpecProblem(("origin",), f"{spec.origin} does not admit CloudFront: give it `cdn: true`", target)
    access = cloudfront.OriginAccessControl(
        resource.logical_id + "OriginAccess",
        OriginAccessControlConfig=cloudfront.OriginAccessControlConfig(
            Name=ctx.name(resource),
            OriginAccessControlOriginType="s3",
            SigningBehavior="always",
            SigningProtocol="sigv4",
        ),
    )
    origin = cloudfront.Origin(
        Id="bucket",
        DomainName=ctx.ref(spec.origin, "domain"),
        OriginAccessControlId=GetAtt(access, "Id"),
        S3OriginConfig=cloudfront.S3OriginConfig(OriginAccessIdentity=""),
    )
    return origin, [access], {"CachePolicyId": CACHING_OPTIMIZED, "AllowedMethods": ["GET", "HEAD", "OPTIONS"]}


def synthesize(resource: Resource, ctx: Context) -> list[object]:
    spec: Spec = resource.spec
    zone = ctx.settings.hosted_zone_id
    domain = spec.domain or ctx.settings.domain
    if zone is None or domain is None:
        raise SpecProblem((), f"a distribution needs `domain` (here or in stage {ctx.stage}) and the stage's `hosted_zone_id`")
    origin, extra, behavior = _origin(resource, ctx)
    config: dict[str, object] = {
        "Enabled": True,
        "Comment": spec.comment or f"{ctx.name(resource)} ({spec.origin})",
        "Aliases": [domain],
        "Origins": [origin],
        "DefaultCacheBehavior": cloudfront.DefaultCacheBehavior(
            TargetOriginId=origin.Id,
            ViewerProtocolPolicy="redirect-to-https",
            ResponseHeadersPolicyId=SECURITY_HEADERS,
            Compress=True,
            **behavior,
        ),
        "ViewerCertificate": cloudfront.ViewerCertificate(
            AcmCertificateArn=ctx.ref(spec.certificate, "arn"), SslSupportMethod="sni-only", MinimumProtocolVersion="TLSv1.2_2021"
        ),
        "HttpVersion": "http2and3",
        "IPV6Enabled": True,
        "PriceClass": spec.price_class,
    }
    if spec.web_acl is not None:
        config["WebACLId"] = ctx.ref(spec.web_acl, "arn")
    if spec.access_logs and (logs := ctx.settings.access_logs) is not None:
        # the bucket's global endpoint, by name: CloudFront writes from every edge location
        config["Logging"] = cloudfront.Logging(Bucket=f"{ctx.physical(logs)}.s3.amazonaws.com",
                                               Prefix=f"cloudfront/{ctx.name(resource)}/", IncludeCookies=False)
    distribution = cloudfront.Distribution(
        resource.logical_id, DistributionConfig=cloudfront.DistributionConfig(**config), Tags=ctx.tags(resource)
    )
    aliases = [
        route53.RecordSetType(
            f"{resource.logical_id}Alias{kind}",
            HostedZoneId=zone,
            Name=domain,
            Type=kind,
            AliasTarget=route53.AliasTarget(DNSName=GetAtt(distribution, "DomainName"), HostedZoneId=CLOUDFRONT_ZONE),
        )
        for kind in ("A", "AAAA")
    ]
    return [distribution, *extra, *aliases]


def names(name: str, spec: Spec, naming_: naming.Naming, settings: StageSettings) -> list[PhysicalName]:
    found = []
    if spec.origin.kind == "bucket":
        found.append(PhysicalName("cloudfront-origin-access", naming_.physical(name), naming.ORIGIN_ACCESS))
    if domain := spec.domain or settings.domain:
        found.append(PhysicalName("cloudfront-alias", domain, naming.DOMAIN))  # a CNAME serves one distribution
    return found


KIND = Kind(
    section="distributions",
    ref="distribution",
    spec=Spec,
    id_suffix="Distribution",
    attributes={"id": Attr(description="distribution id"), "domain": Attr("DomainName", description="*.cloudfront.net name")},
    names=names,
    synthesize=synthesize,
    implied=implied_origin_secret("origin"),
)
