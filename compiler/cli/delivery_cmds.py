"""Commands of the delivery part: package, deploy, bootstrap, drift, rollback, destroy, outputs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .. import naming
from ..naming import ALL
from . import main, _handle_errors, build, spec_option, out_option, endpoint_option, _deployer, _report, EXIT_DRIFT, EXIT_INTERRUPTED, EXIT_RISK


@main.command()
@spec_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(naming.ARTIFACTS_DIR),
              show_default=True, help="Where the artifacts go, laid out by S3 key.")
@_handle_errors
def package(spec_dir: Path, out_dir: Path) -> None:
    """Build one reproducible zip per handler module the spec's functions use.

    OUT/handlers/<module>-<digest>.zip holds the module and the local modules it imports
    (nothing else); same code, same bytes. The keys are those the templates reference;
    OUT/artifacts.json lists each zip's sha256.
    """
    from ..delivery.package import handler_modules
    from ..delivery.package import package as build_artifacts

    result = build(spec_dir, ALL, display_root=Path.cwd())
    written = build_artifacts(spec_dir.parent / "handlers", out_dir, handler_modules(result.resolved.values()))
    for key, digest in written.items():
        click.echo(f"{out_dir / key}  sha256:{digest[:16]}")


def _github_summary(markdown: str, url: str | None) -> None:
    """Append the deploy summary to the job summary and the API URL to the step's outputs
    (GitHub Actions sets both variables; elsewhere the summary is printed)."""
    summary_file, output_file = os.environ.get("GITHUB_STEP_SUMMARY"), os.environ.get("GITHUB_OUTPUT")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    else:
        click.echo(markdown, nl=False)
    if output_file and url:
        with open(output_file, "a", encoding="utf-8") as handle:
            handle.write(f"url={url}\n")


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--stacks", default=None, help="Comma-separated stack ids to deploy (default: all, in order).")
@click.option("--yes", is_flag=True, help="Execute change sets without asking (implied when CI is set).")
@click.option("--endpoint-url", default=None,
              help="A local AWS emulator (a moto server, e.g. the one `up` starts): the templates are adapted to what it "
                   "models, as `up` does (docs/local.md).")
@click.option("--allow-risk", is_flag=True, help="Execute change sets that replace, lose data or are blocked.")
@click.option("--prune", is_flag=True, help="First delete this stage's stacks that left the spec (renamed or removed files).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
              help="json: progress on stderr, then a JSON summary (stacks, change sets, risks, outputs) on stdout; "
                   "github: that summary as Markdown in $GITHUB_STEP_SUMMARY and url=<the stage's API> in $GITHUB_OUTPUT.")
@out_option
@_handle_errors
def deploy(stage: str, stacks: str | None, yes: bool, endpoint_url: str | None, allow_risk: bool, prune: bool, fmt: str,
           out_dir: Path) -> None:
    """Deploy OUT/<stage> stack by stack along the manifest's levels, through change sets.

    Needs `make package` first (the artifacts are uploaded to the deployment bucket) and,
    for a stage with a bootstrap stack, `platformc bootstrap` once: deploy never changes
    that stack and CloudFormation acts with its execution role. Each
    change set is summarized, with the review gate's verdicts against the deployed template;
    one with REPLACE, DATA LOSS or BLOCKED is not executed without --allow-risk (BROADENS
    is the review's question, approved before the merge: deploy executes it). Unless
    --yes, each is confirmed. A failed stack stops its dependents; re-running converges.
    A change that DynamoDB allows only one index at a time is applied as several updates.
    Stacks of the stage that left the spec stop the deploy; --prune deletes them first.
    """
    from ..delivery import deploy_summary
    from ..delivery.deploy import DeployError, Interrupted

    try:
        deployer = _deployer(stage, out_dir, yes, endpoint_url, local=endpoint_url is not None, allow_risk=allow_risk,
                             err=fmt == "json")
        results = deployer.deploy(set(stacks.split(",")) if stacks else None, prune=prune)
        if fmt != "text":
            report = deploy_summary.summary(deployer.manifest, results, deployer.shown, deployer.outputs())
            if fmt == "json":
                click.echo(deploy_summary.as_json(report), nl=False)
            else:
                _github_summary(deploy_summary.markdown(report), report["url"])
        _report(results, err=fmt == "json")
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    except Interrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_INTERRUPTED)


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--yes", is_flag=True, help="Execute the change set without asking (implied when CI is set).")
@click.option("--allow-risk", is_flag=True, help="Execute a change set that replaces, loses data or is blocked.")
@endpoint_option
@out_option
@_handle_errors
def bootstrap(stage: str, yes: bool, allow_risk: bool, endpoint_url: str | None, out_dir: Path) -> None:
    """Deploy the stage's bootstrap stack: deploy roles, execution role, deployment bucket.

    Run by an administrator (the deploy role may not change this stack): once per stage
    before the first deploy, and again after each change to the `delivery:` spec, which
    `deploy` reports but never applies. Same change-set path and review gate as deploy.
    """
    from ..delivery.deploy import DeployError, Interrupted

    try:
        deployer = _deployer(stage, out_dir, yes, endpoint_url, local=endpoint_url is not None, allow_risk=allow_risk)
        _report(deployer.bootstrap())
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    except Interrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_INTERRUPTED)
    _echo_outputs(deployer.outputs(deployer.manifest.bootstrap_stacks), "  ")


def _echo_outputs(found: dict[str, dict[str, str]], indent: str = "") -> None:
    """`stack.Key = value`, a line each, sorted."""
    for stack, values in sorted(found.items()):
        for key, value in sorted(values.items()):
            click.echo(f"{indent}{stack}.{key} = {value}")


@main.command()
@click.option("--stage", default="dev", show_default=True)
@endpoint_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@out_option
@_handle_errors
def drift(stage: str, endpoint_url: str | None, fmt: str, out_dir: Path) -> None:
    """Does the deployed stage still match OUT/<stage>? Exits 5 when it does not.

    Template drift: each stack's deployed template against generated/, with the review
    gate's verdicts (what a deploy would do to bring it back); a stack not deployed, or
    deployed but gone from the spec, is drift. Resource drift: CloudFormation's drift
    detection on each deployed stack, where the endpoint offers it (the report says when it
    does not). Needs read access only: the review role of `delivery:` is enough.
    """
    import json

    from ..delivery.deploy import DeployError

    try:
        report = _deployer(stage, out_dir, True, endpoint_url, local=endpoint_url is not None).drift()
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True) if fmt == "json" else report.text(), nl=fmt == "json")
    if report.drifted:
        sys.exit(EXIT_DRIFT)


@main.command()
@click.argument("function")
@click.option("--stage", default="dev", show_default=True)
@click.option("--to", "to_version", default=None, metavar="VERSION", help="The version to point `live` at (default: the one before).")
@click.option("--yes", is_flag=True, help="In a protected stage, move without asking (never implied: CI must say --yes).")
@endpoint_option
@out_option
@_handle_errors
def rollback(function: str, stage: str, to_version: str | None, yes: bool, endpoint_url: str | None, out_dir: Path) -> None:
    """Point FUNCTION's `live` alias at its previous version (or --to VERSION).

    FUNCTION is its name in the spec (`accounts-list`, not `listbackup-prod-accounts-list`). Routes, its
    queue mapping and bus rules invoke the alias, so they all run the older code at once;
    nothing else changes. The next deploy of the stage moves the alias forward to the version
    it publishes, and says so. Each function keeps its newest versions (docs/deploy.md).
    In a protected stage it names both versions and asks first, unless --yes.
    """
    from ..delivery.deploy import DeployError

    try:
        deployer = _deployer(stage, out_dir, yes, endpoint_url, local=endpoint_url is not None, ci_implies_yes=False)
        click.echo(deployer.rollback(function, to_version))
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--yes", is_flag=True, help="Delete without asking (never implied: CI must say --yes).")
@click.option("--i-mean-it", "force", is_flag=True, help="Required to destroy a protected (prod) stage.")
@endpoint_option
@out_option
@_handle_errors
def destroy(stage: str, yes: bool, force: bool, endpoint_url: str | None, out_dir: Path) -> None:
    """Delete the stage's stacks in reverse deploy order; retained resources stay.

    Asks first (listing the stacks) unless --yes; a protected stage also needs --i-mean-it.
    """
    from ..delivery.deploy import DeployError

    try:
        _report(_deployer(stage, out_dir, yes, endpoint_url, ci_implies_yes=False).destroy(force_protected=force))
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--local", "on_local", is_flag=True, help="The stage on the local AWS `up` started.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@out_option
@_handle_errors
def outputs(stage: str, on_local: bool, fmt: str, out_dir: Path) -> None:
    """Print the outputs of the stage's deployed stacks (on AWS, or with --local on the local AWS)."""
    from ..local import emulator as local
    from ..delivery.deploy import DeployError

    try:
        endpoint = local.endpoint() if on_local else None
        found = _deployer(stage, out_dir, True, endpoint, local=on_local).outputs()
    except (DeployError, local.LocalError) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    _echo_outputs(found)


@main.command()
@click.option("--stage", default="dev", show_default=True)
@endpoint_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@out_option
@_handle_errors
def doctor(stage: str, endpoint_url: str | None, fmt: str, out_dir: Path) -> None:
    """Check, with read-only calls, what a stage's first deploy into an account needs.

    Reads OUT/<stage> and asks the account (the credentials deploy would use): the caller's
    account, the bootstrap stack, every Route 53 hosted zone the templates name, the Lambda
    concurrency the stage reserves against the account's quota, every secret's value, every
    alarm e-mail subscription, every SES identity. Prints each as ok, MISSING (with the fix)
    or skipped; the GitHub steps (risk label, code scanning) are listed to do by hand.
    Exit 1 when something is missing (docs/deploy.md, "First deploy to a new account").
    """
    from ..delivery import doctor as checks
    from ..delivery.deploy import DeployError

    try:
        found = checks.run(_deployer(stage, out_dir, True, endpoint_url))
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(checks.render(found, fmt), nl=False)
    if any(c.status == checks.MISSING for c in found):
        sys.exit(1)


@main.command()
@click.option("--stage", default="dev", show_default=True)
@endpoint_option
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="The plan as text, as a markdown table (a pull request or change ticket), or as JSON.")
@click.option("--yes", is_flag=True,
              help="Perform the take-over after the plan: retain, remove, import, converge, drift (docs/adopt.md).")
@out_option
@_handle_errors
def adopt(stage: str, endpoint_url: str | None, fmt: str, yes: bool, out_dir: Path) -> None:
    """Plan, then with --yes perform, the take-over of resources that exist under the stage's names.

    For every table, bucket, queue, user pool with its groups and app client, secret, log
    group, bus and its archive, backup vault, KMS key (by its alias) and alarm the stage's
    templates name: whether it exists, which stack holds it (another tool's, one of
    ours, or none), what the take-over does (adopt, import, move, create), and how each
    differs from the template; exit 4 when a difference would replace a resource after its
    import (BLOCKED). Without --yes it only reads. With --yes (never implied by CI): each
    holding stack retains and releases them, our stacks import them, a deploy converges on
    the spec (needs `make package`), then drift detection; data counts are checked around
    every step. A failure or Ctrl-C leaves every resource in one stack or retained; run it
    again to finish (docs/adopt.md).
    """
    from ..delivery import adopt as adopt_
    from ..delivery.deploy import DeployError, Interrupted
    from ..delivery.takeover import Takeover

    try:
        deployer = _deployer(stage, out_dir, True, endpoint_url, local=endpoint_url is not None, err=fmt != "text")
        deployer.check_account()
        located = adopt_.plan(deployer)
        click.echo(adopt_.render(located, stage, fmt), nl=False)
        if any(r.verdict for r in located):
            sys.exit(EXIT_RISK)
        if not yes:
            return
        takeover = Takeover(deployer)
        takeover.run()
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    except Interrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_INTERRUPTED)
    _report(takeover.results, err=fmt != "text")
    click.echo(f"take-over of stage {stage} done", err=fmt != "text")
