"""`make bench`: the compiler's speed as ratios against references measured in the same run.

Machines here are shared and noisy (absolute times move 3x between them), so each figure is
a ratio of whole-process runs made back to back, in pairs, alternating which runs first
(A B, B A, ...), at least 5 pairs a row, reported as the median with min-max. A row whose
machine was busier than one runnable process per core, or whose pairs spread more than half
their median, prints its figure and "too loaded (noisy) to judge" instead of a verdict:

- compile: `platformc compile --stage dev` / tests/bench/floor.py (the same output with only
  the unavoidable work) - target <= 2;
- data tier: the same tier as an AWS CDK app (tests/bench/cdk_data_tier.py, run by the pinned
  CDK in its own virtualenv: tests/bench/cdk.py) / `platformc compile --stage dev` of the
  tier's spec files alone (tables, buckets, queues) - target: at least 15x faster;
- cold lint: `platformc lint` with an empty cache / plain `cfn-lint` over the same templates
  in one process - target <= 0.6, in wall time and in CPU time (user + system, its workers
  included: faster on one core too, not only with two);
- warm lint: `platformc lint` with everything cached, paired with `python -c pass` - target:
  the whole process <= 0.2 s;
- scaling: compile of dev at 1x, 10x, 100x the spec (tests/bench/synthetic.py): per stack,
  peak memory, and the 100x/1x ratio of time per resource in one process (linear: <= 1.2;
  a stage this large otherwise renders on two cores, which would flatter the ratio) -
  target <= 3 s per stage at 100x, the command as a user runs it;
- `--stage all` at 10x with its stages rendered in forked workers against one after another
  (no target: what the second core buys).

Then the local platform (tests/bench/local.py). Numbers are printed, never asserted. The
compiler's bytecode is written first (compileall), as on any machine after a first run.
`BENCH_QUICK=1` runs fewer pairs and skips 100x (to try the script, not to quote it).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from tests.bench import cdk, local
from tests.bench.synthetic import generate

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
QUICK = bool(os.environ.get("BENCH_QUICK"))
PAIRS = 3 if QUICK else 7
COLD_PAIRS = 1 if QUICK else 5  # at least 5 for every ratio quoted
SCALE_PAIRS = 1 if QUICK else 5
SIZES = (1, 10) if QUICK else (1, 10, 100)
# A row is not judged when the machine is busier than this (1-minute load per core) or its
# pairs spread wider than this around their median: the figure is printed, the verdict is not.
LOADED, NOISY = 1.0, 0.5

# The compile's own work (load .. write), timed inside a fresh interpreter: what scales.
# argv[3]: "serial" keeps it in one process (a large stage otherwise renders on two cores).
WORK = r"""
import json, resource, sys, time
from pathlib import Path
from compiler.build.pipeline import build
from compiler.build.emit import write
t0 = time.perf_counter()
serial = len(sys.argv) > 3 and sys.argv[3] == "serial"
result = build(Path(sys.argv[1]), "dev", display_root=Path(sys.argv[1]).parent, parallel=False if serial else None)
write(Path(sys.argv[2]), result.outputs, list(result.stages))
work = time.perf_counter() - t0
stacks = result.resolved["dev"].stacks.values()
print(json.dumps({"work": work, "stacks": len(stacks), "resources": sum(len(s.resources) for s in stacks),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


# `--stage all`, its stages rendered in forked workers ("1") or one after another ("0").
ALL_STAGES = r"""
import sys
from pathlib import Path
from compiler.build.pipeline import build
build(Path(sys.argv[1]), "all", display_root=Path(sys.argv[1]).parent, parallel=sys.argv[2] == "1")
"""


DATA_TIER = ("dynamodb", "s3", "sqs")  # spec/infrastructure/<file>.yaml: the tier CDK is timed on

CPU: dict[tuple[str, ...], list[float]] = {}  # command -> CPU seconds (user + system, its workers included) per run


def run(cmd: Sequence[str], cwd: Path = REPO) -> tuple[float, float, str]:
    """Wall time, peak RSS (MB) and stdout of one whole process; its CPU time goes to CPU
    (wait4's usage holds the workers it waited for: lint's process pool)."""
    import time

    started = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):  # lint exits 1 on findings: still a measurement
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
    CPU.setdefault(tuple(cmd), []).append(usage.ru_utime + usage.ru_stime)
    return wall, usage.ru_maxrss / 1024, out


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


LOAD: list[float] = []  # the machine's load at the start of each pair of the row being measured


def pairs(a: Sequence[str], b: Sequence[str], count: int, before: Callable[[], None] = lambda: None,
          cwd: Path = REPO) -> tuple[list[float], list[float]]:
    """`count` pairs back to back, alternating which runs first (A B, B A, ...), so that a
    machine that slows down or speeds up during the row weighs on both sides alike."""
    times_a, times_b = [], []
    LOAD.clear()
    for i in range(count):
        LOAD.append(os.getloadavg()[0] / (os.cpu_count() or 1))
        before()
        if i % 2:
            times_b.append(run(b, cwd)[0])
            times_a.append(run(a, cwd)[0])
        else:
            times_a.append(run(a, cwd)[0])
            times_b.append(run(b, cwd)[0])
    return times_a, times_b


def verdict(ok: bool, miss: str, figures: Sequence[float] = ()) -> str:
    """met / missed, or why the machine could not judge it (too loaded, too noisy)."""
    load = max(LOAD, default=0.0)
    middle = statistics.median(figures) if figures else 0.0
    wide = (max(figures) - min(figures)) / middle if figures and middle else 0.0
    if load > LOADED:
        return f"too loaded to judge (load {load:.1f} per core)"
    if len(figures) > 1 and wide > NOISY:
        return f"too noisy to judge (pairs spread {wide:.0%} of the median)"
    return "met" if ok else f"missed: {miss}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        python, platformc = sys.executable, str(BIN / "platformc")
        # The compiler's bytecode, as any machine has it after its first run: where the
        # environment sets PYTHONDONTWRITEBYTECODE (this project's machines do) every run
        # would compile the package's source again (~0.1 s, a third of a 1x compile).
        subprocess.run([python, "-m", "compileall", "-q", "compiler", "tests/bench"], cwd=REPO, check=True)
        baseline = [run([python, "-c", "pass"])[0] for _ in range(PAIRS)]
        print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; `python -c pass` {spread(baseline)} s "
              f"(median (min-max) of {PAIRS}); ratios are of back-to-back whole-process pairs\n")

        # compile vs its floor
        out = scratch / "compiled"
        compiled, floor = pairs(
            [platformc, "compile", "--stage", "dev", "--spec", str(REPO / "spec"), "--out", str(out)],
            [python, "-m", "tests.bench.floor", str(REPO / "spec"), str(REPO / "generated" / "dev"), str(scratch / "floor")],
            PAIRS, before=lambda: shutil.rmtree(out, ignore_errors=True))
        ratio = [a / b for a, b in zip(compiled, floor)]
        rows = [("compile --stage dev / floor", spread(ratio), "<= 2",
                 verdict(statistics.median(ratio) <= 2, f"{statistics.median(ratio) / 2:.1f}x over", ratio),
                 f"{spread(compiled)} s / {spread(floor)} s")]

        # the data tier: its spec files compiled alone, against the same tier as a CDK app
        tier = scratch / "tier" / "spec"
        (tier / "infrastructure").mkdir(parents=True)
        shutil.copy(REPO / "spec" / "platform.yaml", tier)
        for file in DATA_TIER:
            shutil.copy(REPO / "spec" / "infrastructure" / f"{file}.yaml", tier / "infrastructure")
        cdk_python, why = cdk.python()
        if cdk_python is None:
            rows.append(("data tier: CDK app / compile", "-", ">= 15", f"not measured: {why}", ""))
        else:
            outs = (scratch / "tier" / "out", scratch / "tier" / "cdk.out")

            def clean() -> None:
                for folder in outs:
                    shutil.rmtree(folder, ignore_errors=True)

            ours, theirs = pairs([platformc, "compile", "--stage", "dev", "--spec", str(tier), "--out", str(outs[0])],
                                 [str(cdk_python), str(REPO / "tests" / "bench" / "cdk_data_tier.py"), str(tier), str(outs[1])],
                                 COLD_PAIRS, before=clean)
            ratio = [t / o for o, t in zip(ours, theirs)]  # how many times faster than CDK
            made = len(list(outs[1].glob("*.template.json"))), len(list((outs[0] / "dev").glob("*.json"))) - 1
            if made[0] != made[1]:  # a CDK app that failed (exit 1) must not pass for a fast one
                rows.append(("data tier: CDK app / compile", "-", ">= 15",
                             f"not measured: the CDK app wrote {made[0]} stack(s), the compile {made[1]}", ""))
            else:
                rows.append(("data tier: CDK app / compile (x faster)", spread(ratio), ">= 15",
                             verdict(statistics.median(ratio) >= 15, f"{15 / statistics.median(ratio):.1f}x short", ratio),
                             f"{spread(ours)} s / {spread(theirs)} s"))

        # lint: cold against plain cfn-lint, warm against python -c pass
        templates = sorted(str(p) for p in (REPO / "generated").glob("*/*.json") if p.name != "manifest.json")
        lint_cwd = scratch / "lint"
        lint_cwd.mkdir()
        lint = [platformc, "lint", "--out", str(REPO / "generated"), "--config", str(REPO / "cfn-lint.yaml")]
        cold, plain = pairs(lint, [str(BIN / "cfn-lint"), "--", *templates], COLD_PAIRS, cwd=lint_cwd,
                            before=lambda: shutil.rmtree(lint_cwd / ".cache", ignore_errors=True))
        ratio = [a / b for a, b in zip(cold, plain)]
        rows.append((f"cold lint / plain cfn-lint ({len(templates)} templates)", spread(ratio), "<= 0.6",
                     verdict(statistics.median(ratio) <= 0.6, f"{statistics.median(ratio) / 0.6:.1f}x over", ratio),
                     f"{spread(cold)} s / {spread(plain)} s"))
        lint_cpu, plain_cpu = CPU[tuple(lint)][-len(cold):], CPU[(str(BIN / "cfn-lint"), "--", *templates)][-len(plain):]
        ratio = [a / b for a, b in zip(lint_cpu, plain_cpu)]  # the same pairs' CPU: faster on one core too?
        rows.append(("cold lint CPU / plain cfn-lint CPU", spread(ratio), "<= 0.6",
                     verdict(statistics.median(ratio) <= 0.6, f"{statistics.median(ratio) / 0.6:.1f}x over", ratio),
                     f"{spread(lint_cpu)} s / {spread(plain_cpu)} s CPU"))
        warm, empty = pairs(lint, [python, "-c", "pass"], PAIRS, cwd=lint_cwd)  # each beside its own interpreter start
        ratio = [w / e for w, e in zip(warm, empty)]
        rows.append(("warm lint / python -c pass", spread(ratio), "<= 0.2 s whole",
                     verdict(statistics.median(warm) <= 0.2, f"{statistics.median(warm):.2f} s", warm),
                     f"{spread(warm)} s / {spread(empty)} s"))

        # scaling
        scaled = {}
        for factor in SIZES:
            spec = REPO / "spec" if factor == 1 else generate(REPO / "spec", scratch / f"x{factor}" / "spec", factor)
            runs = []
            for _ in range(1 if factor == 100 and QUICK else 3):
                shutil.rmtree(scratch / "o", ignore_errors=True)
                _, rss, text = run([python, "-c", WORK, str(spec), str(scratch / "o")])
                shutil.rmtree(scratch / "o", ignore_errors=True)  # whole process: the command itself
                wall = run([platformc, "compile", "--stage", "dev", "--spec", str(spec), "--out", str(scratch / "o")])[0]
                runs.append({**json.loads(text), "wall": wall, "peak": rss})
            scaled[factor] = runs
        largest = max(SIZES)
        big = REPO / "spec" if largest == 1 else scratch / f"x{largest}" / "spec"
        per_resource = []
        for i in range(SCALE_PAIRS):  # 1x and the largest size back to back, alternating: time per resource
            order = (1, largest) if i % 2 == 0 else (largest, 1)
            if i == 0:
                LOAD.clear()
            LOAD.append(os.getloadavg()[0] / (os.cpu_count() or 1))
            measured = {}
            for factor in order:
                spec = REPO / "spec" if factor == 1 else big
                shutil.rmtree(scratch / "o", ignore_errors=True)
                found = json.loads(run([python, "-c", WORK, str(spec), str(scratch / "o"), "serial"])[2])
                measured[factor] = found["work"] / found["resources"]
            per_resource.append(measured[largest] / measured[1])
        rows.append((f"compile time per resource, {largest}x / 1x, one core", spread(per_resource), "<= 1.2",
                     verdict(statistics.median(per_resource) <= 1.2, f"{statistics.median(per_resource):.2f}", per_resource), ""))
        walls = [r["wall"] for r in scaled[largest]]
        stage_wall = statistics.median(walls)
        rows.append((f"compile --stage dev at {largest}x (whole process)", spread(walls) + " s", "<= 3 s",
                     verdict(stage_wall <= 3, f"{stage_wall / 3:.1f}x over", walls), ""))

        spec = REPO / "spec" if 10 not in SIZES else scratch / "x10" / "spec"  # 10x: five pairs stay affordable
        forked, serial = pairs([python, "-c", ALL_STAGES, str(spec), "1"], [python, "-c", ALL_STAGES, str(spec), "0"],
                               SCALE_PAIRS)
        ratio = [f / s for f, s in zip(forked, serial)]
        rows.append(("compile --stage all at 10x: stages in workers / in turn", spread(ratio), "",
                     "(no target)", f"{spread(forked)} s / {spread(serial)} s"))

        print(f"{'measure':<48} {'figure':<20} {'target':<15} verdict")
        for name, figure, target, result, detail in rows:
            print(f"{name:<48} {figure:<20} {target:<15} {result}" + (f"   [{detail}]" if detail else ""))
        print(f"\ncompile of dev by size (median of {3}; work = load .. write inside the process; wall = "
              "`platformc compile --stage dev`, whole process):")
        print(f"{'size':>6} {'stacks':>7} {'resources':>10} {'work s':>8} {'ms/stack':>9} {'wall s':>8} {'peak RSS MB':>12}")
        for factor, runs in scaled.items():
            work = statistics.median(r["work"] for r in runs)
            print(f"{str(factor) + 'x':>6} {runs[0]['stacks']:>7} {runs[0]['resources']:>10} {work:>8.2f} "
                  f"{1000 * work / runs[0]['stacks']:>9.1f} {statistics.median(r['wall'] for r in runs):>8.2f} "
                  f"{max(r['peak'] for r in runs):>12.0f}")
        print()
        print(local.report(local.measure(scratch)))


if __name__ == "__main__":
    main()
