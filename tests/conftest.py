"""Shared helpers: write small specs to a temporary folder and compile them."""

from __future__ import annotations

import json
import signal
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from compiler.diagnostics import render_text
from compiler.build.pipeline import ALL, BuildError, build

REPO = Path(__file__).resolve().parent.parent



def platform(dev: str = "{protect: false}", prod: str = "{protect: true}", service: str = "listbackup",
             tags: str | None = "{Project: test}") -> str:
    """The tests' platform.yaml (stages dev and prod), with some settings changed."""
    tag_line = f"tags: {tags}\n" if tags is not None else ""
    return f"service: {service}\nregion: us-west-2\n{tag_line}stages:\n  dev: {dev}\n  prod: {prod}\n"


PLATFORM = platform()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden outputs from the current compiler")
    parser.addoption("--update-reference", metavar="REPO", default=None,
                     help="rewrite compiler/data/cfn_update_reference.json from a clone of "
                          "awsdocs/aws-cloudformation-user-guide (tests/test_awstypes.py)")


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as in a terminal, wherever the tests were started from: a job a non-interactive
    shell starts in the background (`make test &`) ignores SIGINT, and so would every process
    it starts; the tests of Ctrl-C (a deploy interrupted, `up --attach` stopped) would then wait
    for an interrupt that never comes. Here, and in each xdist worker, SIGINT raises
    KeyboardInterrupt again, and the commands the tests start get the default back."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# The scopes (files, and tests/handlers as one) that take longest, longest first: started
# before the rest, so that no worker is left running one of them alone at the end of the
# run (longest-first scheduling). Seconds on one core, measured 2026-12-07: 73, 64, 45, 28,
# 27, 26 of a 405 s suite. The others follow by their number of tests, as xdist orders
# scopes by default; a stale list costs only time.
SLOW_FIRST = ("tests/handlers", "tests/local/test_local_platform.py", "tests/delivery/test_takeover.py",
              "tests/review/test_review_battery.py", "tests/spec/test_fuzz.py", "tests/delivery/test_deploy.py")


def _scope(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return "tests/handlers" if path.startswith("tests/handlers/") else path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """SLOW_FIRST, then the scopes with the most tests; a stable sort keeps the order inside
    each scope (the xdist scheduler below takes the scopes in this order)."""
    rank = {scope: number for number, scope in enumerate(SLOW_FIRST)}
    count: dict[str, int] = {}
    for item in items:
        count[_scope(item.nodeid)] = count.get(_scope(item.nodeid), 0) + 1
    items.sort(key=lambda item: (rank.get(_scope(item.nodeid), len(SLOW_FIRST)), -count[_scope(item.nodeid)]))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` spreads the tests over the machine's cores (pytest-xdist): each file runs
    whole in one worker, so its module fixtures are built once, and the handler tests all in
    one, since test_grants.py reads what every one of them called (tests/handlers/conftest.py
    runs it last). (xdist's own `loadgroup` cannot: it renames node ids, which pytest 9 ignores.)"""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # the order of pytest_collection_modifyitems above

    class ByFile(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    return ByFile(config, log)


@pytest.fixture(autouse=True)
def _stages_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds inside pytest's process render their stages one after another. Whether that
    process has threads (the servers of other tests) decides whether a build forks, and a
    test's collectors would not see what a forked worker did; the forked path is tested in
    fresh interpreters (tests/build/test_determinism.py) and by every `platformc` subprocess."""
    from compiler.build import pipeline

    monkeypatch.setattr(pipeline, "_forking", lambda parallel: False)


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def local_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake AWS credentials (the emulator takes any) and no profile of the machine's."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port), patched as `platformc up`'s is, shared by the
    deploy tests (each names its own service)."""
    from moto.server import ThreadedMotoServer

    from compiler.local import motopatch
    from compiler.local.emulator import free_port

    motopatch.apply()  # CloudFormation's behaviours that moto lacks, as `platformc up`'s server has them
    port = free_port()
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


HANDLER = "def run(event, context):\n    return {'batchItemFailures': []}\n"


def deployable(root: Path, files: dict[str, str], platform: str | None = PLATFORM, stage: str = ALL,
               handlers: dict[str, str] | None = None) -> tuple[Path, Path]:
    """A spec written, compiled into root/generated and its handlers (by default jobs.run)
    packaged into root/artifacts, as deploy reads them: (generated, artifacts)."""
    from compiler.build.emit import write
    from compiler.delivery.package import package

    (root / "handlers").mkdir(parents=True, exist_ok=True)
    for name, code in (handlers if handlers is not None else {"jobs.py": HANDLER}).items():
        (root / "handlers" / name).write_text(code)
    result = compile_spec(root, files, stage, platform)
    write(root / "generated", result.outputs, list(result.stages))
    package(root / "handlers", root / "artifacts")
    return root / "generated", root / "artifacts"


def errors_of(root: Path, files: dict[str, str], platform: str | None = PLATFORM) -> str:
    """The rendered diagnostics of a spec that must fail."""
    with pytest.raises(BuildError) as info:
        compile_spec(root, files, platform=platform)
    return render_text(info.value.diagnostics, info.value.files)


def template(result: Any, stage: str, stack: str) -> dict[str, Any]:
    return json.loads(result.outputs[f"{stage}/{stack}.json"])


def resource(result: Any, stage: str, stack: str, logical_id: str) -> dict[str, Any]:
    return template(result, stage, stack)["Resources"][logical_id]


def stack_names(cfn: Any) -> list[str]:
    """Every stack's name, through all of DescribeStacks' pages: it pages (moto 50 a page, AWS
    by size), and the session's moto server holds every deploying test's stacks, so a first
    page alone may lack the ones a test looks for, or hide the one it says is gone."""
    return [stack["StackName"] for page in cfn.get_paginator("describe_stacks").paginate() for stack in page["Stacks"]]
