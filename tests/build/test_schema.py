"""The spec's schema as one source: JSON Schema and docs/spec.md's field tables come from the
models, are committed fresh, and agree with what the compiler accepts."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from compiler.build import schema
from compiler.kinds import all_kinds
from compiler.spec.load import PLATFORM_FILE, discover
from tests.conftest import REPO, errors_of

FIRST_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)\n")


def _validator(name: str) -> Draft202012Validator:
    found = schema.platform_schema() if name == schema.PLATFORM_SCHEMA else schema.stack_schema()
    Draft202012Validator.check_schema(found)
    return Draft202012Validator(found)


def _spec_files() -> list[tuple[Path, str]]:
    spec = REPO / "spec"
    return [(p, schema.PLATFORM_SCHEMA if p.relative_to(spec).as_posix() == PLATFORM_FILE else schema.STACK_SCHEMA)
            for p in discover(spec)]


def test_committed_schemas_and_field_tables_are_fresh() -> None:
    assert schema.stale(REPO) == [], "run `platformc schema` and commit the result"


def test_every_kind_has_its_field_table_in_docs() -> None:
    text = (REPO / "docs" / "spec.md").read_text()
    assert schema.sections_documented(text) == {kind.section for kind in all_kinds()}


def test_a_field_table_states_the_models_fields_defaults_and_descriptions() -> None:
    queue = next(kind for kind in all_kinds() if kind.section == "queues")
    table = schema.field_table(queue)
    assert "| `visibility_timeout` | integer or string | `30` | how long a received message stays hidden; at most 12 h |" in table
    assert all(f"| `{name}` |" in table for name in queue.spec.model_fields if name not in ("tags", "export", "reasons", "suppress"))


@pytest.mark.parametrize(("path", "name"), _spec_files(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_repository_spec_files_validate_against_the_schema(path: Path, name: str) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator(name).iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize(("path", "name"), _spec_files(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_a_schema_line_points_editors_at_the_right_schema(path: Path, name: str) -> None:
    match = FIRST_LINE.match(path.read_text())
    if match is None:
        pytest.skip("no yaml-language-server line (optional for editors)")
    target = (path.parent / match.group(1)).resolve()
    assert target == (REPO / schema.SCHEMA_DIR / name).resolve(), f"{path}: {match.group(1)}"
    assert target.exists()


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ("queues:\n  q: {visiblity_timeout: 5m}\n", ["queues", "q"], "visiblity_timeout"),  # a typo
        ("queues:\n  q: {visibility_timeout: 5 minutes}\n", ["queues", "q", "visibility_timeout"], ""),  # not a duration
        ("functions:\n  f: {handler: a.b, consumes: {queue: bus:events}}\n", ["functions", "f", "consumes", "queue"], ""),
        ("queues:\n  Bad_Name: {}\n", ["queues"], "Bad_Name"),
        ("queues:\n  q: {stages: {prod: {fifo: maybe}}}\n", ["queues", "q", "stages", "prod", "fifo"], ""),
    ],
)
def test_the_schema_flags_what_the_compiler_refuses(tmp_path: Path, body: str, where: list[Any], message: str) -> None:
    """An editor's red squiggle and platformc agree: each of these is refused by both."""
    errors = list(_validator(schema.STACK_SCHEMA).iter_errors(yaml.safe_load(body)))
    found = [(list(e.absolute_path), e.message) for e in errors]
    # at the field, or at the optional mapping holding it (anyOf [mapping, null] fails as a whole)
    assert any(len(path) >= len(where) - 1 and where[: len(path)] == path and message in text for path, text in found), found
    assert "error[" in errors_of(tmp_path, {"s.yaml": body})


def test_platformc_schema_check_fails_on_a_stale_table(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    stale = "## queues\n\n<!-- fields: queues -->\n| old |\n<!-- /fields -->\n"
    (tmp_path / "docs" / "spec.md").write_text(stale)
    assert tmp_path / "docs" / "spec.md" in schema.stale(tmp_path)
    schema.write(tmp_path)
    assert schema.stale(tmp_path) == []
    assert "| `fifo` | boolean | `false` |" in (tmp_path / "docs" / "spec.md").read_text()
    assert os.path.exists(tmp_path / schema.SCHEMA_DIR / schema.STACK_SCHEMA)
