"""Commands of the local platform: up, down, token, invoke, logs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .. import naming
from ..naming import HANDLERS_DIR
from . import main, _handle_errors, build, spec_option, out_option, _deployer, _report, EXIT_FINDINGS


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--attach", is_flag=True, help="Stay in the foreground and stream the functions' log lines; Ctrl-C (or a kill) stops everything.")
@click.option("--no-throttle", is_flag=True, help="Serve without the stage's throttling (for local load tests).")
@click.option("--allow-risk", is_flag=True, help="Apply changes that replace, lose data or are blocked (local data only).")
@click.option("--port", type=int, default=None,
              help="The API's port (default: the one this stage's API had last time, if free, else any free one).")
@spec_option
@out_option
@_handle_errors
def up(stage: str, attach: bool, no_throttle: bool, allow_risk: bool, port: int | None, spec_dir: Path, out_dir: Path) -> None:
    """Run the stage on 127.0.0.1: a local AWS (moto server) with the stage deployed, and
    its HTTP APIs served by a local API gateway (JWT auth against the local user pool).

    Packages the handlers beside SPEC (into .build/artifacts), deploys OUT/<stage> (its
    bootstrap stack first; only changed stacks on a re-run), then (re)starts the gateway, which reads OUT/<stage> and
    runs each function from the handlers folder in its own worker. `platformc token` gives
    a signed-in local user; `platformc down` stops every process `up` started.
    """
    import importlib.util

    from ..local import emulator as local
    from ..delivery.deploy import DeployError
    from ..delivery.package import handler_modules
    from ..delivery.package import package as build_artifacts

    if importlib.util.find_spec("moto") is None:
        raise click.ClickException("the local platform needs the AWS emulator, which this install lacks: "
                                   "pip install 'listbackup-platformc[local]'")
    endpoint = local.start()
    click.echo(f"local AWS at {endpoint} (AWS_ENDPOINT_URL={endpoint}, any credentials)")
    result = build(spec_dir, stage, display_root=Path.cwd())
    handlers = spec_dir.parent / HANDLERS_DIR
    build_artifacts(handlers, Path(naming.ARTIFACTS_DIR), handler_modules(result.resolved.values()))
    try:
        deployer = _deployer(stage, out_dir, True, endpoint, local=True, allow_risk=allow_risk)
        results = (deployer.bootstrap() if deployer.manifest.bootstrap_stacks else []) + deployer.deploy()
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    dropped = sorted({item.split(" (")[1].rstrip(")") for items in deployer.dropped.values() for item in items})
    if dropped:
        click.echo(f"the emulator does not model these types; they were left out locally: {', '.join(dropped)}")
    for stack, outputs in sorted(deployer.outputs().items()):
        for key, value in sorted(outputs.items()):
            click.echo(f"  {stack}.{key} = {value}")
    _report(results)
    for line in local.start_gateway(stage, out_dir, endpoint, handlers, throttle=not no_throttle, port=port):
        click.echo(line)
    click.echo(f"a signed-in user: platformc token --stage {stage} --email you@example.com; stop: platformc down")
    if attach:
        local.attach(click.echo)


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--email", required=True, help="The user's e-mail (its user name).")
@click.option("--password", default=None, help="Default: a generated one, printed.")
@click.option("--name", default="Local User", show_default=True)
@click.option("--group", "groups", multiple=True, help="Add the user to this group of the pool (repeatable).")
@click.option("--export", "as_exports", is_flag=True,
              help="Print `export ID_TOKEN=... ACCESS_TOKEN=...` lines for `eval \"$(platformc token ... --export)\"`.")
@out_option
@_handle_errors
def token(stage: str, email: str, password: str | None, name: str, groups: tuple[str, ...], as_exports: bool,
          out_dir: Path) -> None:
    """Create (or reuse) a confirmed user in the stage's local user pool and print its tokens.

    Local only: talks to the AWS emulator `up` started. With --export, for a shell:
    `eval "$(platformc token --stage dev --email you@example.com --export)"`, then
    `curl -H "Authorization: Bearer $ID_TOKEN" http://127.0.0.1:PORT/users/me`.
    """
    from ..local import emulator as local

    try:
        tokens = local.sign_in(stage, out_dir, email, password, name, groups)
    except local.LocalError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_exports:  # for a shell to eval: quoted, one variable a line
        import shlex

        for name_, key in (("ID_TOKEN", "id_token"), ("ACCESS_TOKEN", "access_token"), ("REFRESH_TOKEN", "refresh_token")):
            click.echo(f"export {name_}={shlex.quote(str(tokens[key]))}")
        return
    click.echo(json.dumps(tokens, indent=2))


@main.command()
@click.argument("function")
@click.option("--stage", default="dev", show_default=True)
@click.option("--event", "event_file", type=click.File("r"), default=None,
              help="The event as JSON: a file, or - for standard input (default: {}).")
@click.option("--as", "as_email", default=None, metavar="EMAIL",
              help="A function behind a route: call it through the local API as this signed-in user (made if new).")
@click.option("--path", "path", default=None, help="A route with {variables}: the path to call, e.g. /users/u-1.")
@click.option("--body", default=None, help="A route: the request body (JSON text).")
@spec_option
@out_option
@_handle_errors
def invoke(function: str, stage: str, event_file: Any, as_email: str | None, path: str | None, body: str | None,
           spec_dir: Path, out_dir: Path) -> None:
    """Run one function on the local platform and print its result.

    FUNCTION is its short name (users-get-me) or physical name. It runs as the gateway runs
    it: the handler from the handlers folder beside SPEC, the environment and role the
    function has on the local AWS (`up` first), every AWS call checked against the role.
    A function behind an HTTP route, given no --event, is called through the local API, which
    builds the event (headers, origin secret, and with --as EMAIL a signed-in user's claims).
    """
    from ..local import emulator as local
    from ..manifest import Manifest
    from ..local.runtime import FunctionConfig, Invocation, Pool

    manifest = Manifest.read(out_dir, stage)
    if manifest is None:
        raise click.ClickException(f"{out_dir / stage}/manifest.json not found: run `make compile STAGE={stage}` first")
    try:
        endpoint = local.endpoint()
    except local.LocalError as exc:
        raise click.ClickException(str(exc)) from exc
    name = function if function.startswith(f"{manifest.service}-{stage}-") else f"{manifest.service}-{stage}-{function}"
    aws = local.clients(endpoint, manifest.region)
    if event_file is None and (routed := _route_of(name, manifest, out_dir, aws)) is not None:
        return _call_route(stage, out_dir, *routed, as_email, path, body)
    event = json.loads(event_file.read()) if event_file is not None else {}
    try:
        config = FunctionConfig.read(name, aws("lambda"), aws("iam"), manifest.region)
    except Exception as exc:  # noqa: BLE001 - a missing function is the user's mistake
        raise click.ClickException(f"no function {name} on the local AWS ({type(exc).__name__}): run `make up STAGE={stage}`") from exc
    pool = Pool(endpoint, spec_dir.parent / HANDLERS_DIR, local.LOGS)
    try:
        click.echo(json.dumps(pool.invoke(config, event), indent=2, default=str))
    except Invocation as failed:
        click.echo(f"{name}: {failed.kind}: {failed} (log: {local.LOGS / (name + '.log')})", err=True)
        sys.exit(EXIT_FINDINGS)
    finally:
        pool.close()


def _route_of(name: str, manifest: Any, out_dir: Path, aws: Any) -> tuple[str, Any] | None:
    """(API name, route) of the function's route on the local API, or None (no route, or several)."""
    from ..local.gateway import load_apis, stack_exports

    templates = {s: json.loads(manifest.template_path(out_dir, s).read_text()) for s in manifest.stacks}
    found = [(api.name, route) for api in load_apis(templates, stack_exports(aws("cloudformation")), aws) for route in api.routes
             if route.function == name]
    return found[0] if len(found) == 1 else None


def _call_route(stage: str, out_dir: Path, api: str, route: Any, as_email: str | None, path: str | None,
                body: str | None) -> None:
    """The function behind a route, called through the local API: the gateway builds the event
    (headers, the origin secret CloudFront adds, the signed-in user's claims)."""
    import re
    import urllib.error
    import urllib.request

    from ..local import emulator as local

    state = json.loads(local.STATE.read_text()) if local.STATE.exists() else {}
    urls = dict(line.split()[1:3] for line in state.get("gateway", {}).get("apis", []) if line.startswith("API "))
    if api not in urls:
        raise click.ClickException(f"the local API {api} is not being served: run `make up STAGE={stage}`")
    if path is None and "{" in route.path:
        example = re.sub(r"{([^}+]+)[+]?}", r"<\1>", route.path)
        raise click.ClickException(f"route {route.key} has variables: give --path, e.g. --path {example}")
    headers = {"content-type": "application/json"}
    if as_email:
        headers["authorization"] = "Bearer " + local.sign_in(stage, out_dir, as_email, None, "Local User", ())["id_token"]
    method = "GET" if route.method == "ANY" else route.method
    request = urllib.request.Request(urls[api] + (path or route.path), method=method, headers=headers,
                                     data=body.encode() if body is not None else None)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - the local gateway on 127.0.0.1
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    click.echo(f"{method} {path or route.path} -> {status}", err=True)
    click.echo(raw.decode() or "")
    if status >= 500:
        sys.exit(EXIT_FINDINGS)


@main.command()
@click.argument("function")
@click.option("--stage", default="dev", show_default=True)
@click.option("--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--aws", "remote", is_flag=True, help="Read CloudWatch Logs of the deployed stage instead of the local logs.")
@out_option
@_handle_errors
def logs(function: str, stage: str, follow: bool, remote: bool, out_dir: Path) -> None:
    """Print a function's log lines: local runs (`up`, `invoke`), or with --aws its CloudWatch Logs."""
    from ..local import emulator as local
    from ..manifest import Manifest

    manifest = Manifest.read(out_dir, stage)
    service = manifest.service if manifest else "listbackup"
    name = function if function.startswith(f"{service}-{stage}-") else f"{service}-{stage}-{function}"
    if remote:
        import boto3

        client = boto3.client("logs", region_name=manifest.region if manifest else None)
        for page in client.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/{name}"):
            for event in page["events"]:
                click.echo(event["message"].rstrip("\n"))
        return
    path = local.LOGS / f"{name}.log"
    if not path.exists() and not follow:
        raise click.ClickException(f"no local log for {name} yet ({path}): call the function first")
    try:
        for line in local.tail(path, follow):
            click.echo(line)
    except KeyboardInterrupt:
        pass


@main.command()
@_handle_errors
def down() -> None:
    """Stop what `up` started: the gateway, its function workers and the local AWS (its state goes with it)."""
    from ..local import emulator as local

    click.echo("the gateway and the local AWS stopped" if local.stop() else "no local AWS was running")


@main.command()
@click.argument("kind", metavar="TYPE", type=click.Choice(["sqs", "eventbridge", "http"]))
@click.option("--function", "function", default=None, metavar="NAME",
              help="Shape it for this function (short or physical name): its queue, its rule, its route.")
@click.option("--rule", default=None, metavar="NAME", help="eventbridge: the rule whose pattern to match (e.g. system-errors).")
@click.option("--route", default=None, metavar="KEY", help="http: the function's route to call, e.g. 'GET /users/{userId}'.")
@click.option("--stage", default="dev", show_default=True)
@out_option
@_handle_errors
def event(kind: str, function: str | None, rule: str | None, route: str | None, stage: str, out_dir: Path) -> None:
    """Print a sample event of TYPE (sqs, eventbridge, http) to edit, shaped as AWS sends it.

    With --function, read from OUT/<stage>: an SQS record from the queue the function
    consumes (FIFO attributes for a .fifo queue; the rule's event as its body when a rule
    feeds that queue), an EventBridge event matching the rule that targets it, or an HTTP
    API 2.0 event for its route (path parameters, a body, a signed-in user's claims when
    the route needs a JWT). Feed it back with
    `platformc event sqs --function sync-worker | platformc invoke sync-worker --event -`.
    """
    from ..local.events import EventError, sample

    try:
        click.echo(json.dumps(sample(out_dir, stage, kind, function, rule, route), indent=2, sort_keys=True))
    except EventError as exc:
        raise click.ClickException(str(exc)) from exc
