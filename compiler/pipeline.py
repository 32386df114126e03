"""pipeline: compose the stages; stop at the first stage boundary that reports errors.

load -> validate -> resolve -> synth -> emit. Each stage returns all its diagnostics;
this module decides to stop (raising SpecError with every diagnostic of that stage, for
every stage of the platform), `cli` decides how to show them.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from . import limits, naming
from .diagnostics import Diagnostic, SpecError, Where, did_you_mean
from .emit import README, README_TEXT, render_stage
from .kinds.base import CheckEnv
from .load import SourceFile, load_tree, scan_handlers
from .resolve import Resolved, resolve
from .synth import synth
from .validate import validate

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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A build allocates many small, long-lived objects (nodes, models, troposphere
    objects) and frees them together at the end; the cyclic collector rescanning that
    growing heap made compile time grow faster than the spec (~30% at 100x). Reference
    counting still frees everything; the collector resumes when the build returns."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build(spec_dir: Path, stage: str = ALL, display_root: Path | None = None) -> Build:
    """Compile `spec_dir` for one stage or all of them. Raises BuildError on a bad spec."""
    with _gc_paused():
        return _build(spec_dir, stage, display_root)


def _build(spec_dir: Path, stage: str, display_root: Path | None) -> Build:
    files, load_diags = load_tree(spec_dir, display_root)
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
        if all(f.parsed for f in files):  # a file that did not parse: its names are unknown
            for name in stage_specs if stage == ALL else [s for s in stage_specs if s == stage]:
                diags += resolve(stage_specs[name])[1]
        raise BuildError(diags, files)
    stages = tuple(stage_specs) if stage == ALL else (stage,)
    resolved: dict[str, Resolved] = {}
    outputs: dict[str, str] = {README: README_TEXT}
    for name in stages:
        result, problems = resolve(stage_specs[name])
        diags += problems
        if result is None:
            continue
        synthesis = synth(result)
        diags += synthesis.diagnostics
        resolved[name] = result
        rendered = render_stage(result, synthesis)
        if not synthesis.diagnostics:  # limits of templates that lack the resources just reported are noise
            diags += limits.check(result, rendered)
        outputs.update(rendered)
    if diags:
        raise BuildError(diags, files)
    return Build({f.path: f for f in files}, stages, resolved, outputs)
