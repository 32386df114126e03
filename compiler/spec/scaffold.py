"""scaffold: `platformc new service NAME`, the start of a new service that compiles, lints and
passes its test as written: a commented stack file (a table and two authenticated routes on
the stage's API, each function with exactly the access it uses), the handler module, and a
handler test on the mocked platform built from generated/dev (tests/handlers/).

Nothing is overwritten: a file that exists stops the command before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..model import NAME_PATTERN

LOCKOUTS = "account-lockouts"  # handlers/shared.py's caller() reads it: revoked tokens


class ScaffoldError(Exception):
    """The service cannot be written as asked (a bad name, a file in the way, no API)."""


@dataclass(frozen=True)
class Service:
    name: str
    api: str
    lockouts: bool  # the platform has the revocation table handlers/shared.py reads

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def env(self) -> str:
        return self.name.upper().replace("-", "_") + "_TABLE"

    def stack(self) -> str:
        read = f"table:{self.name}: read" + (f", table:{LOCKOUTS}: read" if self.lockouts else "")
        write = f"table:{self.name}: write" + (f", table:{LOCKOUTS}: read" if self.lockouts else "")
        lockouts = (f"\n# Every authenticated function reads {LOCKOUTS}: handlers/shared.py's caller() refuses\n"
                    "# revoked tokens there." if self.lockouts else "")
        return f"""# yaml-language-server: $schema=../../docs/schema/stack.schema.json
# The {self.name} service, started by `platformc new service {self.name}`: a table of items by
# id and two authenticated routes on api:{self.api}. Each function is granted exactly what its
# handler touches (`access:`); the compiler derives its role and environment from that
# (the table's name arrives as {self.env}). The format: docs/spec.md.{lockouts}
description: {self.name} service

defaults:
  functions: {{api: api:{self.api}, timeout: 10s, memory: 256}}

tables:
  {self.name}:
    hash_key: id:S

functions:
  {self.name}-get:
    handler: {self.module}.get_item
    access: {{{read}}}
    routes:
      - GET /{self.name}/{{id}}      # a block item: `{{` inside [...] would be a YAML mapping
  {self.name}-put:
    handler: {self.module}.put_item
    access: {{{write}}}
    routes:
      - PUT /{self.name}/{{id}}
"""

    def handler(self) -> str:
        return f'''"""The {self.name} service: items by id, owned by the caller who wrote them.

Started by `platformc new service {self.name}` (spec/api/{self.name}.yaml). Configuration
comes from the environment the compiler derives from `access:` ({self.env}).
"""

from __future__ import annotations

from shared import Event, HttpError, Response, body, caller, http, path, respond, table


@http
def get_item(event: Event) -> Response:
    """GET /{self.name}/{{id}}: the caller's item."""
    owner = caller(event)
    item = table("{self.env}").get_item(Key={{"id": path(event, "id")}}).get("Item")
    if item is None or item.get("owner") != owner:
        raise HttpError(404, "not_found", "no such item")
    return respond(200, item)


@http
def put_item(event: Event) -> Response:
    """PUT /{self.name}/{{id}}: store the JSON body as the caller's item."""
    owner = caller(event)
    item = {{"id": path(event, "id"), "owner": owner, "data": body(event)}}
    table("{self.env}").put_item(Item=item)
    return respond(200, item)
'''

    def test(self) -> str:
        return f'''"""The {self.name} handlers on the mocked dev platform (generated/dev), as deployed."""

from __future__ import annotations

from tests.handlers.platform import Platform, api_event, json_body

OWNER = {{"sub": "{self.name}-owner", "iat": "1700000000"}}


def test_an_item_is_stored_and_read_back_by_its_owner_only(aws: Platform) -> None:
    stored = aws.invoke("{self.name}-put", api_event("PUT", "/{self.name}/a1", {{"colour": "blue"}}, claims=OWNER,
                                                     params={{"id": "a1"}}))
    assert stored["statusCode"] == 200, stored
    read = aws.invoke("{self.name}-get", api_event("GET", "/{self.name}/a1", claims=OWNER, params={{"id": "a1"}}))
    assert json_body(read) == {{"id": "a1", "owner": OWNER["sub"], "data": {{"colour": "blue"}}}}
    other = {{**OWNER, "sub": "someone-else"}}
    hidden = aws.invoke("{self.name}-get", api_event("GET", "/{self.name}/a1", claims=other, params={{"id": "a1"}}))
    assert hidden["statusCode"] == 404
'''


def new_service(root: Path, spec_dir: Path, name: str, apis: list[str], tables: set[str], api: str | None = None) -> list[Path]:
    """Write the service's three files under `root`; return them. `apis` and `tables` are the
    names the spec declares (the route's API must exist; the revocation table is used if so)."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ScaffoldError(f"'{name}' is not a name: lowercase letters, digits and single hyphens, starting with a letter")
    if api is None:
        if len(apis) != 1:
            raise ScaffoldError(f"the spec declares {len(apis)} APIs ({', '.join(apis) or 'none'}): name one with --api")
        api = apis[0]
    elif api not in apis:
        raise ScaffoldError(f"the spec declares no api '{api}' (it has: {', '.join(apis) or 'none'})")
    if name in tables:
        raise ScaffoldError(f"the spec already declares a table '{name}': choose another service name")
    service = Service(name, api, LOCKOUTS in tables)
    files = {
        spec_dir / "api" / f"{name}.yaml": service.stack(),
        root / "handlers" / f"{service.module}.py": service.handler(),
        root / "tests" / "handlers" / f"test_{service.module}.py": service.test(),
    }
    taken = [str(p) for p in files if p.exists()]
    if taken:
        raise ScaffoldError(f"{', '.join(taken)} exist already: nothing was written")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return list(files)
