"""load: YAML -> data + positions; the traps of PyYAML are closed."""

from __future__ import annotations

from pathlib import Path

from compiler.load import load_file, load_tree


def _load(tmp_path: Path, text: str):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    return load_file(path, "x.yaml", "spec/x.yaml")


def test_positions_are_one_based_for_keys_and_values(tmp_path: Path) -> None:
    source, diags = _load(tmp_path, "queues:\n  sync:\n    fifo: true\n")
    assert diags == []
    key = source.keys[("queues", "sync", "fifo")]
    value = source.values[("queues", "sync", "fifo")]
    assert (key.line, key.col) == (3, 5)
    assert (value.line, value.col) == (3, 11)


def test_locate_falls_back_to_longest_existing_prefix(tmp_path: Path) -> None:
    source, _ = _load(tmp_path, "queues:\n  sync:\n    fifo: true\n")
    span = source.locate(("queues", "sync", "missing", "deeper"), "key")
    assert (span.line, span.col) == (2, 3)


def test_duplicate_key_is_an_error_at_the_second_with_the_first_related(tmp_path: Path) -> None:
    _, diags = _load(tmp_path, "a: 1\nb: 2\na: 3\n")
    assert [d.code for d in diags] == ["E102"]
    assert diags[0].where.span.line == 3
    assert diags[0].related[0][1].span.line == 1


def test_non_string_key_is_an_error(tmp_path: Path) -> None:
    _, diags = _load(tmp_path, "queues:\n  1: {}\n")
    assert [d.code for d in diags] == ["E103"]


def test_syntax_error_points_at_the_problem(tmp_path: Path) -> None:
    source, diags = _load(tmp_path, "a:\n  b: [1, 2\nc: 3\n")
    assert [d.code for d in diags] == ["E101"]
    assert diags[0].where.span.line >= 2
    assert source.parsed is False


def test_dates_stay_strings(tmp_path: Path) -> None:
    source, _ = _load(tmp_path, "since: 2024-01-01\n")
    assert source.data == {"since": "2024-01-01"}


def test_merge_keys_work_and_explicit_keys_override_them(tmp_path: Path) -> None:
    text = "base: &b {fifo: true, retention: 1d}\nq:\n  <<: *b\n  retention: 2d\n"
    source, diags = _load(tmp_path, text)
    assert diags == []
    assert source.data["q"] == {"fifo": True, "retention": "2d"}


def test_tree_is_read_in_sorted_order_and_needs_platform_yaml(tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    (spec / "b").mkdir(parents=True)
    (spec / "b" / "z.yaml").write_text("{}\n")
    (spec / "a.yaml").write_text("{}\n")
    files, diags = load_tree(spec, tmp_path)
    assert [f.rel for f in files] == ["a.yaml", "b/z.yaml"]
    assert [d.code for d in diags] == ["E104"]
