"""`platformc up --attach` stops what `up` started however the attached command is ended:
Ctrl-C, a `kill` (SIGTERM) or the terminal closing (SIGHUP). Driven through
`compiler.local.emulator.attach` with a stand-in for the local platform (a process group
recorded where `up` records its own), so each way costs a fraction of a second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize("ending", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name)
def test_attach_stops_everything_however_it_is_ended(tmp_path: Path, ending: int) -> None:
    started = subprocess.Popen(["sleep", "60"], start_new_session=True)  # stands in for the local AWS
    try:
        state = tmp_path / ".cache" / "platformc"
        (state / "logs").mkdir(parents=True)
        (state / "local.json").write_text(json.dumps({"pid": started.pid}))
        (state / "logs" / "listbackup-dev-health.log").write_text('{"status": "ok"}\n')
        attached = subprocess.Popen(
            [sys.executable, "-c", "from compiler.local import emulator\n"
                                   "emulator.attach(lambda line: print(line, flush=True), poll=0.05)\n"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True,
        )
        assert attached.stdout is not None
        first = attached.stdout.readline()  # printed once attach listens for the signals
        assert first == 'listbackup-dev-health: {"status": "ok"}\n'
        attached.send_signal(ending)
        rest, _ = attached.communicate(timeout=30)
        assert attached.returncode == 0, rest
        assert rest == "stopped: the gateway, its workers and the local AWS\n"
        assert started.wait(timeout=10) == -signal.SIGTERM  # what `up` started was stopped
        assert not (state / "local.json").exists()
    finally:
        if started.poll() is None:
            started.kill()
