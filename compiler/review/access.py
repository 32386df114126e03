"""access: who may do what, read from template resources, and what a change widens.

The review gate's BROADENS verdict. Access lives in a few places of a template, each read
here into **grants**: (scope, effect, principal, action, resource, condition), one per
combination a statement allows or denies, intrinsics shown as `${Logical.Attr}`,
`${import:export-name}`... so that a pattern (`arn:...:table/x/index/*`) can be matched:

- IAM roles: the inline policies (`identity`; one scope for all of a role's inline
  policies: moving a statement between them widens nothing), the trust policy (`trust`:
  who may assume the role) and managed policy ARNs;
- resource policies: queue, topic, bucket, secret and key policies; Lambda permissions
  (`invoke`: who may call a function, from which source);
- HTTP API routes (authorization type, authorizer, scopes) and JWT authorizers (issuer,
  audiences); a bucket's public access block;
- access held in settings rather than statements lives in `settings.py`.

A change **widens** access when the new side allows a combination no old grant covers (an
old `s3:Get*` covers a new `s3:GetObject`; an old condition covers a new one that keeps
every old key with fewer or the same values), when an old Deny is no longer covered by a
new one, or when a route or authorizer checks less. Narrowing is not a risk. Pure, over
template JSON; `diff` turns each widening into a BROADENS finding.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Iterator

# Resource type -> property holding one policy document, and the scope its grants get.
POLICY_DOCUMENTS: dict[str, tuple[str, str]] = {
    "AWS::IAM::Policy": ("PolicyDocument", "identity"),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument", "identity"),
    "AWS::SQS::QueuePolicy": ("PolicyDocument", "resource policy"),
    "AWS::SNS::TopicPolicy": ("PolicyDocument", "resource policy"),
    "AWS::S3::BucketPolicy": ("PolicyDocument", "resource policy"),
    "AWS::SecretsManager::ResourcePolicy": ("ResourcePolicy", "resource policy"),
    "AWS::KMS::Key": ("KeyPolicy", "key policy"),
}
ROLE = "AWS::IAM::Role"
PERMISSION = "AWS::Lambda::Permission"
ROUTE = "AWS::ApiGatewayV2::Route"
AUTHORIZER = "AWS::ApiGatewayV2::Authorizer"
BUCKET = "AWS::S3::Bucket"
FUNCTION = "AWS::Lambda::Function"
ACCESS_TYPES = frozenset({*POLICY_DOCUMENTS, ROLE, PERMISSION, ROUTE, AUTHORIZER, BUCKET})

# Causes of BROADENS findings (docs/review.md lists them).
PERMISSION_CAUSE = "permission"
TRUST = "trust policy"
RESOURCE_POLICY = "resource policy"
ROUTE_AUTH = "route auth"
AUTHORIZER_CAUSE = "authorizer"
PUBLIC_ACCESS = "public access"
FUNCTION_FIX = ("check that the handler needs each action; otherwise narrow the function's `access:` levels (a "
                "shared YAML anchor widens every function that uses it). If intended, a reviewer approves it")
FIXES = {
    PERMISSION_CAUSE: "check that what runs with the role needs each action; if intended, a reviewer approves it",
    TRUST: "name the exact principal and keep its conditions; if intended, a reviewer approves it",
    RESOURCE_POLICY: "keep the principal, source and conditions as narrow as before; if intended, a reviewer approves it",
    ROUTE_AUTH: "keep `auth` on the route (a public route is a visible choice: `auth: none` with its reason); if "
                "intended, a reviewer approves it",
    AUTHORIZER_CAUSE: "keep the issuer and audiences of the user pool the API serves; if intended, a reviewer approves it",
    PUBLIC_ACCESS: "keep the public access block on; serve public files through the distribution",
}
CAUSES = {"identity": PERMISSION_CAUSE, "trust": TRUST, "resource policy": RESOURCE_POLICY,
          "key policy": RESOURCE_POLICY, "invoke": RESOURCE_POLICY}


@dataclass(frozen=True, order=True)
class Grant:
    scope: str  # identity | trust | resource policy | key policy | invoke
    effect: str  # Allow | Deny
    principal: str  # "" for identity policies (the role itself); "*" for anyone
    action: str
    resource: str
    condition: str = ""  # canonical JSON of {operator: {key: [values]}}, "" for none


@dataclass(frozen=True)
class Widening:
    cause: str
    message: str
    fix: str = ""  # when it differs from the cause's (FIXES)

    @property
    def advice(self) -> str:
        return self.fix or FIXES[self.cause]


# ------------------------------------------------------------------------------------ showing values


def show(value: Any) -> str:
    """A template value as text, intrinsics as `${...}`, so that globs in it still match."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return f"${{{arg}}}"
        if fn == "Fn::GetAtt" and isinstance(arg, list):
            return "${" + ".".join(str(a) for a in arg) + "}"
        if fn == "Fn::ImportValue":
            return f"${{import:{show(arg)}}}"
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
            return str(arg[0]).join(show(part) for part in arg[1])
        if fn == "Fn::Sub":
            text, names = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
            return re.sub(r"\$\{([^}!]+)\}", lambda m: show(names[m[1]]) if m[1] in names else m[0], str(text))
    if isinstance(value, (int, float, bool)) or value is None:
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=4096)
def _glob(pattern: str, case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), 0 if case else re.IGNORECASE)


def _matches(pattern: str, value: str, case: bool = True) -> bool:
    """IAM's wildcards: `*` any run, `?` one character (actions are case-insensitive)."""
    return pattern == value or bool(_glob(pattern, case).fullmatch(value))


# ------------------------------------------------------------------------------------ grants


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principals(statement: dict[str, Any]) -> list[str]:
    if "NotPrincipal" in statement:
        return ["NOT " + show(statement["NotPrincipal"])]
    principal = statement.get("Principal")
    if principal is None:
        return [""]
    if principal == "*" or principal == {"AWS": "*"}:
        return ["*"]
    if isinstance(principal, dict):
        return sorted(f"{kind}:{show(v)}" for kind, values in principal.items() for v in _listed(values))
    return [show(principal)]


def _condition(condition: Any) -> str:
    if not isinstance(condition, dict) or not condition:
        return ""
    canonical = {op: {key: sorted(show(v) for v in _listed(values)) for key, values in sorted(keys.items())}
                 for op, keys in sorted(condition.items()) if isinstance(keys, dict)}
    return json.dumps(canonical, sort_keys=True, separators=(",", ":"))


def statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    return [s for s in _listed(document.get("Statement") or []) if isinstance(s, dict)]


def document_grants(document: Any, scope: str) -> Iterator[Grant]:
    for statement in statements(document):
        effect = str(statement.get("Effect", "Allow"))
        actions = (["NOT " + show(statement["NotAction"])] if "NotAction" in statement
                   else [show(a) for a in _listed(statement.get("Action") or [])])
        resources = (["NOT " + show(statement["NotResource"])] if "NotResource" in statement
                     else [show(r) for r in _listed(statement.get("Resource", "*"))])
        condition = _condition(statement.get("Condition"))
        for principal in _principals(statement):
            for action in actions:
                for resource in resources:
                    yield Grant(scope, effect, principal, action, resource, condition)


def grants(resource: dict[str, Any]) -> frozenset[Grant]:
    """Every grant a resource holds (empty for a type that holds none)."""
    kind, props = resource.get("Type"), resource.get("Properties") or {}
    found: list[Grant] = []
    if kind == ROLE:
        found += document_grants(props.get("AssumeRolePolicyDocument"), "trust")
        for policy in _listed(props.get("Policies") or []):
            if isinstance(policy, dict):
                found += document_grants(policy.get("PolicyDocument"), "identity")
        found += [Grant("identity", "Allow", "", "managed policy", show(arn), "") for arn in props.get("ManagedPolicyArns") or []]
    elif kind in POLICY_DOCUMENTS:
        prop, scope = POLICY_DOCUMENTS[kind]
        found += document_grants(props.get(prop), scope)
    elif kind == PERMISSION:
        condition: dict[str, Any] = {}
        if "SourceArn" in props:
            condition["ArnLike"] = {"AWS:SourceArn": props["SourceArn"]}
        if "SourceAccount" in props:
            condition["StringEquals"] = {"AWS:SourceAccount": props["SourceAccount"]}
        if "PrincipalOrgID" in props:
            condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = props["PrincipalOrgID"]
        if "FunctionUrlAuthType" in props:
            condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = props["FunctionUrlAuthType"]
        principal = props.get("Principal", "")
        found.append(Grant("invoke", "Allow", "*" if principal == "*" else show(principal), show(props.get("Action", "")),
                           show(props.get("FunctionName", "")), _condition(condition)))
    return frozenset(found)


def _condition_covers(old: str, new: str) -> bool:
    """Whether every request the new condition admits, the old one admitted too: each old
    key is still there with no value the old one lacked (no condition admits everything)."""
    if not old:
        return True
    if not new:
        return False
    before, after = json.loads(old), json.loads(new)
    for op, keys in before.items():
        for key, values in keys.items():
            now = after.get(op, {}).get(key)
            if now is None:
                return False
            like = "Like" in op
            if not all(v in values or (like and any(_matches(p, v) for p in values)) for v in now):
                return False
    return True


def covers(old: Grant, new: Grant) -> bool:
    """Whether `old` already allows (or denies) everything `new` does."""
    return (
        old.scope == new.scope and old.effect == new.effect
        and (old.principal == "*" or old.principal == new.principal)
        and _matches(old.action, new.action, case=False)
        and _matches(old.resource, new.resource)
        and _condition_covers(old.condition, new.condition)
    )


def gained(old: Iterable[Grant], new: Iterable[Grant]) -> list[Grant]:
    """New Allows no old Allow covers, and old Denies no new Deny covers (lifted)."""
    before, after = list(old), list(new)
    allows = [g for g in after if g.effect == "Allow" and not any(covers(o, g) for o in before if o.effect == "Allow")]
    lifted = [g for g in before if g.effect == "Deny" and not any(covers(n, g) for n in after if n.effect == "Deny")]
    return sorted(allows + lifted)


# ------------------------------------------------------------------------------------ words


def describe(found: Iterable[Grant], lifted: bool = False) -> list[str]:
    """Grants as lines, actions in full: `[principal ]Allow a, b on r1, r2 when {...}`.
    Actions are grouped per resource, then resources with the same actions are merged
    (every action of a line applies to every resource of it: nothing is implied)."""
    by_resource: dict[tuple[str, str, str, str, str], list[str]] = {}
    for g in sorted(found):
        by_resource.setdefault((g.scope, g.effect, g.principal, g.condition, g.resource), []).append(g.action)
    merged: dict[tuple[str, str, str, str, tuple[str, ...]], list[str]] = {}
    for (scope, effect, principal, condition, resource), held in by_resource.items():
        merged.setdefault((scope, effect, principal, condition, tuple(held)), []).append(resource)
    lines = []
    for (scope, effect, principal, condition, actions), resources in merged.items():
        who = f"{principal} " if principal else ""
        verb = "no longer Deny" if lifted else effect
        when = f" when {condition}" if condition else ""
        where = "" if scope == "trust" and resources == ["*"] else f" on {', '.join(resources)}"
        lines.append(f"{who}{verb} {', '.join(actions)}{where}{when}")
    return lines


def _grant_lines(found: list[Grant]) -> dict[str, list[str]]:
    """scope -> lines, allows and lifted denies apart."""
    out: dict[str, list[str]] = {}
    for scope in sorted({g.scope for g in found}):
        allows = [g for g in found if g.scope == scope and g.effect == "Allow"]
        denies = [g for g in found if g.scope == scope and g.effect != "Allow"]
        out[scope] = describe(allows) + describe(denies, lifted=True)
    return out


def policy_lines(resource: dict[str, Any]) -> list[str]:
    """A resource's access in full (for a new one): one line per group of grants, scope first."""
    found = sorted(grants(resource))
    lines = [f"{scope}: {text}" for scope in sorted({g.scope for g in found})
             for text in describe(g for g in found if g.scope == scope)]
    return lines + _route_lines(resource)


def _route_lines(resource: dict[str, Any]) -> list[str]:
    props = resource.get("Properties") or {}
    if resource.get("Type") == ROUTE:
        auth = props.get("AuthorizationType", "NONE")
        scopes = f" (scopes {', '.join(map(show, props['AuthorizationScopes']))})" if props.get("AuthorizationScopes") else ""
        return [f"route {props.get('RouteKey')}: " + ("public (AuthorizationType NONE)" if auth == "NONE" else f"{auth}{scopes}")]
    if resource.get("Type") == AUTHORIZER:
        jwt = props.get("JwtConfiguration") or {}
        return [f"authorizer: issuer {show(jwt.get('Issuer'))}, audiences {', '.join(show(a) for a in jwt.get('Audience') or [])}"]
    return []


# ------------------------------------------------------------------------------------ widening


def widening(old: dict[str, Any], new: dict[str, Any], users: Iterable[str] = ()) -> list[Widening]:
    """How a change of one resource widens access (empty when it does not). `users`: the
    functions that run with it (a role), named in the message."""
    if old.get("Type") != new.get("Type") or new.get("Type") not in ACCESS_TYPES:
        return []
    found = gained(grants(old), grants(new))
    who = sorted(users)
    subject = (f"functions {', '.join(who)} gain" if len(who) > 1 else f"function {who[0]} gains" if who
               else "the role gains" if new["Type"] == ROLE else "gains")
    out = []
    for scope, lines in _grant_lines(found).items():
        if scope == "identity":
            out.append(Widening(PERMISSION_CAUSE, f"{subject}: " + "; ".join(lines), FUNCTION_FIX if who else ""))
        elif scope == "trust":
            out.append(Widening(TRUST, "more principals may assume the role: " + "; ".join(lines)))
        elif scope == "invoke":
            out.append(Widening(RESOURCE_POLICY, "more callers may invoke the function: " + "; ".join(lines)))
        else:
            out.append(Widening(CAUSES[scope], f"the {scope} allows more: " + "; ".join(lines)))
    kind = new["Type"]
    before, after = old.get("Properties") or {}, new.get("Properties") or {}
    if kind == ROUTE:
        out += _route_widening(before, after)
    elif kind == AUTHORIZER:
        out += _authorizer_widening(before, after)
    elif kind == BUCKET:
        was = before.get("PublicAccessBlockConfiguration") or {}
        now = after.get("PublicAccessBlockConfiguration") or {}
        off = sorted(k for k, v in was.items() if v is True and now.get(k) is not True)
        if off:
            out.append(Widening(PUBLIC_ACCESS, f"the public access block no longer sets {', '.join(off)}"))
    return out


def _route_widening(before: dict[str, Any], after: dict[str, Any]) -> list[Widening]:
    key = after.get("RouteKey")
    was, now = before.get("AuthorizationType", "NONE"), after.get("AuthorizationType", "NONE")
    if now == "NONE" and was != "NONE":
        return [Widening(ROUTE_AUTH, f"route {key} becomes public: AuthorizationType {was} -> NONE")]
    if was == "NONE":
        return []  # a public route now checked: narrower
    if now != was:
        return [Widening(ROUTE_AUTH, f"route {key} changes how callers are checked: AuthorizationType {was} -> {now}")]
    out = []
    if show(before.get("AuthorizerId")) != show(after.get("AuthorizerId")):
        out.append(Widening(ROUTE_AUTH, f"route {key} is checked by another authorizer: "
                                        f"{show(before.get('AuthorizerId'))} -> {show(after.get('AuthorizerId'))}"))
    old_scopes = {show(s) for s in before.get("AuthorizationScopes") or []}
    new_scopes = {show(s) for s in after.get("AuthorizationScopes") or []}
    if old_scopes and not new_scopes:
        out.append(Widening(ROUTE_AUTH, f"route {key} no longer requires a scope (was any of {', '.join(sorted(old_scopes))})"))
    elif new_scopes - old_scopes and old_scopes:
        out.append(Widening(ROUTE_AUTH, f"route {key} accepts tokens with more scopes: +{', +'.join(sorted(new_scopes - old_scopes))}"))
    return out


def _authorizer_widening(before: dict[str, Any], after: dict[str, Any]) -> list[Widening]:
    out = []
    if before.get("AuthorizerType") != after.get("AuthorizerType"):
        out.append(Widening(AUTHORIZER_CAUSE, f"the authorizer changes type: {before.get('AuthorizerType')} -> "
                                              f"{after.get('AuthorizerType')}"))
    was, now = before.get("JwtConfiguration") or {}, after.get("JwtConfiguration") or {}
    if show(was.get("Issuer")) != show(now.get("Issuer")):
        out.append(Widening(AUTHORIZER_CAUSE, f"the authorizer trusts another token issuer: {show(was.get('Issuer'))} -> "
                                              f"{show(now.get('Issuer'))}"))
    added = sorted({show(a) for a in now.get("Audience") or []} - {show(a) for a in was.get("Audience") or []})
    if added:
        out.append(Widening(AUTHORIZER_CAUSE, f"the authorizer accepts tokens for more audiences: +{', +'.join(added)}"))
    if before.get("AuthorizerUri") != after.get("AuthorizerUri") and after.get("AuthorizerUri") is not None:
        out.append(Widening(AUTHORIZER_CAUSE, f"the authorizer runs other code: {show(before.get('AuthorizerUri'))} -> "
                                              f"{show(after.get('AuthorizerUri'))}"))
    return out


def role_users(resources: dict[str, dict[str, Any]], role: str) -> list[str]:
    """The functions of a template that run with `role` (by their names, else logical ids)."""
    out = []
    for logical, resource in resources.items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == FUNCTION and props.get("Role") == {"Fn::GetAtt": [role, "Arn"]}:
            name = props.get("FunctionName")
            out.append(name if isinstance(name, str) else logical)
    return sorted(out)
