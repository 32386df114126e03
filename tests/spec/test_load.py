"""load: YAML -> data + positions; the traps of PyYAML are closed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from compiler.diagnostics import SpecError
from compiler.spec.handlers import scan_handlers
from compiler.spec.load import load_file, load_tree
from compiler.delivery.package import package
from tests.conftest import errors_of


def _load(tmp_path: Path, text: str):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    return load_file(path, "x.yaml", "spec/x.yaml")


def test_positions_are_one_based_for_keys_and_values(tmp_path: Path) -> None:
    source, diags = _load(tmp_path, "queues:\n  sync:\n    fifo: true\n")
    assert diags == []
    key = source.locate(("queues", "sync", "fifo"), "key")
    value = source.locate(("queues", "sync", "fifo"))
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


# ------------------------------------------------------------------------- hostile input


def _chain(levels: int) -> str:
    """A "billion laughs": each anchor repeats the previous one ten times."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


# Expanding either bomb would take hours: HANG_GUARD only tells a stop from a hang. What
# proves the stop came early is the count the message gives (the node limit, at a4), not a
# time (machines here are shared: a tight CPU-time bound failed at 1.002 s under load).
HANG_GUARD = 15.0


def test_an_alias_bomb_is_a_positioned_error_before_it_expands(tmp_path: Path) -> None:
    started = time.process_time()
    source, diags = _load(tmp_path, _chain(9))  # 10^9 nodes if expanded
    assert time.process_time() - started < HANG_GUARD
    assert [d.code for d in diags] == ["E105"]
    assert "more than 100,000 nodes (inside 'a4')" in diags[0].message
    assert (diags[0].where.span.line, diags[0].where.span.col) == (5, 1)
    assert source.parsed is False


def test_a_merge_key_bomb_is_stopped_before_it_is_flattened(tmp_path: Path) -> None:
    lines = ["m0: &m0 {k0: 1}"] + [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, 40)]
    started = time.process_time()
    _, diags = _load(tmp_path, "\n".join(lines) + "\n")  # 2^39 pairs if flattened
    assert time.process_time() - started < HANG_GUARD
    assert [d.code for d in diags] == ["E105"]


def test_reused_blocks_below_the_limit_load(tmp_path: Path) -> None:
    source, diags = _load(tmp_path, _chain(4))  # 10^4 repeated scalars
    assert diags == [] and len(source.data["a3"]) == 10 and source.data["a3"][9][9][9] == ["x"] * 10


def test_merged_mappings_sharing_a_key_follow_yaml_not_a_duplicate(tmp_path: Path) -> None:
    source, diags = _load(tmp_path, "a: &a {x: 1}\nb: &b {x: 2, y: 3}\nc: {<<: [*a, *b]}\n")
    assert diags == [] and source.data["c"] == {"x": 1, "y": 3}  # the first mapping listed wins


def test_a_spec_file_linked_from_outside_the_repository_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.yaml"
    secret.parent.mkdir()
    secret.write_text("password: hunter2\n")
    repo = tmp_path / "repo"
    (repo / "spec").mkdir(parents=True)
    (repo / "spec" / "platform.yaml").write_text("service: x\n")
    (repo / "spec" / "inside.yaml").symlink_to(repo / "spec" / "platform.yaml")  # inside: fine
    (repo / "spec" / "stolen.yaml").symlink_to(secret)
    files, diags = load_tree(repo / "spec", display_root=repo)
    assert [f.path for f in files] == ["spec/inside.yaml", "spec/platform.yaml"]
    assert [(d.code, d.where.file) for d in diags] == [("E106", "spec/stolen.yaml")]
    assert "hunter2" not in str(diags) and "outside the repository" in diags[0].message


def test_a_handler_linked_from_outside_the_repository_is_neither_scanned_nor_packaged(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text("def handler(event, context):\n    return 'not ours'\n")
    handlers = tmp_path / "repo" / "handlers"
    handlers.mkdir(parents=True)
    (handlers / "ok.py").write_text("def handler(event, context):\n    return 1\n")
    (handlers / "evil.py").symlink_to(outside)
    code = scan_handlers(handlers)
    assert code.functions == {"ok.handler"} and set(code.bundles) == {"ok"}
    assert [(d.code, d.where.file) for d in code.problems("handlers")] == [("E106", "handlers/evil.py")]
    with pytest.raises(SpecError) as info:
        package(handlers, tmp_path / "out")
    assert [d.code for d in info.value.diagnostics] == ["E106"]
    assert not (tmp_path / "out").exists()


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    from compiler.spec.load import SIZE_LIMIT

    body = "queues:\n  q: {}\n" + "# padding\n" * (SIZE_LIMIT // 10 + 1)
    out = errors_of(tmp_path, {"big.yaml": body})
    assert f"spec/big.yaml:1:1: error[E109]: the file is {len(body.encode()):,} bytes; a spec file may have at most {SIZE_LIMIT:,}" in out


@pytest.mark.parametrize(
    "text, where",
    [
        # 70 levels of block mappings: found by indentation alone, where it passes the limit
        ("".join(f"{' ' * i}k{i}:\n" for i in range(70)) + " " * 70 + "v: 1\n", (65, 65)),
        # brackets and indentation together (the bound counts both)
        ("".join(f"{' ' * i}k{i}:\n" for i in range(40)) + " " * 40 + "v: " + "[" * 30 + "]" * 30 + "\n", (41, 67)),
        # many brackets that never nest deeply: no error, though the file has more than the limit
        ("a: [" + ", ".join("[x]" for _ in range(100)) + "]\nb: [[1], [2]]\n", None),
        # brackets inside quotes and comments do not open anything
        ("a: '" + "[" * 80 + "'\nb: 1 # " + "{" * 80 + "\n", None),
    ],
)
def test_nesting_beyond_the_limit_is_found_before_the_parser(tmp_path: Path, text: str, where: tuple[int, int] | None) -> None:
    """E108 points at where nesting first passes 64 levels, from indentation and open
    brackets; files that cannot get there (however many brackets they hold) load."""
    source, diags = _load(tmp_path, text)
    deep = [d for d in diags if d.code == "E108"]
    if where is None:
        assert deep == [] and source.parsed
    else:
        assert [(d.where.span.line, d.where.span.col) for d in deep] == [where]


def test_a_bundle_holds_every_local_module_imported_anywhere_in_the_code(tmp_path: Path) -> None:
    """Imports inside functions, classes, try/except/else/finally, with, loops and match
    cases all count (scan_handlers visits statements only: imports are never inside
    expressions); names in strings and comments do not; relative imports resolve in their
    package and bring the package's __init__."""
    handlers = tmp_path / "handlers"
    (handlers / "pkg").mkdir(parents=True)
    for name in ("a", "b", "c", "d", "e", "f", "g", "h", "unused"):
        (handlers / f"{name}.py").write_text("X = 1\n")
    (handlers / "pkg" / "__init__.py").write_text("")
    (handlers / "pkg" / "inner.py").write_text("from . import sibling\n")
    (handlers / "pkg" / "sibling.py").write_text("Y = 2\n")
    (handlers / "main.py").write_text(
        '"""import unused"""\n'
        "# import unused\n"
        "def handler(event, context):\n"
        "    import a\n"
        "    class K:\n"
        "        from b import X\n"
        "    try:\n"
        "        import c\n"
        "    except ImportError:\n"
        "        import d\n"
        "    else:\n"
        "        import e\n"
        "    finally:\n"
        "        with open('x') as f:\n"
        "            import f\n"
        "    for _ in ():\n"
        "        import g\n"
        "    match event:\n"
        "        case {'x': 1}:\n"
        "            import h\n"
        "    lambda: 'import unused'\n"
        "    from pkg import inner\n"
    )
    files = [name for name, _ in scan_handlers(handlers).bundles["main"].files]
    assert files == sorted(["main.py", *(f"{n}.py" for n in "abcdefgh"), "pkg/__init__.py", "pkg/inner.py", "pkg/sibling.py"])


def test_a_scan_parses_only_what_changed_and_finds_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan cache (.cache/platformc/handlers.json beside handlers/): a second scan parses
    nothing that did not change, finds exactly what a first one finds, sees an edit at once,
    and a cache that cannot be read is parsed around."""
    import ast as parser

    from compiler.spec import handlers as scanning

    folder = tmp_path / "handlers"
    folder.mkdir()
    (folder / "jobs.py").write_text("from shared import util\n\ndef run(event, context):\n    return util()\n")
    (folder / "shared.py").write_text("def util():\n    return 1\n")
    first = scan_handlers(folder)
    assert (tmp_path / scanning.SCAN_CACHE).exists()
    parsed: list[bytes] = []
    real = parser.parse
    monkeypatch.setattr(scanning.ast, "parse", lambda source, *a, **k: parsed.append(source) or real(source, *a, **k))
    assert scan_handlers(folder) == first and parsed == []  # nothing changed: nothing parsed
    (folder / "jobs.py").write_text("from shared import util\n\ndef run(event, context):\n    return util()\n\n"
                                    "def stop(event, context):\n    return None\n")
    edited = scan_handlers(folder)
    assert "jobs.stop" in edited.functions and len(parsed) == 1
    assert edited.bundles["jobs"].digest != first.bundles["jobs"].digest
    (tmp_path / scanning.SCAN_CACHE).write_text("{not json")
    assert scan_handlers(folder) == edited
