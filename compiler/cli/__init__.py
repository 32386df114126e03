"""platformc: the command line. Parses arguments, maps outcomes to exit codes, nothing else.

Exit codes: 0 clean; 1 findings (spec errors, stale generated/, lint findings);
2 usage (click); 4 `diff` found a risk (BROADENS, REPLACE, DATA LOSS, BLOCKED) and no
--allow-risk;
123 internal error (a compiler bug: shown with its traceback).
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import click

from ..build import heap
from ..diagnostics import InternalError, SpecError, render_json, render_text
from ..delivery.errors import aws_user_error
from ..naming import ALL

heap.freeze_at_exit()  # the last collection at exit costs a fifth of a 1x compile


def build(spec_dir: Path, stage: str = ALL, display_root: Path | None = None) -> Any:
    """pipeline.build, imported when a command compiles (start-up stays light). The import
    builds the kinds' models (tens of thousands of long-lived objects): the cyclic collector
    is paused for it as pipeline.build pauses it for the build (~20 ms of rescans)."""
    with heap.paused():
        from ..build.pipeline import build as run
    return run(spec_dir, stage, display_root=display_root)

EXIT_FINDINGS = 1
EXIT_RISK = 4
EXIT_DRIFT = 5
EXIT_INTERNAL = 123
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Spec errors: rendered diagnostics, exit 1, no traceback. Bugs: traceback, exit 123."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SpecError as exc:  # pipeline.BuildError carries the files to render excerpts from
            fmt = kwargs.get("fmt", "text")
            render = render_json if fmt == "json" else render_text
            click.echo(render(exc.diagnostics, getattr(exc, "files", {})), err=fmt != "json", nl=False)
            sys.exit(EXIT_FINDINGS)
        except (InternalError, Exception) as exc:  # noqa: BLE001 - the last line of defence
            if isinstance(exc, (click.exceptions.Exit, click.ClickException, SystemExit)):
                raise
            if (problem := aws_user_error(exc)) is not None:  # credentials, region, access, network
                click.echo(f"platformc: {problem}", err=True)
                sys.exit(EXIT_FINDINGS)
            traceback.print_exc()
            click.echo(f"platformc: internal error ({type(exc).__name__}); please report it with the spec", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


spec_option = click.option(
    "--spec", "spec_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("spec"), show_default=True,
    help="Folder of YAML specs (platform.yaml and one file per stack); handler code is looked up in handlers/ beside it.",
)
out_option = click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("generated"), show_default=True,
    help="Folder of generated templates.",
)
endpoint_option = click.option(
    "--endpoint-url", default=None, help="A local AWS emulator (the moto server `up` starts).",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="How to print spec errors: text (file:line:col) or json.",
)


def use_colour(asked: bool | None, terminal: bool, environ: Any) -> bool:
    """--color/--no-color when given; else colour only on a terminal, and never under NO_COLOR
    (https://no-color.org: set to anything non-empty)."""
    if asked is not None:
        return asked
    return terminal and not environ.get("NO_COLOR")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="listbackup-platformc", prog_name="platformc", message="%(prog)s %(version)s")
def main() -> None:
    """platformc: compile ListBackup platform specs (YAML) into CloudFormation stacks."""


def _ask(question: str, err: bool) -> bool:
    """A yes/no question; a closed standard input (or Ctrl-C at the prompt) answers no."""
    try:
        return click.confirm(question, default=False, err=err)
    except click.Abort:
        return False


def _deployer(
    stage: str, out_dir: Path, yes: bool, endpoint_url: str | None, local: bool = False, allow_risk: bool = False,
    err: bool = False, ci_implies_yes: bool = True,
) -> Any:
    from ..delivery.deploy import Deployer
    from ..local.emulator import LocalDeployer

    return (LocalDeployer if local else Deployer)(
        out_dir, stage, endpoint_url=endpoint_url, yes=yes or (ci_implies_yes and bool(os.environ.get("CI"))),
        allow_risk=allow_risk, echo=lambda line: click.echo(line, err=err),
        confirm=lambda question: _ask(question, err),
    )


def _report(results: list[Any], err: bool = False) -> None:
    for result in results:
        click.echo(f"  {result.stack:<32} {result.status}{': ' + result.detail if result.detail else ''}", err=err)
    if any(r.status == "failed" for r in results):
        click.echo("deploy failed: fix the cause and run it again (finished stacks stay as they are)", err=True)
        sys.exit(EXIT_FINDINGS)


from . import build_cmds, delivery_cmds, local_cmds, review_cmds  # noqa: E402 - they register their commands on `main`

# One line each in `platformc --help` (click would cut the docstrings' first sentences).
SUMMARIES = {
    "adopt": "Plan, then with --yes perform, the take-over of resources that exist under the stage's names.",
    "bootstrap": "Deploy a stage's bootstrap stack (deploy roles, bucket).",
    "check": "Fail if generated/ differs from what the spec compiles to.",
    "compile": "Compile the spec into CloudFormation templates in generated/.",
    "deploy": "Deploy a stage through change sets, level by level.",
    "destroy": "Delete a stage's stacks (retained resources stay).",
    "diff": "What deploying the spec would change against a git ref: risks first.",
    "doctor": "What a first deploy into an account needs, checked read-only (exit 1 if missing).",
    "drift": "Whether a deployed stage still matches generated/ (exit 5).",
    "event": "A sample SQS, EventBridge or HTTP event to edit and invoke with.",
    "down": "Stop the local platform: gateway, workers and local AWS.",
    "graph": "Write and print the stage's stack graph (Mermaid).",
    "invoke": "Run one function on the local platform; print its result.",
    "lint": "cfn-lint and the policy rules over generated/ (cached).",
    "logs": "A function's log lines: local runs, or CloudWatch with --aws.",
    "new": "Start a new service: spec, handler and test that pass.",
    "outputs": "The deployed stacks' outputs (on AWS, or --local).",
    "package": "Build the reproducible handler zips the templates reference.",
    "rollback": "Point a function's live alias at its previous version.",
    "schema": "Write the spec's JSON Schema and docs/spec.md's field tables.",
    "security": "checkov over generated/: failed checks fail, waivers listed.",
    "token": "Sign in a local user and print its tokens.",
    "up": "Run the stage on 127.0.0.1: local AWS, API gateway, consumers.",
}
for _name, _summary in SUMMARIES.items():
    main.commands[_name].short_help = _summary
