"""Same spec -> same bytes: across runs, hash seeds and file discovery order."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from compiler.spec import load
from compiler.build.pipeline import build
from tests.conftest import REPO


def _compile_in_subprocess(out: Path, seed: str) -> dict[str, bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    cmd = [sys.executable, "-m", "compiler", "compile", "--stage", "all", "--out", str(out)]
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_two_hash_seeds_give_identical_bytes(tmp_path: Path) -> None:
    first = _compile_in_subprocess(tmp_path / "a", "0")
    second = _compile_in_subprocess(tmp_path / "b", "4242")
    assert first and first == second


def test_discovery_order_does_not_matter(monkeypatch) -> None:
    forward = build(REPO / "spec", "all", display_root=REPO).outputs
    original = load._walk
    monkeypatch.setattr(load, "_walk", lambda folder, prefix="": list(reversed(list(original(folder, prefix)))))
    backward = build(REPO / "spec", "all", display_root=REPO).outputs
    assert forward == backward


def test_output_has_no_absolute_paths_or_timestamps() -> None:
    outputs = build(REPO / "spec", "all", display_root=REPO).outputs
    for text in outputs.values():
        assert str(REPO) not in text
        assert "2026-" not in text and "2025-" not in text


# Run in a fresh interpreter: forking is only safe in a process of one thread, and pytest's
# may run servers in threads. The child marks each stage it renders, so the test knows the
# stages really rendered in workers.
_BOTH_WAYS = r"""
import json, os, sys
from pathlib import Path
from compiler.build import pipeline
from compiler.build.pipeline import BuildError, build

marks = Path(sys.argv[2])
render = pipeline._render
def marked(resolved):
    if os.getpid() != PARENT:
        (marks / resolved.stage).touch()
    if resolved.stage == os.environ.get("FAIL_STAGE"):
        raise RuntimeError("synthesis broke")
    return render(resolved)
PARENT = os.getpid()
pipeline._render = marked

def run(parallel):
    try:
        return {"outputs": build(Path(sys.argv[1]), "all", display_root=Path(sys.argv[1]).parent, parallel=parallel).outputs}
    except BuildError as exc:
        return {"diagnostics": [repr(d) for d in exc.diagnostics]}
    except Exception as exc:
        return {"raised": f"{type(exc).__name__}: {exc}"}

print(json.dumps({"forked": run(True), "here": run(False), "marked": sorted(p.name for p in marks.iterdir())}))
"""


def _both_ways(spec: Path, marks: Path, fail_stage: str = "") -> dict:
    import json

    marks.mkdir()
    env = {**os.environ, "FAIL_STAGE": fail_stage}
    proc = subprocess.run([sys.executable, "-c", _BOTH_WAYS, str(spec), str(marks)], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_stages_rendered_in_workers_give_the_same_bytes(tmp_path: Path) -> None:
    """`--stage all` renders every stage but the last in a forked worker: the outputs are
    those of rendering the stages one after another."""
    result = _both_ways(REPO / "spec", tmp_path / "marks")
    stages = sorted({path.split("/")[0] for path in result["here"]["outputs"] if "/" in path})
    assert len(stages) > 1
    assert len(result["marked"]) == len(stages) - 1 and set(result["marked"]) < set(stages)  # the last renders here
    assert result["forked"] == result["here"]


def test_problems_found_in_workers_are_reported_in_stage_order(tmp_path: Path) -> None:
    """A limit broken in every stage: the same diagnostics, in the same order, either way."""
    from tests.conftest import write_spec

    tables = "tables:\n" + "".join(f"  t{i}: {{hash_key: id:S, export: [name]}}\n" for i in range(201))
    spec = write_spec(tmp_path / "repo", {"big.yaml": tables})
    result = _both_ways(spec, tmp_path / "marks")
    diagnostics = result["here"]["diagnostics"]
    assert [d for d in diagnostics if "E311" in d and "-dev-" in d] and [d for d in diagnostics if "E311" in d and "-prod-" in d]
    assert result["marked"] and result["forked"] == result["here"]


def test_a_worker_that_fails_stops_the_build_with_an_internal_error(tmp_path: Path) -> None:
    result = _both_ways(REPO / "spec", tmp_path / "marks", fail_stage="dev")
    assert result["forked"]["raised"].startswith("InternalError: rendering stage dev failed in its worker: RuntimeError: synthesis broke")
    assert result["here"]["raised"] == "RuntimeError: synthesis broke"


def test_a_pydantic_plugin_installed_beside_the_compiler_is_not_loaded(tmp_path: Path) -> None:
    """A package declaring a `pydantic` entry point (as logfire does) would wrap every spec
    validator; the compiler builds its models without plugins unless the environment asks for
    them. The same plugin, with PYDANTIC_DISABLE_PLUGINS set empty, is loaded (the control)."""
    site = tmp_path / "site"
    (site / "spyplugin-1.0.dist-info").mkdir(parents=True)
    (site / "spyplugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: spyplugin\nVersion: 1.0\n")
    (site / "spyplugin-1.0.dist-info" / "entry_points.txt").write_text("[pydantic]\nspy = spyplugin:plugin\n")
    (site / "spyplugin.py").write_text(
        "import os\n"
        "class Spy:\n"
        "    def new_schema_validator(self, *args, **kwargs):\n"
        "        open(os.environ['SPY_MARK'], 'a').write('built\\n')\n"
        "        return None, None, None\n"
        "plugin = Spy()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env.update(PYTHONPATH=f"{site}{os.pathsep}{REPO}", SPY_MARK=str(tmp_path / "mark"))
    cmd = [sys.executable, "-m", "compiler", "compile", "--stage", "dev", "--out", str(tmp_path / "out")]
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True)
    assert not (tmp_path / "mark").exists()
    subprocess.run(cmd, cwd=REPO, env={**env, "PYDANTIC_DISABLE_PLUGINS": ""}, check=True, capture_output=True)
    assert "built" in (tmp_path / "mark").read_text()


def test_a_compile_without_plugins_reads_no_package_metadata(tmp_path: Path) -> None:
    """With plugins off (the default), pydantic's plugin loader, and with it importlib.metadata,
    email and zipfile (~25 ms of a compile), is never imported; the test above shows the
    real loader still answers when the environment asks for plugins."""
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from compiler.build.pipeline import build\n"
        f"build(Path({str(REPO / 'spec')!r}), 'all', display_root=Path({str(REPO)!r}))\n"
        "print(sorted(m for m in ('importlib.metadata', 'email', 'zipfile') if m in sys.modules))\n"
    )
    found = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
                           check=True, capture_output=True, text=True)
    assert found.stdout.strip() == "[]"


def test_the_plugin_loaders_stand_in_hands_any_other_name_to_the_real_loader() -> None:
    """A pydantic version that asks its loader for more than `get_plugins` still gets it."""
    probe = (
        "import compiler.model\n"
        "from pydantic.plugin._loader import PYDANTIC_ENTRY_POINT_GROUP\n"
        "print(PYDANTIC_ENTRY_POINT_GROUP)\n"
    )
    found = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                           check=True, capture_output=True, text=True)
    assert found.stdout.strip() == "pydantic"


# One stage split across two processes (pipeline._render_split), forced at any size. In a
# fresh interpreter, as above. SHARES=alternate deals the stacks out one by one, so that
# neighbouring stacks (two declaring one route) land in different shares; the worker
# writes down the stacks of its share.
_SPLIT = r"""
import json, os, sys
from pathlib import Path
from compiler.build import pipeline
from compiler.build.pipeline import BuildError, build

stage, marks = sys.argv[1], Path(sys.argv[2])
PARENT = os.getpid()
pipeline.SPLIT_FROM = 0
pipeline.LOAD_SPLIT_FROM = 0  # the files load in two processes too
if os.environ.get("SHARES") == "alternate":
    pipeline._shares = lambda resolved: (list(resolved.stacks)[::2], list(resolved.stacks)[1::2])
synth_stacks = pipeline.synth_stacks
def marked(resolved, stacks):
    stacks = list(stacks)
    if os.getpid() != PARENT:
        (marks / "worker").write_text(json.dumps(stacks))
        if os.environ.get("FAIL_SHARE"):
            raise RuntimeError("synthesis broke")
    return synth_stacks(resolved, stacks)
pipeline.synth_stacks = marked

def run(spec, parallel):
    try:
        return {"outputs": build(spec, stage, display_root=spec.parent, parallel=parallel).outputs}
    except BuildError as exc:
        return {"diagnostics": [repr(d) for d in exc.diagnostics]}
    except Exception as exc:
        return {"raised": f"{type(exc).__name__}: {exc}"}

results = {}
for spec in map(Path, sys.argv[3:]):
    (marks / "worker").unlink(missing_ok=True)
    split = run(spec, True)
    worker = json.loads((marks / "worker").read_text()) if (marks / "worker").exists() else None
    results[str(spec)] = {"split": split, "here": run(spec, False), "worker": worker}
print(json.dumps(results))
"""


def _split(specs: list[Path], marks: Path, stage: str = "dev", **env: str) -> dict:
    import json

    marks.mkdir()
    proc = subprocess.run([sys.executable, "-c", _SPLIT, stage, str(marks), *map(str, specs)], cwd=REPO,
                          env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_a_stage_split_across_two_processes_gives_the_same_bytes(tmp_path: Path) -> None:
    """The repository and the full golden (exports, cross-region values, every kind): the
    worker's share rendered there, the other here, and the stage's files are those of one
    process, manifest and graph included."""
    specs = [REPO / "spec", REPO / "tests" / "build" / "golden" / "full" / "spec"]
    for spec, result in _split(specs, tmp_path / "marks").items():
        here = result["here"]["outputs"]
        stacks = {path.split("/")[1][: -len(".json")] for path in here if path.startswith("dev/") and "manifest" not in path
                  and path.endswith(".json")}
        assert result["worker"] and set(result["worker"]) < stacks, spec
        assert result["split"] == result["here"], spec


def test_problems_in_a_split_stage_are_reported_as_in_one_process(tmp_path: Path) -> None:
    """Every error golden, its stacks dealt out one by one: the same diagnostics in the same
    order. Among them a route declared in two stacks, one in each share: neither process
    sees the clash alone, the claims they report do."""
    from tests.spec.test_errors import CASES, assemble

    specs = [assemble(case, tmp_path / case) / "spec" for case in CASES]
    results = _split(specs, tmp_path / "marks", SHARES="alternate")
    for spec, result in results.items():
        assert result["split"] == result["here"], spec
    route = results[str(tmp_path / "duplicate-route" / "spec")]
    assert any("E308" in d and "already declared" in d for d in route["here"]["diagnostics"])
    assert route["worker"] is not None and len([s for s in route["worker"] if s.startswith("api")]) == 1  # apart


def test_a_share_that_fails_stops_the_build_with_an_internal_error(tmp_path: Path) -> None:
    (result,) = _split([REPO / "spec"], tmp_path / "marks", FAIL_SHARE="1").values()
    assert result["split"]["raised"].startswith(
        "InternalError: rendering half of the stage failed in its worker: RuntimeError: synthesis broke")
    assert "outputs" in result["here"]


# The spec files loaded in two processes (pipeline._load_split), forced at any size, in a
# fresh interpreter: every field of every file, and every diagnostic, against one process.
_LOAD = r"""
import json, os, sys
from pathlib import Path
from compiler.build import pipeline
from compiler.spec.load import entries, load_entries

pipeline.LOAD_SPLIT_FROM = 0
handed = []
unpack = pipeline.unpack
pipeline.unpack = lambda packed: handed.append(len(packed)) or unpack(packed)

def seen(loaded):
    files, diags = loaded
    return ([[f.path, f.rel, f.text, f.data, sorted(f.keys.items()), sorted(f.values.items()), f.parsed, f.modified]
             for f in files], [repr(d) for d in diags])

results = {}
for spec in map(Path, sys.argv[1:]):
    handed.clear()
    todo = entries(spec, spec.parent)
    split = seen(pipeline._load_split(todo))
    results[str(spec)] = {"same": split == seen(load_entries(todo)), "handed": bool(handed), "files": len(split[0]),
                          "problems": split[1]}
print(json.dumps(results))
"""


def test_spec_files_loaded_in_two_processes_are_those_of_one(tmp_path: Path) -> None:
    """The later files come from the worker (handed over), with the same data, text, key
    and value positions and mtime as loaded here. When its files hold a problem, they are
    loaded here and the problem is reported as in one process; one in this process's
    share leaves the worker's to be handed over."""
    late_problem = tmp_path / "late" / "spec"
    early_problem = tmp_path / "early" / "spec"
    for spec in (late_problem, early_problem):
        spec.mkdir(parents=True)
        (spec / "platform.yaml").write_text("service: x\n")
        for name in "abcdef":
            (spec / f"{name}.yaml").write_text("queues:\n" + "".join(f"  {name}{i}:\n    fifo: true\n" for i in range(20)))
    (late_problem / "f.yaml").write_text("queues: {}\nqueues: {}\n")  # a duplicate key, last in order
    (early_problem / "a.yaml").write_text("queues: {}\nqueues: {}\n")
    specs = [REPO / "spec", REPO / "tests" / "build" / "golden" / "full" / "spec", late_problem, early_problem]
    proc = subprocess.run([sys.executable, "-c", _LOAD, *map(str, specs)], cwd=REPO, capture_output=True, text=True, check=True)
    import json

    results = json.loads(proc.stdout)
    for spec in specs[:2]:
        assert results[str(spec)]["same"] and results[str(spec)]["handed"], spec
        assert results[str(spec)]["files"] > 2 and results[str(spec)]["problems"] == []
    late, early = results[str(late_problem)], results[str(early_problem)]
    assert late["same"] and not late["handed"]
    assert early["same"] and early["handed"]
    for result, file in ((late, "f.yaml"), (early, "a.yaml")):
        assert [p for p in result["problems"] if "E102" in p and file in p], result["problems"]
