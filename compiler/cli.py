"""platformc: the command line. Parses arguments, maps outcomes to exit codes, nothing else.

Exit codes: 0 clean; 1 findings (spec errors, stale generated/, lint findings);
2 usage (click); 4 `diff` found a risk (BROADENS, REPLACE, DATA LOSS, BLOCKED) and no
--allow-risk;
123 internal error (a compiler bug: shown with its traceback).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import click

from .build import heap
from . import naming
from .diagnostics import InternalError, SpecError, render_json, render_text
from .naming import ALL, HANDLERS_DIR

heap.freeze_at_exit()  # the last collection at exit costs a fifth of a 1x compile


def build(spec_dir: Path, stage: str = ALL, display_root: Path | None = None) -> Any:
    """pipeline.build, imported when a command compiles (start-up stays light). The import
    builds the kinds' models (tens of thousands of long-lived objects): the cyclic collector
    is paused for it as pipeline.build pauses it for the build (~20 ms of rescans)."""
    with heap.paused():
        from .build.pipeline import build as run
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


@main.command("compile")
@click.option("--stage", default="dev", show_default=True, help="A stage of platform.yaml, or 'all'.")
@spec_option
@out_option
@format_option
@_handle_errors
def compile_cmd(stage: str, spec_dir: Path, out_dir: Path, fmt: str) -> None:
    """Compile the spec into OUT/<stage>/<stack>.json and OUT/<stage>/manifest.json.

    A failed compile writes nothing: OUT stays exactly as it was.
    """
    from .build.emit import write

    result = build(spec_dir, stage, display_root=Path.cwd())
    changed = write(out_dir, result.outputs, list(result.stages))
    for name in result.stages:
        resolved = result.resolved[name]
        levels = " | ".join(", ".join(level) for level in resolved.levels)
        n = sum(1 for d in changed if d.path.startswith(f"{name}/"))
        click.echo(f"{name}: {len(resolved.stacks)} stacks -> {out_dir / name} ({n} file(s) changed); order: {levels}")


@main.command()
@spec_option
@out_option
@format_option
@_handle_errors
def check(spec_dir: Path, out_dir: Path, fmt: str) -> None:
    """Fail (exit 1) when OUT differs from what the spec compiles to, for every stage."""
    from .build.emit import freshness

    result = build(spec_dir, ALL, display_root=Path.cwd())
    drift = freshness(out_dir, result.outputs, list(result.stages))
    if not drift:
        click.echo(f"{out_dir} is up to date ({len(result.outputs)} files, stages: {', '.join(result.stages)})")
        return
    for item in drift:
        click.echo(f"{item.status}: {out_dir / item.path}")
    click.echo(f"{out_dir} is stale: run `make compile STAGE=all` and commit the result", err=True)
    sys.exit(EXIT_FINDINGS)


@main.command()
@out_option
@click.option("--stage", default=ALL, show_default=True, help="A stage folder of OUT, or 'all'.")
@click.option("--jobs", type=int, default=0, help="Worker processes (default: both cores when many changed).")
@click.option("--no-cache", is_flag=True, help="Lint every template, ignoring the cache.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("cfn-lint.yaml"),
              show_default=True, help="Checked-in cfn-lint ignores: rule, scope and reason for each.")
@click.option("--format", "fmt", type=click.Choice(["text", "sarif"]), default="text", show_default=True,
              help="text, or SARIF 2.1.0 for code-scanning annotations.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file instead of standard output.")
@_handle_errors
def lint(out_dir: Path, stage: str, jobs: int, no_cache: bool, config_path: Path, fmt: str, output: Path | None) -> None:
    """Run cfn-lint (in-process) and the policy rules on the generated templates.

    Any finding fails, unless cfn-lint.yaml ignores it or the spec suppresses it, with a
    reason (both are listed). Only templates whose bytes changed since the last run are
    linted by cfn-lint again (cache in .cache/platformc/lint, keyed by template hash,
    cfn-lint version and region); the policy rules always run (they take milliseconds).
    """
    from .gates import lint as lint_mod

    report = lint_mod.run(out_dir, stage, jobs=jobs, use_cache=not no_cache, config_path=config_path)
    if fmt == "sarif" and report.error is None:
        from .gates.sarif import render

        text = render(report)
    else:
        text = report.text
    if output is not None:
        output.write_text(text)
        click.echo(f"{len(report.findings)} finding(s), {len(report.waived)} waived -> {output}")
    else:
        click.echo(text, nl=False)
    if report.failed:
        sys.exit(EXIT_FINDINGS)


@main.command()
@out_option
@click.option("--stage", default=ALL, show_default=True, help="A stage folder of OUT, or 'all'.")
@click.option("--sarif", "sarif_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write checkov's SARIF log here (code-scanning annotations).")
@click.option("--checkov", "program", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A checkov program to run instead of the pinned one (installed on first use).")
@click.option("--no-cache", is_flag=True, help="Scan even when the templates are unchanged since the last scan.")
@spec_option
@_handle_errors
def security(out_dir: Path, stage: str, sarif_path: Path | None, program: Path | None, no_cache: bool, spec_dir: Path) -> None:
    """Run checkov over the generated templates: any failed check fails (exit 1).

    Checks that do not apply are waived with a reason where a reviewer reads it: a
    resource's `suppress:` in the spec, or a platform-wide waiver in platform.yaml
    (`waivers:`); both are in the templates' Metadata, so checkov reports them as skipped,
    and they are listed here. A platform waiver that skips nothing fails too. checkov
    runs pinned, in its own virtualenv under .cache/platformc (created on first use).
    """
    from .gates import security as security_mod

    try:
        report = security_mod.run(out_dir, stage, program=program, use_cache=not no_cache,
                                  platform_file=spec_dir / "platform.yaml")
    except security_mod.SecurityError as exc:
        raise click.ClickException(str(exc)) from exc
    if sarif_path is not None and report.sarif:
        sarif_path.write_text(report.sarif)
    click.echo(report.text(), nl=False)
    if not report.ok:
        sys.exit(EXIT_FINDINGS)


@main.command()
@click.option("--stage", default="dev", show_default=True, help="A stage of platform.yaml, or 'all'.")
@click.option("--against", default="HEAD", show_default=True,
              help="Git ref whose committed OUT is compared (CI: the merge base), or `deployed`: the templates the "
                   "stage's stacks hold now against OUT/<stage>, which is what deploy sends and judges.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True,
              help="text (colored on a terminal), markdown (a PR comment) or json.")
@click.option("--new", "new_ref", default=None, metavar="REF",
              help="Compare OUT as committed at REF instead of compiling the spec: both sides are read from git "
                   "objects as data and nothing of REF runs (the CI risk gate, on a pull request's head).")
@click.option("--allow-risk", is_flag=True, help="Exit 0 even when a change widens access, replaces, loses data or is "
                                                "blocked.")
@click.option("--color/--no-color", default=None,
              help="Color the text format (default: on a terminal, unless NO_COLOR is set).")
@click.option("--endpoint-url", default=None, help="With --against deployed: a local AWS emulator (the one `up` starts).")
@spec_option
@out_option
@_handle_errors
def diff(stage: str, against: str, new_ref: str | None, fmt: str, allow_risk: bool, color: bool | None,
         endpoint_url: str | None, spec_dir: Path, out_dir: Path) -> None:
    """Show what deploying the current spec would change, compared with OUT at a git ref.

    Each finding has a verdict and a cause (docs/review.md lists them with their fixes):
    BROADENS (access widens: a role, trust or resource policy allows more, a route or
    authorizer checks less; the actions in full and the functions that gain them), REPLACE,
    DATA LOSS, BLOCKED (the deploy is certain to fail: a name or a key unique in its parent
    still held, an immutable schema, an export in use, a move between stacks), RETAINED
    (kept outside the stack) and STEPS (several updates, which deploy applies in turn).
    Added resources show their key properties and policies. Exits 4 when any BROADENS,
    REPLACE, DATA LOSS or BLOCKED is present, unless --allow-risk.
    """
    import json

    from .review.diff import committed, committed_stages, compare, resolve_ref
    from .manifest import FILE as MANIFEST
    from .manifest import Manifest

    diffs = []
    if against == "deployed":  # the live stacks, as deploy sees them (and refuses)
        from .delivery.deploy import DeployError

        if new_ref is not None:
            raise click.BadParameter("--against deployed compares with OUT/<stage>; it takes no --new", param_hint="--new")
        names = [p.name for p in sorted(out_dir.iterdir()) if Manifest.read(out_dir, p.name)] if stage == ALL else [stage]
        try:
            diffs = [_deployer(name, out_dir, True, endpoint_url, local=endpoint_url is not None).deployed_diff()
                     for name in names]
        except DeployError as exc:
            raise click.ClickException(str(exc)) from exc
        _show_diffs(diffs, fmt, color, allow_risk)
        return
    shas = {}
    for option, ref in (("--against", against), ("--new", new_ref)):
        try:
            shas[option] = resolve_ref(out_dir.resolve().parent, ref) if ref else ""
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from exc
    base_sha = shas["--against"]
    if new_ref is not None:
        stages = committed_stages(out_dir, new_ref) if stage == ALL else [stage]
        for name in stages:
            old_manifest, old = committed(out_dir, name, against)
            new_manifest, new = committed(out_dir, name, new_ref)
            diffs.append(compare(name, f"{against} ({base_sha})", old, new, old_manifest, new_manifest))
    else:
        result = build(spec_dir, stage, display_root=Path.cwd())
        for name in result.stages:
            old_manifest, old = committed(out_dir, name, against)
            new = {stack: json.loads(result.outputs[f"{name}/{stack}.json"]) for stack in result.resolved[name].stacks}
            new_manifest = Manifest.from_json(result.outputs[f"{name}/{MANIFEST}"])
            diffs.append(compare(name, f"{against} ({base_sha})", old, new, old_manifest, new_manifest))
    _show_diffs(diffs, fmt, color, allow_risk)


def _show_diffs(diffs: list[Any], fmt: str, color: bool | None, allow_risk: bool) -> None:
    from .review import diff_render

    if fmt == "markdown":
        click.echo(diff_render.markdown(diffs), nl=False)
    elif fmt == "json":
        click.echo(diff_render.as_json(diffs), nl=False)
    else:
        use_color = use_colour(color, sys.stdout.isatty(), os.environ)
        click.echo(diff_render.text(diffs, color=use_color), nl=False, color=use_color)
    if any(d.risky for d in diffs) and not allow_risk:
        sys.exit(EXIT_RISK)


@main.command("risk-approval")
@click.option("--head", "judged", required=True, metavar="SHA", help="The head commit the risk gate diffed.")
@click.option("--pull", "pull_file", required=True, type=click.File("r"),
              help="The pull request as the API returns it (`gh api repos/O/R/pulls/N`).")
@click.option("--reviews", "reviews_file", required=True, type=click.File("r"),
              help="Its reviews (`gh api --paginate repos/O/R/pulls/N/reviews --jq '.[]'`).")
@_handle_errors
def risk_approval(judged: str, pull_file: Any, reviews_file: Any) -> None:
    """The risk gate's verdict on commit --head.

    Exit 0 if a review approves the risks of commit --head, else 1.

    The approval must name the commit: the pull request's head is still --head, and a
    writer other than the author approved exactly that commit with a review saying
    `infra-risk-approved` (their latest approve / request-changes / dismissed review).
    """
    import json

    from .review import approval

    try:
        verdict = approval.decide(json.load(pull_file), approval.read_reviews(reviews_file.read()), judged)
    except (ValueError, AttributeError, TypeError) as exc:
        raise click.ClickException(f"the pull request or its reviews are not the API's JSON: {exc}") from exc
    click.echo(verdict.reason)
    if not verdict.approved:
        sys.exit(1)


@main.command()
@click.option("--stage", default="dev", show_default=True, help="A stage of platform.yaml.")
@spec_option
@out_option
@_handle_errors
def graph(stage: str, spec_dir: Path, out_dir: Path) -> None:
    """Write OUT/<stage>/graph.md: a Mermaid diagram of the stacks, dependencies and levels.

    `compile` writes it too; this command also prints it.
    """
    from .build.emit import GRAPH, write_file

    result = build(spec_dir, stage, display_root=Path.cwd())
    text = result.outputs[f"{stage}/{GRAPH}"]
    write_file(out_dir, f"{stage}/{GRAPH}", text)
    click.echo(text, nl=False)


@main.command()
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="The repository whose docs/schema/ and docs/spec.md are written.")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if a schema or a field table is stale.")
@_handle_errors
def schema(root: Path, check_only: bool) -> None:
    """Write the spec's JSON Schema and docs/spec.md's field tables, from the models.

    ROOT/docs/schema/platform.schema.json is for platform.yaml, stack.schema.json for every
    other spec file; a spec file's first line `# yaml-language-server: $schema=<path>` makes
    VS Code (YAML extension) and other yaml-language-server editors complete and check it.
    The `<!-- fields: SECTION -->` tables of docs/spec.md are regenerated in place.
    """
    from .build import schema as schemas

    if check_only:
        stale = schemas.stale(root)
        for path in stale:
            click.echo(f"stale: {path}")
        if stale:
            click.echo("run `platformc schema` and commit the result", err=True)
            sys.exit(EXIT_FINDINGS)
        click.echo("the schemas and docs/spec.md's field tables are up to date")
        return
    for path in schemas.write(root):
        click.echo(f"wrote {path}")


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
    from .delivery.package import handler_modules
    from .delivery.package import package as build_artifacts

    result = build(spec_dir, ALL, display_root=Path.cwd())
    written = build_artifacts(spec_dir.parent / "handlers", out_dir, handler_modules(result.resolved.values()))
    for key, digest in written.items():
        click.echo(f"{out_dir / key}  sha256:{digest[:16]}")


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
    from .delivery.deploy import Deployer
    from .local.emulator import LocalDeployer

    return (LocalDeployer if local else Deployer)(
        out_dir, stage, endpoint_url=endpoint_url, yes=yes or (ci_implies_yes and bool(os.environ.get("CI"))),
        allow_risk=allow_risk, echo=lambda line: click.echo(line, err=err),
        confirm=lambda question: _ask(question, err),
    )


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


def _report(results: list[Any], err: bool = False) -> None:
    for result in results:
        click.echo(f"  {result.stack:<32} {result.status}{': ' + result.detail if result.detail else ''}", err=err)
    if any(r.status == "failed" for r in results):
        click.echo("deploy failed: fix the cause and run it again (finished stacks stay as they are)", err=True)
        sys.exit(EXIT_FINDINGS)


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
    from .delivery import deploy_summary
    from .delivery.deploy import DeployError, Interrupted

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
@click.option("--endpoint-url", default=None, help="A local AWS emulator (the moto server `up` starts).")
@out_option
@_handle_errors
def bootstrap(stage: str, yes: bool, allow_risk: bool, endpoint_url: str | None, out_dir: Path) -> None:
    """Deploy the stage's bootstrap stack: deploy roles, execution role, deployment bucket.

    Run by an administrator (the deploy role may not change this stack): once per stage
    before the first deploy, and again after each change to the `delivery:` spec, which
    `deploy` reports but never applies. Same change-set path and review gate as deploy.
    """
    from .delivery.deploy import DeployError, Interrupted

    try:
        deployer = _deployer(stage, out_dir, yes, endpoint_url, local=endpoint_url is not None, allow_risk=allow_risk)
        _report(deployer.bootstrap())
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    except Interrupted as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_INTERRUPTED)
    for stack, outputs in sorted(deployer.outputs(deployer.manifest.bootstrap_stacks).items()):
        for key, value in sorted(outputs.items()):
            click.echo(f"  {stack}.{key} = {value}")


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--endpoint-url", default=None, help="A local AWS emulator (the moto server `up` starts).")
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

    from .delivery.deploy import DeployError

    try:
        report = _deployer(stage, out_dir, True, endpoint_url, local=endpoint_url is not None).drift()
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True) if fmt == "json" else report.text(), nl=fmt == "json")
    if report.drifted:
        sys.exit(EXIT_DRIFT)


@main.group()
def new() -> None:
    """Start something new from a commented template that compiles as written."""


@new.command("service")
@click.argument("name")
@click.option("--api", default=None, help="The API its routes join (default: the spec's only API).")
@spec_option
@_handle_errors
def new_service(name: str, api: str | None, spec_dir: Path) -> None:
    """Write a new service NAME: spec/api/NAME.yaml (a table and two authenticated routes,
    commented), handlers/NAME.py and tests/handlers/test_NAME.py.

    The spec must compile first (the routes join one of its APIs). Nothing is overwritten.
    Then `make compile STAGE=all` and `make test`: it compiles, lints and its test passes.
    """
    from .spec import scaffold

    result = build(spec_dir, ALL, display_root=Path.cwd())
    index = result.resolved[result.stages[0]].index
    apis = sorted(ref.name for ref in index if ref.kind == "api")
    tables = {ref.name for ref in index if ref.kind == "table"}
    try:
        written = scaffold.new_service(spec_dir.parent, spec_dir, name, apis, tables, api)
    except scaffold.ScaffoldError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in written:
        click.echo(f"wrote {path}")
    click.echo("next: make compile STAGE=all, then make test (or pytest tests/handlers/"
               f"test_{name.replace('-', '_')}.py)")


@main.command()
@click.argument("function")
@click.option("--stage", default="dev", show_default=True)
@click.option("--to", "to_version", default=None, metavar="VERSION", help="The version to point `live` at (default: the one before).")
@click.option("--yes", is_flag=True, help="In a protected stage, move without asking (never implied: CI must say --yes).")
@click.option("--endpoint-url", default=None, help="A local AWS emulator (the moto server `up` starts).")
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
    from .delivery.deploy import DeployError

    try:
        deployer = _deployer(stage, out_dir, yes, endpoint_url, local=endpoint_url is not None, ci_implies_yes=False)
        click.echo(deployer.rollback(function, to_version))
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--yes", is_flag=True, help="Delete without asking (never implied: CI must say --yes).")
@click.option("--i-mean-it", "force", is_flag=True, help="Required to destroy a protected (prod) stage.")
@click.option("--endpoint-url", default=None)
@out_option
@_handle_errors
def destroy(stage: str, yes: bool, force: bool, endpoint_url: str | None, out_dir: Path) -> None:
    """Delete the stage's stacks in reverse deploy order; retained resources stay.

    Asks first (listing the stacks) unless --yes; a protected stage also needs --i-mean-it.
    """
    from .delivery.deploy import DeployError

    try:
        _report(_deployer(stage, out_dir, yes, endpoint_url, ci_implies_yes=False).destroy(force_protected=force))
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--attach", is_flag=True, help="Stay in the foreground and stream the functions' log lines; Ctrl-C stops everything.")
@click.option("--no-throttle", is_flag=True, help="Serve without the stage's throttling (for local load tests).")
@click.option("--allow-risk", is_flag=True, help="Apply changes that replace, lose data or are blocked (local data only).")
@spec_option
@out_option
@_handle_errors
def up(stage: str, attach: bool, no_throttle: bool, allow_risk: bool, spec_dir: Path, out_dir: Path) -> None:
    """Run the stage on 127.0.0.1: a local AWS (moto server) with the stage deployed, and
    its HTTP APIs served by a local API gateway (JWT auth against the local user pool).

    Packages the handlers beside SPEC (into .build/artifacts), deploys OUT/<stage> (its
    bootstrap stack first; only changed stacks on a re-run), then (re)starts the gateway, which reads OUT/<stage> and
    runs each function from the handlers folder in its own worker. `platformc token` gives
    a signed-in local user; `platformc down` stops every process `up` started.
    """
    import importlib.util

    from .local import emulator as local
    from .delivery.deploy import DeployError
    from .delivery.package import handler_modules
    from .delivery.package import package as build_artifacts

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
    for line in local.start_gateway(stage, out_dir, endpoint, handlers, throttle=not no_throttle):
        click.echo(line)
    click.echo(f"a signed-in user: platformc token --stage {stage} --email you@example.com; stop: platformc down")
    if attach:
        try:
            local.follow_logs(click.echo)
        except KeyboardInterrupt:
            local.stop()
            click.echo("stopped: the gateway, its workers and the local AWS")


@main.command()
@click.option("--stage", default="dev", show_default=True)
@click.option("--email", required=True, help="The user's e-mail (its user name).")
@click.option("--password", default=None, help="Default: a generated one, printed.")
@click.option("--name", default="Local User", show_default=True)
@click.option("--group", "groups", multiple=True, help="Add the user to this group of the pool (repeatable).")
@out_option
@_handle_errors
def token(stage: str, email: str, password: str | None, name: str, groups: tuple[str, ...], out_dir: Path) -> None:
    """Create (or reuse) a confirmed user in the stage's local user pool and print its tokens.

    Local only: talks to the AWS emulator `up` started. Then call a protected route with
    `curl -H "Authorization: Bearer $ID_TOKEN" http://127.0.0.1:PORT/users/me`.
    """
    from .local import emulator as local

    try:
        tokens = local.sign_in(stage, out_dir, email, password, name, groups)
    except local.LocalError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(tokens, indent=2))


@main.command()
@click.argument("function")
@click.option("--stage", default="dev", show_default=True)
@click.option("--event", "event_file", type=click.File("r"), default=None,
              help="The event as JSON: a file, or - for standard input (default: {}).")
@spec_option
@out_option
@_handle_errors
def invoke(function: str, stage: str, event_file: Any, spec_dir: Path, out_dir: Path) -> None:
    """Run one function on the local platform and print its result.

    FUNCTION is its short name (users-get-me) or physical name. It runs as the gateway runs
    it: the handler from the handlers folder beside SPEC, the environment and role the
    function has on the local AWS (`up` first), every AWS call checked against the role.
    """
    from .local import emulator as local
    from .manifest import Manifest
    from .local.runtime import FunctionConfig, Invocation, Pool

    manifest = Manifest.read(out_dir, stage)
    if manifest is None:
        raise click.ClickException(f"{out_dir / stage}/manifest.json not found: run `make compile STAGE={stage}` first")
    try:
        endpoint = local.endpoint()
    except local.LocalError as exc:
        raise click.ClickException(str(exc)) from exc
    name = function if function.startswith(f"{manifest.service}-{stage}-") else f"{manifest.service}-{stage}-{function}"
    event = json.loads(event_file.read()) if event_file is not None else {}
    aws = local.clients(endpoint, manifest.region)
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


@main.command()
@click.argument("function")
@click.option("--stage", default="dev", show_default=True)
@click.option("--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--aws", "remote", is_flag=True, help="Read CloudWatch Logs of the deployed stage instead of the local logs.")
@out_option
@_handle_errors
def logs(function: str, stage: str, follow: bool, remote: bool, out_dir: Path) -> None:
    """Print a function's log lines: local runs (`up`, `invoke`), or with --aws its CloudWatch Logs."""
    from .local import emulator as local
    from .manifest import Manifest

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
@click.option("--stage", default="dev", show_default=True)
@click.option("--local", "on_local", is_flag=True, help="The stage on the local AWS `up` started.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@out_option
@_handle_errors
def outputs(stage: str, on_local: bool, fmt: str, out_dir: Path) -> None:
    """Print the outputs of the stage's deployed stacks (on AWS, or with --local on the local AWS)."""
    from .local import emulator as local
    from .delivery.deploy import DeployError

    try:
        endpoint = local.endpoint() if on_local else None
        found = _deployer(stage, out_dir, True, endpoint, local=on_local).outputs()
    except (DeployError, local.LocalError) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    for stack, values in sorted(found.items()):
        for key, value in sorted(values.items()):
            click.echo(f"{stack}.{key} = {value}")


@main.command()
@_handle_errors
def down() -> None:
    """Stop what `up` started: the gateway, its function workers and the local AWS (its state goes with it)."""
    from .local import emulator as local

    click.echo("the gateway and the local AWS stopped" if local.stop() else "no local AWS was running")


# One line each in `platformc --help` (click would cut the docstrings' first sentences).
SUMMARIES = {
    "bootstrap": "Deploy a stage's bootstrap stack (deploy roles, bucket).",
    "check": "Fail if generated/ differs from what the spec compiles to.",
    "compile": "Compile the spec into CloudFormation templates in generated/.",
    "deploy": "Deploy a stage through change sets, level by level.",
    "destroy": "Delete a stage's stacks (retained resources stay).",
    "diff": "What deploying the spec would change against a git ref: risks first.",
    "drift": "Whether a deployed stage still matches generated/ (exit 5).",
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
