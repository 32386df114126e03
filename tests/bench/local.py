"""`make bench`, local platform: `platformc up --no-throttle` for dev from a copy of the repository (the stage's
throttling would answer 429 to a load test, as API Gateway does), then
GET /health through the gateway (warm p50/p99, sequential) and a bounded burst of concurrent
requests; `python -c pass` measured in the same run as the machine's reference."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - 127.0.0.1
        answer.read()
        return int(answer.status)


def measure(scratch: Path, sequential: int = 300, burst: int = 200, workers: int = 20) -> dict[str, float]:
    root = scratch / "local"
    for folder in ("spec", "handlers", "generated"):
        shutil.copytree(REPO / folder, root / folder)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    python = time.perf_counter() - started
    started = time.perf_counter()
    up = subprocess.run([sys.executable, "-m", "compiler", "up", "--stage", "dev", "--no-throttle"], cwd=root, env=env,
                        capture_output=True, text=True, check=True)
    up_s = time.perf_counter() - started
    try:
        url = next(line.split()[-1] for line in up.stdout.splitlines() if line.startswith("API ")) + "/health"
        _get(url)  # the first request starts the worker
        times = []
        for _ in range(sequential):
            t = time.perf_counter()
            _get(url)
            times.append(time.perf_counter() - t)
        times.sort()
        with ThreadPoolExecutor(workers) as pool:
            t = time.perf_counter()
            codes = list(pool.map(lambda _: _get(url), range(burst)))
            burst_s = time.perf_counter() - t
    finally:
        subprocess.run([sys.executable, "-m", "compiler", "down"], cwd=root, env=env, capture_output=True, check=False)
    return {"python": python, "up": up_s, "p50_ms": statistics.median(times) * 1000,
            "p99_ms": times[int(len(times) * 0.99) - 1] * 1000, "burst": burst, "burst_errors": sum(c != 200 for c in codes),
            "burst_s": burst_s}


def report(found: dict[str, float]) -> str:
    return (f"local platform (dev): up {found['up']:.1f} s (python -c pass {found['python'] * 1000:.0f} ms); "
            f"GET /health warm p50 {found['p50_ms']:.1f} ms, p99 {found['p99_ms']:.1f} ms; "
            f"{found['burst']:.0f} requests, 20 at a time: {found['burst_errors']:.0f} errors in {found['burst_s']:.2f} s")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(report(measure(Path(tmp))))
