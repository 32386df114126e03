"""principals: new and renamed roles, judged by what they may do.

A role that is new in a stage widens nothing it held before, so `access.widening` has
nothing to say of it; but a new function holding Cognito admin rights is exactly what a
reviewer must see. Two judgements over the roles a stage adds:

- **renamed**: a role removed from the stage (any stack) whose grants are the new one's,
  each covering the other (grants on the template's own resources, such as the function's
  log group, left out: they are renamed with it), is the same principal under a new name. A note says so,
  and the new role's admin levels are no risk: nothing it may do is new.
- **new principal** (BROADENS): otherwise, a new role whose identity policy reaches an
  admin or destructive level: a kind's own `admin` access level (`ADMIN`, read from the
  kinds' access tables), IAM writes, deleting a store of data (a table, a bucket, a
  queue's messages, a pool, a secret, recovery points: `DESTRUCTIVE`), or `kms:Decrypt` for
  a role that is not a function's (every function decrypts its own environment with the
  stage key). The message names the level and the data: "new function
  listbackup-prod-invoices-x gets user-pool:main admin". Plain read and write levels of a
  new function stay informational (its access is listed in full with the resource).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Iterable

from ..kinds import BY_REF, all_kinds  # the kinds' access tables are the source of the levels
from . import access
from .findings import BROADENS, Finding

NEW_PRINCIPAL = "new principal"
RENAMED_PRINCIPAL = "renamed principal"
FIX = ("check that what runs with the new role needs this level, and grant the narrowest one (`access:` levels); if "
       "intended, a reviewer approves it")

# Actions that delete a store of data, and what they delete (item deletes belong to the
# ordinary read-write levels and are not listed).
DESTRUCTIVE: dict[str, str] = {
    "dynamodb:deletetable": "deletes the table", "dynamodb:deletebackup": "deletes backups",
    "s3:deletebucket": "deletes the bucket", "s3:deleteobjectversion": "deletes object versions for good",
    "s3:putlifecycleconfiguration": "can expire every object",
    "sqs:deletequeue": "deletes the queue", "sqs:purgequeue": "purges the queue",
    "cognito-idp:deleteuserpool": "deletes the user pool", "secretsmanager:deletesecret": "deletes the secret",
    "logs:deleteloggroup": "deletes the logs", "events:deletearchive": "deletes the archive",
    "backup:deleterecoverypoint": "deletes recovery points", "backup:deletebackupvault": "deletes the vault",
    "kms:scheduledeletion": "schedules the key's deletion", "kms:schedulekeydeletion": "schedules the key's deletion",
    "kms:disablekey": "disables the key",
}
IAM_READS = ("get", "list", "simulate", "generate")


@functools.cache
def admin_actions() -> dict[str, str]:
    """Action (lower case) -> the kind whose `admin` access level alone grants it."""
    found: dict[str, str] = {}
    for kind in all_kinds():
        if "admin" not in kind.access:
            continue
        others = {a.lower() for level, grants in kind.access.items() if level != "admin" for g in grants for a in g.actions}
        for grant in kind.access["admin"]:
            found.update({a.lower(): kind.ref for a in grant.actions if a.lower() not in others})
    return found


def _data(resource: str) -> str:
    """What a grant's resource names, as the spec names it (`${import:svc-stage-user-pool-main:arn}`
    -> `user-pool:main`), else as the template shows it."""
    match = re.search(r"\$\{import:[^}]*?-(" + "|".join(map(re.escape, sorted(BY_REF, key=len, reverse=True))) +
                      r")-([a-z0-9-]+):[a-z-]+\}", resource)
    return f"{match.group(1)}:{match.group(2)}" if match else resource


def levels(grants: Iterable[access.Grant], function_role: bool) -> list[str]:
    """The admin and destructive levels among a role's identity grants, as words."""
    found: dict[str, set[str]] = {}
    for grant in grants:
        if grant.scope != "identity" or grant.effect != "Allow":
            continue
        action, data = grant.action.lower(), _data(grant.resource)
        if action == "managed policy":
            found.setdefault(f"managed policy {grant.resource}", set())
        elif "*" in action:
            service = action.split(":", 1)[0]
            if any(access._matches(action, a, case=False) for a in [*admin_actions(), *DESTRUCTIVE, "iam:createrole"]
                   if a.startswith(service + ":") or service == "*"):
                found.setdefault(f"{grant.action} on {data}", set())
        elif action in admin_actions():
            found.setdefault(f"{data} admin", set()).add(grant.action)
        elif action in DESTRUCTIVE:
            found.setdefault(f"{data} ({DESTRUCTIVE[action]})", set()).add(grant.action)
        elif action.startswith("iam:") and not action.split(":", 1)[1].startswith(IAM_READS):
            found.setdefault(f"IAM writes on {data}", set()).add(grant.action)
        elif action == "kms:decrypt" and not function_role:
            found.setdefault(f"decryption with {data}", set()).add(grant.action)
    return [f"{level}" + (f" ({', '.join(sorted(actions))})" if actions and "admin" in level else "")
            for level, actions in sorted(found.items())]


def _own(grants: Iterable[access.Grant], logicals: set[str]) -> frozenset[access.Grant]:
    """Grants without those on the template's own resources (`${Logical...}`), which a
    rename renames too."""
    local = re.compile(r"\$\{(" + "|".join(map(re.escape, sorted(logicals))) + r")[.}]") if logicals else None
    return frozenset(g for g in grants if local is None or not (local.search(g.resource) or local.search(g.principal)))


def _is_function_role(role: dict[str, Any]) -> bool:
    return any(g.scope == "trust" and g.principal == "Service:lambda.amazonaws.com" for g in access.grants(role))


def judge(added: dict[tuple[str, str], dict[str, Any]], removed: dict[tuple[str, str], dict[str, Any]],
          templates: dict[str, dict[str, Any]], old_templates: dict[str, dict[str, Any]]) -> dict[tuple[str, str], Finding]:
    """(stack, logical) of each added role -> its finding: renamed (a note) or new principal
    (BROADENS), or nothing for a new role with plain levels. `added`/`removed`: the roles the
    stage adds and removes; `templates`: new side, stack -> template (old side apart)."""
    def resources(side: dict[str, dict[str, Any]], stack: str) -> dict[str, Any]:
        return dict((side.get(stack) or {}).get("Resources") or {})

    gone = {key: _own(access.grants(role), set(resources(old_templates, key[0]))) for key, role in removed.items()}
    out: dict[tuple[str, str], Finding] = {}
    for (stack, logical), role in sorted(added.items()):
        mine = _own(access.grants(role), set(resources(templates, stack)))
        users = access.role_users(resources(templates, stack), logical)
        name = (role.get("Properties") or {}).get("RoleName")
        who = (f"new function{'s' if len(users) > 1 else ''} {', '.join(users)}" if users
               else f"new role {name if isinstance(name, str) else logical}")
        identity = {g for g in mine if g.scope == "identity"}
        same = [key for key, held in sorted(gone.items()) if identity and not access.gained(held, mine)
                and not access.gained(mine, held)]  # the same access both ways
        if same:
            was = (removed[same[0]].get("Properties") or {}).get("RoleName") or f"{same[0][0]}/{same[0][1]}"
            out[(stack, logical)] = Finding("", RENAMED_PRINCIPAL, f"{who} renamed from {was}: keeps its access (nothing "
                                                                   "it may do is new)")
            continue
        found = levels(access.grants(role), _is_function_role(role))
        if found:
            out[(stack, logical)] = Finding(BROADENS, NEW_PRINCIPAL, f"{who} gets " + "; ".join(found), FIX)
    return out
