"""Commands of the review and gates parts: diff, risk-approval, lint, security."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ..naming import ALL
from . import main, _handle_errors, build, spec_option, out_option, use_colour, _deployer, EXIT_FINDINGS, EXIT_RISK


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
    cfn-lint version and region), and the policy rules run again only for a stage whose
    templates or compiler changed. The pinned cfn-lint runs with exact shortcuts inside its
    validator (compiler/gates/cfnlint_fast.py: the same findings for less CPU).
    """
    from ..gates import lint as lint_mod

    report = lint_mod.run(out_dir, stage, jobs=jobs, use_cache=not no_cache, config_path=config_path)
    if fmt == "sarif" and report.error is None:
        from ..gates.sarif import render

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
    runs pinned, in its own virtualenv in the user cache (~/.cache/platformc, created once per machine).
    """
    from ..gates import security as security_mod

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
@click.option("--link", default=None, metavar="URL",
              help="markdown: where the full diff is, named when the comment is cut to fit (60,000 characters).")
@spec_option
@out_option
@_handle_errors
def diff(stage: str, against: str, new_ref: str | None, fmt: str, allow_risk: bool, color: bool | None,
         endpoint_url: str | None, link: str | None, spec_dir: Path, out_dir: Path) -> None:
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

    from ..review.diff import committed, committed_stages, compare, resolve_ref
    from ..manifest import FILE as MANIFEST
    from ..manifest import Manifest

    diffs = []
    if against == "deployed":  # the live stacks, as deploy sees them (and refuses)
        from ..delivery.deploy import DeployError

        if new_ref is not None:
            raise click.BadParameter("--against deployed compares with OUT/<stage>; it takes no --new", param_hint="--new")
        names = [p.name for p in sorted(out_dir.iterdir()) if Manifest.read(out_dir, p.name)] if stage == ALL else [stage]
        try:
            diffs = [_deployer(name, out_dir, True, endpoint_url, local=endpoint_url is not None).deployed_diff()
                     for name in names]
        except DeployError as exc:
            raise click.ClickException(str(exc)) from exc
        _show_diffs(diffs, fmt, color, allow_risk, link)
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
    _show_diffs(diffs, fmt, color, allow_risk, link)


def _show_diffs(diffs: list[Any], fmt: str, color: bool | None, allow_risk: bool, link: str | None = None) -> None:
    from ..review import diff_render

    if fmt == "markdown":
        click.echo(diff_render.markdown(diffs, full=link), nl=False)
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

    from ..review import approval

    try:
        verdict = approval.decide(json.load(pull_file), approval.read_reviews(reviews_file.read()), judged)
    except (ValueError, AttributeError, TypeError) as exc:
        raise click.ClickException(f"the pull request or its reviews are not the API's JSON: {exc}") from exc
    click.echo(verdict.reason)
    if not verdict.approved:
        sys.exit(1)
