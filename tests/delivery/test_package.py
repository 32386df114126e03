"""package: reproducible artifacts, only what a module needs, keys that follow the code."""

from __future__ import annotations

import hashlib
import zipfile
import json
from pathlib import Path

import pytest

from compiler.spec.handlers import scan_handlers
from compiler.delivery.package import package
from tests.conftest import compile_spec, template

SPEC = {"f.yaml": "functions:\n  a: {handler: api.handler}\n  b: {handler: jobs.worker.run}\n"}


def _code(root: Path) -> None:
    handlers = root / "handlers"
    (handlers / "jobs").mkdir(parents=True, exist_ok=True)
    (handlers / "shared.py").write_text("def respond():\n    return 1\n")
    (handlers / "unused.py").write_text("def nothing():\n    return 0\n")
    (handlers / "api.py").write_text("from shared import respond\n\n\ndef handler(e, c):\n    return respond()\n")
    (handlers / "jobs" / "__init__.py").write_text("")
    (handlers / "jobs" / "worker.py").write_text("from . import steps\n\n\ndef run(e, c):\n    return steps.go()\n")
    (handlers / "jobs" / "steps.py").write_text("import shared\n\n\ndef go():\n    return shared.respond()\n")


def test_bundles_hold_only_what_each_module_imports(tmp_path: Path) -> None:
    _code(tmp_path)
    bundles = scan_handlers(tmp_path / "handlers").bundles
    assert [name for name, _ in bundles["api"].files] == ["api.py", "shared.py"]
    assert [name for name, _ in bundles["jobs.worker"].files] == [
        "jobs/__init__.py", "jobs/steps.py", "jobs/worker.py", "shared.py",
    ]


def test_artifacts_are_byte_identical_twice_and_fixed(tmp_path: Path) -> None:
    _code(tmp_path)
    first = package(tmp_path / "handlers", tmp_path / "a")
    second = package(tmp_path / "handlers", tmp_path / "b")
    assert first == second and len(first) == 6
    for key in first:
        assert (tmp_path / "a" / key).read_bytes() == (tmp_path / "b" / key).read_bytes()
        assert hashlib.sha256((tmp_path / "a" / key).read_bytes()).hexdigest() == first[key]
    with zipfile.ZipFile(next((tmp_path / "a" / "handlers").glob("api-*.zip"))) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == ["api.py", "shared.py"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_template_key_changes_exactly_when_the_code_does(tmp_path: Path) -> None:
    _code(tmp_path)
    key = lambda: template(compile_spec(tmp_path, SPEC), "dev", "f")["Resources"]["AFunction"]["Properties"]["Code"]["S3Key"]  # noqa: E731
    before = key()
    (tmp_path / "handlers" / "unused.py").write_text("def nothing():\n    return 1\n")
    assert key() == before  # code the function does not run
    (tmp_path / "handlers" / "shared.py").write_text("def respond():\n    return 2\n")
    after = key()
    assert after != before and after.startswith("handlers/api-")
    package(tmp_path / "handlers", tmp_path / "out")
    assert (tmp_path / "out" / after).exists()  # the artifact deploy uploads is the one referenced


def test_repository_artifacts_are_reproducible_and_referenced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from compiler.cli import main
    from tests.conftest import REPO

    monkeypatch.chdir(REPO)
    for out in ("a", "b"):
        assert CliRunner().invoke(main, ["package", "--out", str(tmp_path / out)]).exit_code == 0
    first = json.loads((tmp_path / "a" / "artifacts.json").read_text())
    assert first == json.loads((tmp_path / "b" / "artifacts.json").read_text())
    for key in first:
        assert (tmp_path / "a" / key).read_bytes() == (tmp_path / "b" / key).read_bytes()
    referenced = {
        resource["Properties"]["Code"]["S3Key"]
        for path in (REPO / "generated").glob("*/*.json")
        for resource in json.loads(path.read_text()).get("Resources", {}).values()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert referenced == set(first)  # every function's artifact is built, and nothing else


def test_a_spec_without_functions_packages_nothing_and_says_so(tmp_path: Path) -> None:
    """No handler module to pack (a data-only platform, `up` before the first function):
    an empty list of artifacts, not a crash on the missing output folder."""
    from compiler.delivery.package import package

    (tmp_path / "handlers").mkdir()
    assert package(tmp_path / "handlers", tmp_path / "out" / "artifacts", set()) == {}
    assert json.loads((tmp_path / "out" / "artifacts" / "artifacts.json").read_text()) == {}
