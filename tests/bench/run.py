"""`make bench`: wall time and peak memory of compiling all stages, at 1x, 10x and 100x.

Each measurement runs in a fresh interpreter (so peak RSS is the compile's own), three
times; the best time is printed with the peak RSS of that run. Also: `platformc lint`
cold (empty cache) and warm (nothing changed) over the repository's generated/.
Not a test: numbers depend on the machine and are printed, never asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench import local
from tests.bench.synthetic import generate

REPO = Path(__file__).resolve().parents[2]
RUNS = 3

MEASURE = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from compiler.pipeline import build
from compiler.emit import write
t1 = time.perf_counter()
result = build(Path(sys.argv[1]), "all", display_root=Path(sys.argv[1]).parent)
t2 = time.perf_counter()
write(Path(sys.argv[2]), result.outputs, list(result.stages))
t3 = time.perf_counter()
resources = sum(len(s.resources) for r in result.resolved.values() for s in r.stacks.values())
print(json.dumps({"import": t1 - t0, "build": t2 - t1, "write": t3 - t2,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "stacks": sum(len(r.stacks) for r in result.resolved.values()),
                  "spec_resources": resources, "files": len(result.outputs),
                  "bytes": sum(len(t) for t in result.outputs.values())}))
"""


def measure(spec: Path, scratch: Path) -> dict:
    best = None
    for _ in range(RUNS):
        out = scratch / "out"
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", MEASURE, str(spec), str(out)], cwd=REPO,
                              capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        figures = {**json.loads(proc.stdout), "wall": wall}
        if best is None or figures["wall"] < best["wall"]:
            best = figures
    return best


def lint_times(scratch: Path) -> tuple[float, float]:
    env = {**os.environ}
    cmd = [str(Path(sys.executable).parent / "platformc"), "lint", "--out", str(REPO / "generated"),
           "--config", str(REPO / "cfn-lint.yaml")]
    times = []
    for _ in range(2):  # cold (empty cache in scratch), then warm
        started = time.perf_counter()
        subprocess.run(cmd, cwd=scratch, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times[0], times[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        rows = []
        for factor in (1, 10, 100):
            spec = REPO / "spec" if factor == 1 else generate(REPO / "spec", scratch / f"x{factor}" / "spec", factor)
            rows.append((factor, measure(spec, scratch)))
        print(f"compile, all stages ({os.cpu_count()} cores, Python {sys.version.split()[0]}, best of {RUNS}):")
        print(f"{'size':>6} {'stacks':>7} {'resources':>10} {'MB out':>7} {'build s':>8} {'write s':>8} "
              f"{'import s':>9} {'wall s':>7} {'peak RSS MB':>12}")
        for factor, f in rows:
            print(f"{str(factor) + 'x':>6} {f['stacks']:>7} {f['spec_resources']:>10} {f['bytes'] / 1e6:>7.2f} "
                  f"{f['build']:>8.3f} {f['write']:>8.3f} {f['import']:>9.3f} {f['wall']:>7.2f} {f['rss_mb']:>12.0f}")
        cold, warm = lint_times(scratch)
        templates = [p for p in (REPO / 'generated').glob('*/*.json') if p.name != 'manifest.json']
        print(f"lint, repository generated/ ({len(templates)} templates): "
              f"cold {cold:.2f} s, warm (nothing changed) {warm:.2f} s")
        print(local.report(local.measure(scratch)))


if __name__ == "__main__":
    main()
