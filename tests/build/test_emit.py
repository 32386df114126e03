"""emit and the CLI around it: atomic writes, stale detection, removed stacks disappear."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from troposphere import Template

from compiler.cli import main
from tests.conftest import REPO, compile_spec, write_spec

QUEUES = "queues:\n  sync: {fifo: true}\n"
TABLES = "tables:\n  users: {hash_key: userId:S}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_spec(tmp_path, {"infrastructure/sqs.yaml": QUEUES, "infrastructure/dynamodb.yaml": TABLES})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_compile_writes_every_stack_and_a_manifest(project: Path) -> None:
    result = _run("compile", "--stage", "dev")
    assert result.exit_code == 0, result.output
    files = _snapshot(project / "generated")
    assert sorted(files) == [
        "README.md", "dev/graph.md", "dev/infrastructure-dynamodb.json", "dev/infrastructure-sqs.json",
        "dev/manifest.json",
    ]
    manifest = json.loads(files["dev/manifest.json"])
    for stack, entry in manifest["stacks"].items():  # the manifest pins each template's bytes
        import hashlib

        assert entry["sha256"] == hashlib.sha256(files[f"dev/{stack}.json"]).hexdigest()
    assert all(text.endswith(b"\n") for text in files.values())


def test_failed_compile_leaves_generated_untouched(project: Path) -> None:
    assert _run("compile", "--stage", "all").exit_code == 0
    before = _snapshot(project / "generated")
    (project / "spec/infrastructure/sqs.yaml").write_text("queues:\n  sync: {fifo: maybe}\n")
    result = _run("compile", "--stage", "all")
    assert result.exit_code == 1
    assert "spec/infrastructure/sqs.yaml:2:16: error[E203]" in result.output
    assert _snapshot(project / "generated") == before


def test_removed_stack_disappears(project: Path) -> None:
    assert _run("compile", "--stage", "all").exit_code == 0
    (project / "spec/infrastructure/sqs.yaml").unlink()
    assert _run("compile", "--stage", "all").exit_code == 0
    files = _snapshot(project / "generated")
    assert not any("infrastructure-sqs" in name for name in files)
    assert "prod/infrastructure-dynamodb.json" in files


def test_unchanged_output_is_not_rewritten(project: Path) -> None:
    assert _run("compile", "--stage", "dev").exit_code == 0
    target = project / "generated/dev/infrastructure-sqs.json"
    os.utime(target, (1, 1))
    result = _run("compile", "--stage", "dev")
    assert "(0 file(s) changed)" in result.output
    assert target.stat().st_mtime == 1


def test_check_lists_stale_missing_and_extra_files(project: Path) -> None:
    assert _run("compile", "--stage", "all").exit_code == 0
    assert _run("check").exit_code == 0
    (project / "generated/dev/infrastructure-sqs.json").write_text("{}\n")
    (project / "generated/prod/infrastructure-dynamodb.json").unlink()
    (project / "generated/prod/old-stack.json").write_text("{}\n")
    (project / "generated/qa").mkdir()
    result = _run("check")
    assert result.exit_code == 1
    assert "stale: generated/dev/infrastructure-sqs.json" in result.output
    assert "missing: generated/prod/infrastructure-dynamodb.json" in result.output
    assert "extra: generated/prod/old-stack.json" in result.output
    assert "extra: generated/qa" in result.output


def test_unknown_stage_on_the_command_line(project: Path) -> None:
    result = _run("compile", "--stage", "prd")
    assert result.exit_code == 1
    assert "error[E211]: unknown stage 'prd'" in result.output and "did you mean 'prod'?" in result.output


def test_json_diagnostics(project: Path) -> None:
    (project / "spec/infrastructure/sqs.yaml").write_text("queues:\n  sync: {fifo: maybe}\n")
    result = CliRunner().invoke(main, ["compile", "--format", "json"])
    assert result.exit_code == 1
    (record,) = json.loads(result.stdout)
    assert (record["file"], record["line"], record["column"], record["code"]) == (
        "spec/infrastructure/sqs.yaml", 2, 16, "E203",
    )


def test_internal_error_shows_a_traceback_and_exit_123(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("compiler.build.pipeline.synth", broken)
    result = _run("compile")
    assert result.exit_code == 123
    assert "internal error" in result.output


def test_check_and_the_freshness_test_share_one_definition(tmp_path: Path) -> None:
    """A stage folder the platform no longer has is drift for `platformc check` and for
    tests/build/test_golden.py alike (both call emit.freshness)."""
    from compiler.build.emit import freshness, write

    result = compile_spec(tmp_path, {"a.yaml": "queues:\n  q: {}\n"})
    write(tmp_path / "generated", result.outputs, list(result.stages))
    assert freshness(tmp_path / "generated", result.outputs, list(result.stages)) == []
    (tmp_path / "generated" / "qa").mkdir()
    (tmp_path / "generated" / "qa" / "manifest.json").write_text("{}\n")
    assert [(d.path, d.status) for d in freshness(tmp_path / "generated", result.outputs, list(result.stages))] == [("qa/", "extra")]


def test_one_file_is_replaced_atomically(tmp_path: Path) -> None:
    from compiler.build.emit import write_file

    write_file(tmp_path, "dev/graph.md", "first\n")
    write_file(tmp_path, "dev/graph.md", "second\n")
    assert (tmp_path / "dev" / "graph.md").read_text() == "second\n"
    assert sorted(p.name for p in (tmp_path / "dev").iterdir()) == ["graph.md"]  # no scratch file left


CANONICAL_CASES = [
    {"b": 1, "a": [1, 2.5, 0.8, -3], "c": {"d": None, "e": True, "f": False}, "g": [], "h": {}},
    {"tiny": 1e-05, "tinier": 1.5e-9, "huge": 1e16, "big": 123456789012345678.0, "zero": -0.0},
    {"nan": float("nan"), "inf": float("inf")},  # orjson would write null: json's text wins
    {"int": 2**70},  # beyond 64 bits: orjson refuses
    {"text": "".join(chr(i) for i in range(0x250)) + "\u2028\U0001F600", "é": "ü", "Z": "z"},
    {"lone": "\ud800"},  # a lone surrogate: orjson refuses
    [[[]], [{}], "null", ": 1e-05", "0.00001"],  # strings that look like the unsure values
]


@pytest.mark.parametrize("data", CANONICAL_CASES, ids=range(len(CANONICAL_CASES)))
def test_canonical_text_is_json_dumps_byte_for_byte(data: object) -> None:
    from compiler.build.emit import canonical

    assert canonical(data) == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_canonical_text_of_every_committed_template_is_json_dumps() -> None:
    from compiler.build.emit import canonical
    from tests.conftest import REPO

    paths = sorted(REPO.glob("generated/*/*.json")) + sorted(REPO.glob("tests/**/generated/*/*.json"))
    assert paths
    for path in paths:
        data = json.loads(path.read_text())
        assert canonical(data) == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", path


def test_the_fast_walk_gives_exactly_what_troposphere_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """compiler.kinds.todict replaces troposphere's to_dict in the compile, and emit encodes a
    template in one orjson pass (todict.shallow as its default): over every template of the
    repository's spec and the full golden (every kind, every stage) both agree with
    troposphere, value for value and byte for byte, and a missing required property still
    fails the same way."""
    from troposphere import sqs

    from compiler.build import emit
    from compiler.build.pipeline import build
    from compiler.kinds.todict import encode, template_dict

    compared = []
    one_pass = emit.canonical_template

    def both(template: object) -> str:
        reference = template.to_dict()  # type: ignore[attr-defined]
        assert template_dict(template) == reference  # type: ignore[arg-type]
        text = one_pass(template)  # type: ignore[arg-type]
        assert text == json.dumps(reference, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        compared.append(1)
        return text

    monkeypatch.setattr(emit, "canonical_template", both)
    for root in (REPO, REPO / "tests" / "build" / "golden" / "full"):
        build(root / "spec", "all", display_root=root)
    assert len(compared) > 60
    missing = sqs.QueuePolicy("P", Queues=["u"])  # PolicyDocument is required
    with pytest.raises(ValueError, match="PolicyDocument required"):
        missing.to_dict()
    with pytest.raises(ValueError, match="PolicyDocument required"):
        encode(missing)
    template = Template()
    template.add_resource(missing)
    with pytest.raises(ValueError, match="PolicyDocument required"):
        emit.canonical_template(template)


@pytest.mark.parametrize("threshold", [1e-05, 2.5e-07, 1e22, float("nan"), 0.5])
def test_one_pass_encoding_falls_back_where_orjson_writes_numbers_differently(threshold: float) -> None:
    """orjson writes 1e-05 as 0.00001, 1e-07 as 1e-7 and NaN as null: such templates take
    json.dumps' path, so the bytes are json.dumps' in every case."""
    from troposphere import cloudwatch

    from compiler.build.emit import canonical_template

    template = Template()
    template.add_resource(cloudwatch.Alarm("A", ComparisonOperator="GreaterThanThreshold", EvaluationPeriods=1, Statistic="Sum", Threshold=threshold))
    expected = json.dumps(template.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert canonical_template(template) == expected


def test_the_faster_constructor_mirrors_troposphere_and_builds_the_same_bytes() -> None:
    """compiler.build.construct replaces troposphere's BaseAWSObject constructor during compiles.
    It mirrors one exact version of it: an upgrade of troposphere changes the source and
    fails here until construct.py is compared with it again. With either constructor every
    stage of the repository's spec and of the full golden compiles to the same bytes."""
    import hashlib
    import inspect

    import troposphere

    from compiler.build import construct
    from compiler.build.pipeline import build

    source = inspect.getsource(construct.ORIGINAL)
    assert troposphere.__version__ == construct.VERSION
    assert hashlib.sha256(source.encode()).hexdigest() == construct.MIRRORED
    assert troposphere.BaseAWSObject.__init__ is construct._init  # installed by synth
    outputs = {}
    try:
        for installed in (True, False):
            construct.install() if installed else construct.uninstall()
            outputs[installed] = [build(root / "spec", "all", display_root=root).outputs
                                  for root in (REPO, REPO / "tests" / "build" / "golden" / "full")]
    finally:
        construct.install()
    assert outputs[True] == outputs[False]
    assert all(len(stage) > 10 for stage in outputs[True])
    # still validated as troposphere validates: titles (a class's own rule too), types, values
    from troposphere import Parameter, sqs

    with pytest.raises(ValueError, match="not alphanumeric"):
        sqs.Queue("not-alphanumeric")
    with pytest.raises(ValueError, match="can be no longer than"):
        Parameter("P" * 256, Type="String")
    with pytest.raises(ValueError, match="is not a valid integer"):
        sqs.Queue("Q", DelaySeconds=[1])
    with pytest.raises(TypeError, match="QueueName is <class 'list'>"):
        sqs.Queue("Q", QueueName=["x"])
    with pytest.raises(AttributeError, match="does not support attribute Nope"):
        sqs.Queue("Q", Nope=1)
