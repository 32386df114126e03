"""Commands of the spec and build parts: compile, check, graph, schema, new."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..naming import ALL
from . import main, _handle_errors, build, spec_option, out_option, format_option, EXIT_FINDINGS


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
    from ..build.emit import write

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
    from ..build.emit import freshness

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
@click.option("--stage", default="dev", show_default=True, help="A stage of platform.yaml.")
@spec_option
@out_option
@_handle_errors
def graph(stage: str, spec_dir: Path, out_dir: Path) -> None:
    """Write OUT/<stage>/graph.md: a Mermaid diagram of the stacks, dependencies and levels.

    `compile` writes it too; this command also prints it.
    """
    from ..build.emit import GRAPH, write_file

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
    from ..build import schema as schemas

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
    from ..spec import scaffold

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
    _budget_left(spec_dir)
    click.echo("next: make compile STAGE=all, then make test (or pytest tests/handlers/"
               f"test_{name.replace('-', '_')}.py)")


def _budget_left(spec_dir: Path) -> None:
    """Each stage's reserved Lambda concurrency with the new service, against its budget."""
    from ..build.budget import resolved_usage
    from ..build.pipeline import BuildError
    from ..diagnostics import render_text

    try:
        after = build(spec_dir, ALL, display_root=Path.cwd())
    except BuildError as exc:
        click.echo("the spec with the new service does not compile yet:\n" + render_text(exc.diagnostics, exc.files), err=True)
        return
    for stage in after.stages:
        use = resolved_usage(after.resolved[stage])
        click.echo(f"stage {stage}: functions reserve {use.reserved} of the budget {use.budget} "
                   f"({use.left} left{f'; each new function takes {use.default}' if use.default else ''})")
