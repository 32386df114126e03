"""P010: every route is behind an authorizer unless the spec says `auth: none`."""

from __future__ import annotations

from typing import Iterator

from .base import Rule, Unit, props


def check(unit: Unit) -> Iterator[tuple[str, str]]:
    for logical, resource in unit.resources("AWS::ApiGatewayV2::Route"):
        if props(resource).get("AuthorizationType", "NONE") != "NONE":
            continue
        if (resource.get("Metadata") or {}).get("Auth") != "none":
            yield logical, f"route {props(resource).get('RouteKey')} has no authorizer and was not declared `auth: none`"


RULE = Rule("P010", "Authorized routes", "Routes use the JWT authorizer unless declared public.", check)
