"""emit: templates -> canonical text; write generated/ atomically, or compare with it.

Canonical text: `json.dumps(..., indent=2, sort_keys=True, ensure_ascii=False) + "\\n"`, no
timestamps, versions or absolute paths, so the same spec gives the same bytes on any
machine and under any PYTHONHASHSEED. Lists are ordered by the kinds on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import orjson

from . import graph
from .limits import upload_required
from ..kinds.todict import shallow, template_dict, template_sections
from ..manifest import FILE, ExportEntry, Manifest, Parameter, StackEntry, template_file
from .resolve import Resolved
from .synth import CrossRegion, StackTemplate, Synthesis

if TYPE_CHECKING:
    from troposphere import Template

MANIFEST = FILE  # re-exported: readers use compiler.manifest
GRAPH = "graph.md"
README = "README.md"
README_TEXT = """\
# generated/

CloudFormation templates compiled from `spec/` by `platformc`. Do not edit these files:
change the spec and run `make compile STAGE=all` (or `STAGE=dev|staging|prod`).

CI fails when this folder is stale (`make check`); reviewers read its diff as the
infrastructure change. Each `<stage>/manifest.json` lists the stacks, their deploy order
(levels: stacks in one level can deploy in parallel), every export with its producer and
importers, and the sha256 of each template; `<stage>/graph.md` draws the same as a
Mermaid diagram.
"""


# Values whose orjson text may differ from json.dumps': numbers with an exponent (`1e-9`
# against `1e-09`), positional numbers below 1e-4 (`0.00001` against `1e-05`) and null
# (orjson writes NaN and Infinity as null). In indented JSON a scalar ends its line and a
# string ends with a quote, so these match only such values (a false match costs time only).
# Three searches, each from a literal (orjson writes exponents with a lowercase `e`): the
# regex engine skips to a literal at C speed, where one pattern opening with a character
# class tries every byte (5x slower over a compile's templates).
_UNSURE = (re.compile(rb"null,?\n"), re.compile(rb"0\.0000"), re.compile(rb"e[-+]?[0-9]+,?\n"))
_ORJSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def _orjson(data: Any, default: Callable[[Any], Any] | None = None) -> str | None:
    """orjson's text of `data` where it is sure to be json.dumps' (see _UNSURE), else None
    (also when orjson cannot encode it: integers beyond 64 bits, lone surrogates, a
    `default` that raised)."""
    try:
        fast = orjson.dumps(data, default=default, option=_ORJSON_OPTIONS)
    except TypeError:
        return None
    return None if any(pattern.search(fast) for pattern in _UNSURE) else fast.decode()


def canonical(data: Any) -> str:
    """`json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\\n"`, byte for byte.

    Encoded by orjson (json.dumps with indent runs in pure Python, a third of a compile);
    where orjson's text could differ, json.dumps encodes instead."""
    return _orjson(data) or json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def canonical_template(template: Template) -> str:
    """`canonical(template.to_dict())`, in one pass: orjson walks the plain containers in C
    and asks `todict.shallow` only for troposphere's and awacs' objects, so no intermediate
    dict of the whole template is built in Python. Where orjson cannot be sure, the
    template's dict goes through `canonical` (and a template that fails troposphere's
    validation raises there, with troposphere's own error)."""
    return _orjson(template_sections(template), shallow) or canonical(template_dict(template))


def stack_texts(templates: Mapping[str, StackTemplate]) -> dict[str, tuple[str, int]]:
    """Each stack's canonical text and its number of resources, by stack id."""
    return {stack_id: (canonical_template(item.template), len(item.template.resources)) for stack_id, item in templates.items()}


def render_stage(resolved: Resolved, synthesis: Synthesis, texts: Mapping[str, tuple[str, int]] | None = None) -> dict[str, str]:
    """`{"<stage>/<stack>.json": text, "<stage>/manifest.json": text}` for one stage.
    `texts`: the stacks' `stack_texts` when already rendered (in the processes a stage was
    split across); else rendered here from the synthesis' templates."""
    exports = synthesis.exports
    texts = stack_texts(synthesis.templates) if texts is None else texts
    stage = resolved.stage
    out: dict[str, str] = {}
    stacks: dict[str, StackEntry] = {}
    received: dict[str, list[CrossRegion]] = {}  # by consumer, in the order of their keys
    for (consumer, _), value in sorted(synthesis.cross_region.items()):
        received.setdefault(consumer, []).append(value)
    for stack_id, plan in resolved.stacks.items():
        text, resources = texts[stack_id]
        encoded = text.encode("utf-8")
        out[f"{stage}/{template_file(stack_id)}"] = text
        stacks[stack_id] = StackEntry(
            name=plan.name,
            spec=plan.file,
            template=template_file(stack_id),
            sha256=hashlib.sha256(encoded).hexdigest(),
            bytes=len(encoded),
            upload_required=upload_required(text),  # over the inline limit: deploy goes through S3
            resources=resources,
            depends_on=tuple(plan.depends_on),
            region=plan.region,
            parameters={
                value.parameter: Parameter(value.producer.stack, value.output_key, resolved.stacks[value.producer.stack].region)
                for value in received.get(stack_id, ())
            },
            termination_protection=resolved.settings.protect,
            bootstrap=any(resource.kind.bootstrap for resource in plan.resources),
        )
    manifest = Manifest(
        service=resolved.platform.service,
        stage=stage,
        region=resolved.platform.region,
        protect=resolved.settings.protect,
        domain=resolved.settings.domain,
        account=resolved.platform.accounts.get(stage),
        levels=tuple(tuple(level) for level in resolved.levels),
        stacks=stacks,
        exports={
            name: ExportEntry(export.producer.stack, export.output_key, f"{export.producer.kind.ref}:{export.producer.name}",
                              export.attribute, tuple(sorted(export.importers)))
            for name, export in sorted(exports.items())
        },
    )
    out[f"{stage}/{MANIFEST}"] = canonical(manifest.to_dict())
    out[f"{stage}/{GRAPH}"] = graph.render(
        resolved, exports, {s: v.resources for s, v in stacks.items()}, synthesis.cross_region
    )
    return out


@dataclass(frozen=True)
class Drift:
    path: str  # relative to the output folder
    status: str  # "stale", "missing" or "extra"


def _actual(out_dir: Path, stage: str) -> dict[str, Path]:
    folder = out_dir / stage
    if not folder.is_dir():
        return {}
    return {f"{stage}/{p.relative_to(folder).as_posix()}": p for p in sorted(folder.rglob("*")) if p.is_file()}


def compare(out_dir: Path, rendered: Mapping[str, str], stages: list[str]) -> list[Drift]:
    """What differs between `rendered` and the folder, for the given stages (and README)."""
    drift: list[Drift] = []
    expected = {path: text for path, text in rendered.items()}
    actual: dict[str, Path] = {}
    for stage in stages:
        actual.update(_actual(out_dir, stage))
    readme = out_dir / README
    if README in expected:
        actual[README] = readme
    for path in sorted(set(expected) | set(actual)):
        if path not in actual or not actual[path].exists():
            drift.append(Drift(path, "missing"))
        elif path not in expected:
            drift.append(Drift(path, "extra"))
        elif actual[path].read_bytes() != expected[path].encode("utf-8"):
            drift.append(Drift(path, "stale"))
    return drift


def freshness(out_dir: Path, rendered: Mapping[str, str], stages: list[str]) -> list[Drift]:
    """What makes OUT differ from a compile of every stage: `compare`, plus stage folders
    the platform no longer has (one definition for `platformc check` and the tests)."""
    drift = compare(out_dir, rendered, stages)
    if out_dir.is_dir():
        for folder in sorted(p for p in out_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if folder.name not in stages:
                drift.append(Drift(f"{folder.name}/", "extra"))
    return drift


def write_file(out_dir: Path, path: str, text: str) -> None:
    """One file of OUT, replaced atomically (a reader never sees half of it)."""
    target = out_dir / path
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.name}.platformc-tmp-{os.getpid()}")
    scratch.write_bytes(text.encode("utf-8"))
    os.replace(scratch, target)


def write(out_dir: Path, rendered: Mapping[str, str], stages: list[str]) -> list[Drift]:
    """Replace each stage folder as a whole, so a stack removed from the spec disappears.

    All files are written to a scratch folder beside the target first; only then is each
    stage folder swapped in by rename. A failure before the swap leaves `out_dir` as it was.
    Stages whose contents are unchanged are not touched at all.
    """
    changed = compare(out_dir, rendered, stages)
    if not changed:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = out_dir / f".platformc-tmp-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        for path, text in rendered.items():
            target = scratch / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode("utf-8"))
        for stage in stages:
            if not any(d.path.startswith(f"{stage}/") for d in changed):
                continue
            final, old = out_dir / stage, out_dir / f".platformc-old-{stage}-{os.getpid()}"
            if final.exists():
                final.rename(old)
            try:
                (scratch / stage).rename(final)
            except OSError:
                if old.exists():
                    old.rename(final)  # put the previous output back
                raise
            shutil.rmtree(old, ignore_errors=True)
        if (scratch / README).exists():
            os.replace(scratch / README, out_dir / README)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return changed
