"""settings: access held in a resource's settings rather than in policy statements, and
what a change of them widens — the review gate's BROADENS beside access.py's statements.

- an OIDC provider: its issuer, the audiences it accepts (`ClientIdList`) and the server
  certificates it trusts (`ThumbprintList`);
- a user-pool app client: auth flows, OAuth flows and scopes, callback URLs, identity
  providers, OAuth on, its secret, token revocation, user-existence errors, and how long
  its access, ID and refresh tokens live (compared in seconds, units included);
- a Cognito group's role (its members get it);
- a Lambda function URL's auth type and CORS; an HTTP API's CORS;
- a WAF web ACL's rules (removed, or switched to count) and its default action.

Each widening is one `access.Widening` with its cause and fix; narrowing is quiet.
"""

from __future__ import annotations

from typing import Any, Callable

from .access import Widening, _listed, show

OIDC = "AWS::IAM::OIDCProvider"
APP_CLIENT = "AWS::Cognito::UserPoolClient"
GROUP = "AWS::Cognito::UserPoolGroup"
FUNCTION_URL = "AWS::Lambda::Url"
API = "AWS::ApiGatewayV2::Api"
WEB_ACL = "AWS::WAFv2::WebACL"

# Causes of BROADENS findings (docs/review.md lists them), and their fixes.
OIDC_CAUSE = "OIDC provider"
APP_CLIENT_CAUSE = "app client"
GROUP_ROLE = "group role"
FUNCTION_URL_CAUSE = "function URL"
CORS = "CORS"
WAF = "WAF"
FIXES = {
    OIDC_CAUSE: "trust only the audiences and certificates of the identity provider the roles were made for; if "
                "intended, a reviewer approves it",
    APP_CLIENT_CAUSE: "keep the client's flows, scopes, callback URLs and token lifetimes to what the front end uses; "
                      "if intended, a reviewer approves it",
    GROUP_ROLE: "check what the role allows before members of the group get it; if intended, a reviewer approves it",
    FUNCTION_URL_CAUSE: "keep the function URL on AWS_IAM auth (or remove it: the API serves the function); if "
                        "intended, a reviewer approves it",
    CORS: "list the front end's exact origins (no `*`, no credentials with broad origins); if intended, a reviewer "
          "approves it",
    WAF: "keep each rule blocking (count is for testing a new rule, not for turning one off); if intended, a reviewer "
         "approves it",
}


def _widening(cause: str, message: str) -> Widening:
    return Widening(cause, message, FIXES[cause])


def _added(before: Any, after: Any) -> list[str]:
    """The values of a list setting the new side has and the old one lacked, as text."""
    return sorted({show(v) for v in _listed(after or [])} - {show(v) for v in _listed(before or [])})


def _plus(values: list[str]) -> str:
    return "+" + ", +".join(values)


def _oidc_widening(before: dict[str, Any], after: dict[str, Any]) -> list[Widening]:
    out = []
    if show(before.get("Url")) != show(after.get("Url")):
        out.append(_widening(OIDC_CAUSE, f"the provider trusts another issuer: {show(before.get('Url'))} -> {show(after.get('Url'))}"))
    if added := _added(before.get("ClientIdList"), after.get("ClientIdList")):
        out.append(_widening(OIDC_CAUSE, f"tokens for more audiences are accepted: {_plus(added)}"))
    if added := _added(before.get("ThumbprintList"), after.get("ThumbprintList")):
        out.append(_widening(OIDC_CAUSE, f"more server certificates are trusted: {_plus(added)}"))
    return out


TOKEN_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
TOKEN_DEFAULTS = {"AccessToken": (60, "minutes"), "IdToken": (60, "minutes"), "RefreshToken": (30, "days")}


def _token_seconds(props: dict[str, Any], token: str) -> int | None:
    value = props.get(f"{token}Validity")
    default, unit = TOKEN_DEFAULTS[token]
    unit = str((props.get("TokenValidityUnits") or {}).get(token, unit))
    number = default if value is None else value
    return int(number) * TOKEN_UNITS.get(unit, 1) if isinstance(number, int) else None


def _app_client_widening(before: dict[str, Any], after: dict[str, Any]) -> list[Widening]:
    out = []
    for prop, words in (("ExplicitAuthFlows", "more sign-in flows"), ("AllowedOAuthFlows", "more OAuth flows"),
                        ("AllowedOAuthScopes", "more OAuth scopes"), ("CallbackURLs", "more callback URLs"),
                        ("SupportedIdentityProviders", "more identity providers")):
        if added := _added(before.get(prop), after.get(prop)):
            out.append(_widening(APP_CLIENT_CAUSE, f"the app client allows {words}: {_plus(added)}"))
    if after.get("AllowedOAuthFlowsUserPoolClient") is True and before.get("AllowedOAuthFlowsUserPoolClient") is not True:
        out.append(_widening(APP_CLIENT_CAUSE, "the app client turns OAuth on (AllowedOAuthFlowsUserPoolClient -> true)"))
    if after.get("GenerateSecret") is not True and before.get("GenerateSecret") is True:
        out.append(_widening(APP_CLIENT_CAUSE, "the app client no longer has a secret (a public client)"))
    if before.get("EnableTokenRevocation", True) is not False and after.get("EnableTokenRevocation", True) is False:
        out.append(_widening(APP_CLIENT_CAUSE, "refresh tokens can no longer be revoked (EnableTokenRevocation -> false)"))
    if before.get("PreventUserExistenceErrors") == "ENABLED" and after.get("PreventUserExistenceErrors") != "ENABLED":
        out.append(_widening(APP_CLIENT_CAUSE, "sign-in errors reveal which users exist (PreventUserExistenceErrors "
                                              f"ENABLED -> {after.get('PreventUserExistenceErrors', 'LEGACY')})"))
    for token in TOKEN_DEFAULTS:
        was, now = _token_seconds(before, token), _token_seconds(after, token)
        if was is not None and now is not None and now > was:
            out.append(_widening(APP_CLIENT_CAUSE, f"{token.replace('Token', ' tokens').lower()} live longer: {was} s -> {now} s"))
    return out


def _group_widening(before: dict[str, Any], after: dict[str, Any]) -> list[Widening]:
    was, now = show(before.get("RoleArn")) if "RoleArn" in before else None, show(after.get("RoleArn")) if "RoleArn" in after else None
    if now is None or now == was:
        return []
    name = show(after.get("GroupName"))
    return [_widening(GROUP_ROLE, f"members of group {name} get role {now}" + (f" (was {was})" if was else ""))]


def _cors_widening(before: Any, after: Any, what: str) -> list[Widening]:
    was, now = before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {}
    if not now:
        return []
    out = []
    if not was:
        origins = ", ".join(show(o) for o in _listed(now.get("AllowOrigins") or []))
        return [_widening(CORS, f"{what} answers cross-origin requests from {origins or 'no origin'}")]
    if added := _added(was.get("AllowOrigins"), now.get("AllowOrigins")):
        out.append(_widening(CORS, f"{what} answers cross-origin requests from more origins: {_plus(added)}"))
    if now.get("AllowCredentials") is True and was.get("AllowCredentials") is not True:
        out.append(_widening(CORS, f"{what} lets other origins send credentials (AllowCredentials -> true)"))
    for prop, words in (("AllowMethods", "methods"), ("AllowHeaders", "headers"), ("ExposeHeaders", "exposed headers")):
        if added := _added(was.get(prop), now.get(prop)):
            out.append(_widening(CORS, f"{what} allows more cross-origin {words}: {_plus(added)}"))
    return out


def _url_widening(before: dict[str, Any], after: dict[str, Any]) -> list[Widening]:
    out = []
    if after.get("AuthType") == "NONE" and before.get("AuthType") != "NONE":
        out.append(_widening(FUNCTION_URL_CAUSE, f"the function URL becomes public: AuthType {before.get('AuthType')} -> NONE"))
    return out + _cors_widening(before.get("Cors"), after.get("Cors"), "the function URL")


def _action(rule: dict[str, Any]) -> str:
    """What a WAF rule does with a match: its action, or its rule group's override."""
    for prop in ("Action", "OverrideAction"):
        value = rule.get(prop)
        if isinstance(value, dict) and value:
            return f"{prop} {sorted(value)[0]}"
    return "none"


def _waf_widening(before: dict[str, Any], after: dict[str, Any]) -> list[Widening]:
    out = []
    was = {show(r.get("Name")): r for r in _listed(before.get("Rules") or []) if isinstance(r, dict)}
    now = {show(r.get("Name")): r for r in _listed(after.get("Rules") or []) if isinstance(r, dict)}
    if gone := sorted(set(was) - set(now)):
        out.append(_widening(WAF, f"rules no longer applied: {', '.join(gone)}"))
    for name in sorted(set(was) & set(now)):
        old_action, new_action = _action(was[name]), _action(now[name])
        if new_action in ("Action Count", "OverrideAction Count") and old_action != new_action:
            out.append(_widening(WAF, f"rule {name} only counts what it used to stop: {old_action} -> {new_action}"))
    old_default, new_default = sorted(before.get("DefaultAction") or {}), sorted(after.get("DefaultAction") or {})
    if new_default == ["Allow"] and old_default != ["Allow"]:
        out.append(_widening(WAF, f"requests no rule matches are allowed: DefaultAction {', '.join(old_default)} -> Allow"))
    return out


# Resource type -> how a change of its settings widens access (old and new properties).
SETTINGS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[Widening]]] = {
    OIDC: _oidc_widening, APP_CLIENT: _app_client_widening, GROUP: _group_widening, FUNCTION_URL: _url_widening,
    API: lambda before, after: _cors_widening(before.get("CorsConfiguration"), after.get("CorsConfiguration"), "the API"),
    WEB_ACL: _waf_widening,
}


def widening(old: dict[str, Any], new: dict[str, Any]) -> list[Widening]:
    """How a change of one resource's settings widens access (empty when it does not)."""
    if old.get("Type") != new.get("Type") or new.get("Type") not in SETTINGS:
        return []
    return SETTINGS[new["Type"]](old.get("Properties") or {}, new.get("Properties") or {})
