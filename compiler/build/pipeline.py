"""pipeline: compose the stages; stop at the first stage boundary that reports errors.

load -> validate -> resolve -> synth -> emit. Each stage returns all its diagnostics;
this module decides to stop (raising SpecError with every diagnostic of that stage, for
every stage of the platform), `cli` decides how to show them.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

from . import budget, heap, limits
from .. import naming
from ..diagnostics import Diagnostic, InternalError, SpecError, Where, did_you_mean
from ..manifest import template_file
from .emit import README, README_TEXT, render_stage, stack_texts
from ..kinds.base import CheckEnv
from ..spec.handlers import scan_handlers
from ..spec.load import Entry, Loader, SourceFile, load_entries, load_tree, pack, unpack
from ..spec.stage import StageSpec
from .resolve import Resolved, resolve
from .synth import CrossRegion, Export, Synthesis, finish, synth, synth_stacks
from ..spec.validate import validate

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

ALL, HANDLERS_DIR = naming.ALL, naming.HANDLERS_DIR  # re-exported: callers import them from here


class BuildError(SpecError):
    """SpecError that also carries the loaded files, so diagnostics can be rendered."""

    def __init__(self, diagnostics: Sequence[Diagnostic], files: Iterable[SourceFile]):
        super().__init__(diagnostics)
        self.files = {f.path: f for f in files}


@dataclass(frozen=True)
class Build:
    files: Mapping[str, SourceFile]
    stages: tuple[str, ...]
    resolved: Mapping[str, Resolved]
    outputs: Mapping[str, str]  # path relative to generated/ -> text


def build(spec_dir: Path, stage: str = ALL, display_root: Path | None = None, parallel: bool | None = None) -> Build:
    """Compile `spec_dir` for one stage or all of them. Raises BuildError on a bad spec.

    `parallel`: use forked workers (True: stages rendered in workers, or a single large
    stage in two processes, and a large spec loaded in two), do everything here (False),
    or decide (None: when there are two cores and this process runs one thread)."""
    with heap.paused():
        return _build(spec_dir, stage, display_root, parallel)


def _render(resolved: Resolved) -> tuple[dict[str, str], list[Diagnostic]]:
    """One stage's templates, manifest and graph, and the problems synthesis and
    CloudFormation's limits find in them."""
    synthesis = synth(resolved)
    texts = render_stage(resolved, synthesis)
    diags = list(synthesis.diagnostics)
    if not synthesis.diagnostics:  # limits of templates that lack the resources just reported are noise
        diags += limits.check(resolved, texts)
    return texts, diags


# A stage of at least this many declared resources renders in two processes when it is
# the only stage compiled (`_render_split`). Measured as whole `compile` runs in pairs:
# 3% slower at the repository's 85, 3% faster at 255, 16% at 841, about 25% at 8,401.
SPLIT_FROM = 250


def _shares(resolved: Resolved) -> tuple[list[str], list[str]]:
    """The stage's stacks in two shares of about as many declared resources (largest stack
    first, each to the lighter share), each in the stage's order."""
    weights = [0, 0]
    shares: tuple[list[str], list[str]] = ([], [])
    for stack_id in sorted(resolved.stacks, key=lambda s: -len(resolved.stacks[s].resources)):
        lighter = 0 if weights[0] <= weights[1] else 1
        shares[lighter].append(stack_id)
        weights[lighter] += len(resolved.stacks[stack_id].resources)
    order = {stack_id: i for i, stack_id in enumerate(resolved.stacks)}
    return sorted(shares[0], key=order.__getitem__), sorted(shares[1], key=order.__getitem__)


def _requests(part: Synthesis) -> tuple[list[Any], list[Any], dict[object, object], bool]:
    """What a share asks of the rest of the stage, as plain data (resources by their Ref):
    its exports and cross-region values, its claims' values, and whether it found problems."""
    exports = [(name, e.producer.ref, e.attribute, sorted(e.importers)) for name, e in part.exports.items()]
    cross = [(key, v.parameter, v.consumer, v.producer.ref, v.attribute) for key, v in part.cross_region.items()]
    return exports, cross, {key: claim.value for key, claim in part.claims.items()}, bool(part.diagnostics)


def _wiring(resolved: Resolved, exports: list[Any], cross: list[Any]) -> tuple[dict[str, Export], dict[tuple[str, str], CrossRegion]]:
    """`_requests`' exports and cross-region values as synthesis' own objects, merged."""
    merged: dict[str, Export] = {}
    for name, ref, attribute, importers in exports:
        merged.setdefault(name, Export(name, resolved.index[ref], attribute)).importers.update(importers)
    values: dict[tuple[str, str], CrossRegion] = {}
    for key, parameter, consumer, ref, attribute in cross:
        values.setdefault(tuple(key), CrossRegion(parameter, consumer, resolved.index[ref], attribute))
    return merged, values


def _finish_share(resolved: Resolved, part: Synthesis, exports: dict[str, Export],
                  cross: dict[tuple[str, str], CrossRegion]) -> tuple[dict[str, tuple[str, int]], dict[str, list[Diagnostic]]]:
    """A share's templates with the stage's wiring, as text, and each stack's quota problems."""
    finish(resolved, part.templates, exports, cross)
    texts = stack_texts(part.templates)
    rendered = {f"{resolved.stage}/{template_file(stack_id)}": text for stack_id, (text, _) in texts.items()}
    return texts, {stack_id: limits.check(resolved, rendered, [stack_id]) for stack_id in texts}


def _render_share(resolved: Resolved, stacks: list[str], conn: Connection) -> None:
    """In a forked worker: synthesize a share of the stage, send what it asks of the other
    share, wait for the whole stage's wiring (or to be stopped), and send back the share's
    texts and quota problems (what went wrong, as text, if anything did)."""
    try:
        part = synth_stacks(resolved, stacks)
        conn.send(("requests", _requests(part)))
        message = conn.recv()
        if message[0] == "finish":
            conn.send(("texts", _finish_share(resolved, part, *_wiring(resolved, message[1], message[2]))))
    except (EOFError, BrokenPipeError):
        pass  # the parent stopped: it renders the stage itself, or it is ending
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        except OSError:
            pass  # the parent is gone
    finally:
        conn.close()


def _receive(conn: Connection, expected: str) -> Any:
    try:
        status, value = conn.recv()
    except EOFError:
        raise InternalError("the worker rendering half of the stage ended without a result") from None
    if status != expected:
        raise InternalError(f"rendering half of the stage failed in its worker: {value}")
    return value


def _render_split(resolved: Resolved) -> tuple[dict[str, str], list[Diagnostic]]:
    """`_render`, byte for byte, on two cores: a forked worker synthesizes one share of the
    stacks while this process does the other, each reports the exports, cross-region values
    and claims it made, and with the stage's wiring merged here each renders and checks its
    own. A share with problems, or claims the two shares make on one thing (a route, a
    queue's policy) in a way one process would refuse, renders the stage again here, in
    one process, so that the problems are found and reported as they always are."""
    mine, theirs = _shares(resolved)
    with _working(_render_share, resolved, theirs, duplex=True) as conn:
        part = synth_stacks(resolved, mine)
        exports, cross, claims, failed = _receive(conn, "requests")
        clash = any(key in part.claims and (value is None or part.claims[key].value != value) for key, value in claims.items())
        if failed or part.diagnostics or clash:
            conn.close()  # the worker stops at its next read
            return _render(resolved)
        ours = _requests(part)
        conn.send(("finish", ours[0] + exports, ours[1] + cross))
        wiring = _wiring(resolved, ours[0] + exports, ours[1] + cross)
        texts, found = _finish_share(resolved, part, *wiring)
        their_texts, their_found = _receive(conn, "texts")
        texts.update(their_texts)
        found.update(their_found)
    outputs = render_stage(resolved, Synthesis({}, *wiring, []), texts)
    return outputs, [d for stack_id in resolved.stacks for d in found[stack_id]]


def _fork(target: Callable[..., None], *args: Any, duplex: bool = False) -> tuple[Any, Connection]:
    """Start `target(*args, connection)` in a forked worker; return the worker and this
    process's end of the pipe (with `duplex=False`, one that only receives)."""
    sys.stdout.flush()  # a worker flushes its copy of these buffers when it ends:
    sys.stderr.flush()  # empty them first, so nothing is written twice
    import multiprocessing  # only when a worker is started: a small stage never pays for it

    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe(duplex=duplex)
    worker = context.Process(target=_child, args=(ours, target, *args, theirs), daemon=True)
    worker.start()
    theirs.close()
    return worker, ours


def _child(parents: Connection, target: Callable[..., None], *args: Any) -> None:
    """A worker first closes its copy of the parent's end of the pipe (a fork copies every
    open file): while it held one, its own reads could never see the parent close the pipe."""
    parents.close()
    target(*args)


# Spec files of at least this many bytes in all load in two processes (`_load_split`).
# Measured as whole `compile --stage dev` runs in pairs, split against one process: 3%
# slower at 3x the repository (146 KB), 2% faster at 10x (461 KB), 6% at 100x (8.3 MB).
LOAD_SPLIT_FROM = 400_000


def _load_share(todo: Sequence[Entry], send: Connection) -> None:
    """In a forked worker: load a share of the spec files and send them back packed; or
    nothing, when they hold a problem or anything goes wrong here: the parent then loads
    them itself, so that problems (and any bug) are reported by it, as they always are."""
    packed = b""
    try:
        files, diags = load_entries(todo)
        if not diags:
            packed = pack(files)
    except BaseException:  # noqa: BLE001,S110 - the parent loads these files again and meets it there
        pass
    try:
        send.send_bytes(packed)
    except OSError:
        pass  # the parent is gone
    finally:
        send.close()


def _load_split(todo: Sequence[Entry]) -> tuple[list[SourceFile], list[Diagnostic]]:
    """`load_entries` on two cores: a forked worker loads the later files (about half the
    bytes) while this process loads the first, and hands them over with `marshal`. The
    same files, data and positions as loading them here, in the same order; when the worker
    has nothing to give (a problem in its files, a failure), they are loaded here."""
    if any(entry.refused is not None for entry in todo):
        return load_entries(todo)
    sizes = [os.path.getsize(entry.path) for entry in todo]
    total = sum(sizes)
    if total < LOAD_SPLIT_FROM:
        return load_entries(todo)
    cut, running = 0, 0
    while cut < len(todo) and running < total / 2:
        running += sizes[cut]
        cut += 1
    with _working(_load_share, todo[cut:]) as conn:
        files, diags = load_entries(todo[:cut])
        try:
            packed = conn.recv_bytes()
        except EOFError:
            packed = b""
    if not packed:
        more, problems = load_entries(todo[cut:])
        return files + more, diags + problems
    return files + unpack(packed), diags


@contextmanager
def _working(target: Callable[..., None], *args: Any, duplex: bool = False) -> Iterator[Connection]:
    """`_fork`'s worker for the length of a block: on leaving it the pipe is closed and the
    worker joined; left by an exception (an error here, Ctrl-C), the worker is terminated
    first, without waiting for its share."""
    worker, conn = _fork(target, *args, duplex=duplex)
    finished = False
    try:
        yield conn
        finished = True
    finally:
        conn.close()
        if not finished and worker.is_alive():
            worker.terminate()
        worker.join()


def _render_in_child(resolved: Resolved, send: Connection) -> None:
    """In a forked worker: render one stage and send back its text and diagnostics (or
    what went wrong, as text: an exception object may not survive pickling)."""
    try:
        result: tuple[str, Any] = ("ok", _render(resolved))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        result = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    send.send(result)
    send.close()


def _forking(parallel: bool | None) -> bool:
    """Whether to start forked workers: `parallel`, or when None, with a second core and a
    process of one thread (a lock another thread held at the fork would stay held in the
    child). Linux only: macOS offers fork, but system libraries may be left unusable in the
    child (why Python starts workers by spawning there); a spawned worker would have to
    pickle what it works on and gain nothing."""
    if parallel is None:
        parallel = (os.cpu_count() or 1) > 1 and threading.active_count() == 1
    return parallel and sys.platform.startswith("linux")


class _Stages:
    """Stages rendered while the next one resolves: with several stages on Linux, a second
    core and a process of one thread, every stage but the last renders in a forked worker
    (it inherits the resolved stage; only text and diagnostics come back through a pipe)
    and the last renders here, so the workers start while later stages still resolve.
    Stages share nothing after resolve, so the result is the same as rendering them one
    after another, which is what happens otherwise (one core, other systems, or threads: a
    lock another thread held at the fork would stay held in the child). A single stage of
    at least SPLIT_FROM resources, under the same conditions, is split across two processes
    by its stacks instead (`_render_split`). Tested both ways."""

    def __init__(self, count: int, parallel: bool):
        self.parallel = parallel and count > 1
        self.split = parallel and count == 1  # one large stage: split its stacks
        self.pending: dict[str, tuple[Any, Connection]] = {}
        self.done: dict[str, tuple[dict[str, str], list[Diagnostic]]] = {}

    def add(self, name: str, resolved: Resolved, last: bool) -> None:
        if not self.parallel or last:
            split = self.split and len(resolved.stacks) > 1 and sum(len(p.resources) for p in resolved.stacks.values()) >= SPLIT_FROM
            self.done[name] = _render_split(resolved) if split else _render(resolved)
            return
        self.pending[name] = _fork(_render_in_child, resolved)

    def collect(self) -> dict[str, tuple[dict[str, str], list[Diagnostic]]]:
        for name, (worker, receive) in self.pending.items():
            try:
                status, value = receive.recv()
            except EOFError:
                raise InternalError(f"the worker rendering stage {name} ended without a result") from None
            finally:
                receive.close()
                worker.join()
            if status != "ok":
                raise InternalError(f"rendering stage {name} failed in its worker: {value}")
            self.done[name] = value
        self.pending.clear()
        return self.done

    def stop(self) -> None:
        """Workers still running when the build stops early (an error here, Ctrl-C)."""
        for worker, receive in self.pending.values():
            receive.close()
            if worker.is_alive():
                worker.terminate()
            worker.join()


def _explained(diags: list[Diagnostic], stage_specs: Mapping[str, StageSpec]) -> list[Diagnostic]:
    """E215 with what only the whole platform knows: every stage's share of the account (budget.py)."""
    out = []
    for d in diags:
        path = d.where.path if d.where is not None else ()
        if d.code == "E215" and len(path) > 1 and path[1] in stage_specs:
            message, help_ = budget.explain(stage_specs, str(path[1]))
            d = replace(d, message=message, help=help_)
        out.append(d)
    return out


def _build(spec_dir: Path, stage: str, display_root: Path | None, parallel: bool | None) -> Build:
    forking = _forking(parallel)
    load: Loader = _load_split if forking else load_entries
    files, load_diags = load_tree(spec_dir, display_root, load)
    # Validation still runs after load errors (duplicate keys, a file that does not parse),
    # so that one run reports as much as it can; resolution needs a complete spec and waits.
    code = scan_handlers(spec_dir.parent / HANDLERS_DIR)
    env = CheckEnv(code.functions, {module: bundle.digest for module, bundle in code.bundles.items()})
    stage_specs, diags = validate(files, env)
    diags = load_diags + code.problems(HANDLERS_DIR) + diags
    if not diags and stage != ALL and stage not in stage_specs:
        known = ", ".join(stage_specs)
        platform = next(f.path for f in files if f.rel == "platform.yaml")
        help_ = did_you_mean(stage, stage_specs) or f"stages: {known}, or all"
        diags = [Diagnostic("E211", f"unknown stage '{stage}'", Where(platform, ("stages",), "key"), help_)]
    if diags:
        # Collect, don't stop: names, references and cycles of what did validate are still
        # checked (references to resources with errors of their own are not reported twice);
        # synthesis needs a complete stage and waits.
        # (a file that did not parse counts as declaring, with errors, the names it appears to)
        for name in stage_specs if stage == ALL else [s for s in stage_specs if s == stage]:
            diags += resolve(stage_specs[name])[1]
        raise BuildError(_explained(diags, stage_specs), files)
    stages = tuple(stage_specs) if stage == ALL else (stage,)
    resolved: dict[str, Resolved] = {}
    problems: dict[str, list[Diagnostic]] = {}
    rendering = _Stages(len(stages), forking)
    try:
        for number, name in enumerate(stages, start=1):
            result, problems[name] = resolve(stage_specs[name])
            if result is not None:
                resolved[name] = result
                rendering.add(name, result, last=number == len(stages))
        rendered = rendering.collect()
    finally:
        rendering.stop()
    outputs: dict[str, str] = {README: README_TEXT}
    for name in stages:  # in stage order, as one stage after another would report them
        diags += problems[name]
        if name in rendered:
            texts, found = rendered[name]
            diags += found
            outputs.update(texts)
    if diags:
        raise BuildError(_explained(diags, stage_specs), files)
    return Build({f.path: f for f in files}, stages, resolved, outputs)
