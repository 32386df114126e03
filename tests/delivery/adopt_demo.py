"""`make adopt-demo`: the take-over of a Serverless-shaped stage, on a local moto server.

Starts a moto server on 127.0.0.1 (patched as `platformc up`'s is), deploys a small data tier
the way the Serverless Framework deploys it (the fixture of tests/delivery/test_takeover.py:
tables, the data bucket, FIFO queues, a user pool, customers' data), then runs
`platformc adopt` (the plan) and `platformc adopt --yes` (the take-over), and shows that
every identifier and piece of data is unchanged. Everything lives in a temporary folder.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner


def main() -> int:
    from moto.server import ThreadedMotoServer

    from compiler.cli import main as platformc
    from compiler.local import motopatch
    from compiler.local.emulator import free_port
    from tests.delivery.test_takeover import _holders, _serverless, _spec, _state

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    motopatch.apply()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the server's request log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder)
            out, artifacts = _spec(root, "listbackup")
            _serverless(endpoint, "listbackup")
            before = _state(endpoint, "listbackup")
            print(f"== a Serverless-shaped stage on {endpoint}: who holds what")
            print(json.dumps(_holders(endpoint, "listbackup"), indent=1, sort_keys=True))
            os.chdir(root)
            (root / ".build").mkdir()
            (root / ".build" / "artifacts").symlink_to(artifacts)
            args = ["adopt", "--stage", "dev", "--endpoint-url", endpoint, "--out", str(out)]
            print("\n== platformc adopt --stage dev (the plan)")
            print(CliRunner().invoke(platformc, args).output)
            print("== platformc adopt --stage dev --yes (the take-over)")
            result = CliRunner().invoke(platformc, [*args, "--yes"])
            print(result.output)
            print("== who holds what now")
            print(json.dumps(_holders(endpoint, "listbackup"), indent=1, sort_keys=True))
            same = _state(endpoint, "listbackup") == before
            print(f"\nidentifiers, items, objects, users and messages unchanged: {'yes' if same else 'NO'}")
            return 0 if result.exit_code == 0 and same else 1
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
