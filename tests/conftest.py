"""Shared helpers: write small specs to a temporary folder and compile them."""

from __future__ import annotations

import json
import socket
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from compiler.diagnostics import render_text
from compiler.pipeline import ALL, BuildError, build

REPO = Path(__file__).resolve().parent.parent

PLATFORM = """\
service: listbackup
region: us-west-2
tags: {Project: test}
stages:
  dev: {protect: false}
  prod: {protect: true}
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden outputs from the current compiler")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port), shared by the deploy tests."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def write_spec(root: Path, files: dict[str, str], platform: str | None = PLATFORM) -> Path:
    """Lay out root/spec/<file> (plus platform.yaml) and return the spec folder."""
    spec = root / "spec"
    spec.mkdir(parents=True, exist_ok=True)
    if platform is not None:
        (spec / "platform.yaml").write_text(platform)
    for name, text in files.items():
        path = spec / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return spec


def compile_spec(root: Path, files: dict[str, str], stage: str = ALL, platform: str | None = PLATFORM):
    return build(write_spec(root, files, platform), stage, display_root=root)


def errors_of(root: Path, files: dict[str, str], platform: str | None = PLATFORM) -> str:
    """The rendered diagnostics of a spec that must fail."""
    with pytest.raises(BuildError) as info:
        compile_spec(root, files, platform=platform)
    return render_text(info.value.diagnostics, info.value.files)


def template(result: Any, stage: str, stack: str) -> dict[str, Any]:
    return json.loads(result.outputs[f"{stage}/{stack}.json"])


def resource(result: Any, stage: str, stack: str, logical_id: str) -> dict[str, Any]:
    return template(result, stage, stack)["Resources"][logical_id]
