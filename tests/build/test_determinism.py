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
    original = load.discover
    monkeypatch.setattr(load, "discover", lambda spec_dir: list(reversed(original(spec_dir))))
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
