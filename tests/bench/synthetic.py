"""Synthetic platforms N times the size of the repository's spec, for `make bench`.

Every stack file of spec/ is copied N times into its own folder (`s<i>/...`) with every
resource name suffixed `-x<i>`, every reference rewritten to the copy and every route
prefixed `/x<i>` (domains `x<i>.`), so the copies are independent, valid platforms that keep the real mix of
kinds and cross-stack wiring. handlers/ is copied beside the generated spec. A stage has
one bootstrap stack (its deployment bucket and OIDC provider exist once per stage and
account): files declaring `delivery:` are copied once.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from compiler.kinds import BY_REF, BY_SECTION
from compiler.spec.load import PLATFORM_FILE, discover

ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE|OPTIONS|HEAD|ANY) /")
REF = re.compile(r"\b(" + "|".join(sorted(BY_REF)) + r"):([a-z][a-z0-9-]*)")


def _suffix_names(text: str, suffix: str) -> str:
    """Suffix resource names (two-space keys under a section) and references."""
    out, section = [], None
    for line in text.splitlines():
        top = re.match(r"^([a-z_]+):", line)
        if top:
            section = top.group(1)
        elif section in BY_SECTION and (m := re.match(r"^  ([a-z][a-z0-9-]*):(.*)$", line)):
            line = f"  {m.group(1)}{suffix}:{m.group(2)}"
        line = ROUTE.sub(lambda m: f"{m.group(1)} /{suffix.lstrip('-')}/", line)
        out.append(REF.sub(lambda m: f"{m.group(1)}:{m.group(2)}{suffix}", line))
    return "\n".join(out) + "\n"


def generate(source: Path, target: Path, factor: int) -> Path:
    """Write a platform `factor` times the size of `source` into `target`; return it.

    `target` is the spec folder; the handlers folder beside `source` is copied beside it.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    handlers = source.parent / "handlers"
    if handlers.is_dir():
        shutil.rmtree(target.parent / "handlers", ignore_errors=True)
        shutil.copytree(handlers, target.parent / "handlers")
    # Stage settings that name a resource (alarm topic, stage key, log bucket) point at the first
    # copy; each stage's concurrency budget grows with the platform (an account N times larger).
    platform = (source / PLATFORM_FILE).read_text()
    platform = re.sub(r"^(\s+(?:topic|kms|access_logs):\s*)([a-z][a-z0-9-]*)(\s*(#.*)?)$", r"\1\2-x0\3", platform, flags=re.M)
    platform = re.sub(r"(budget:\s*)(\d+)", lambda m: f"{m[1]}{int(m[2]) * factor}", platform)
    (target / PLATFORM_FILE).write_text(platform)
    for path in discover(source):
        rel = path.relative_to(source)
        if rel.as_posix() == PLATFORM_FILE:
            continue
        text = path.read_text()
        copies = 1 if re.search(r"^delivery:", text, flags=re.M) else factor
        for i in range(copies):
            copy = target / f"s{i}" / rel
            copy.parent.mkdir(parents=True, exist_ok=True)
            body = _suffix_names(text, f"-x{i}")
            # each copy's dashboard charts its own copy: one covering all would pass CloudWatch's limits
            body = re.sub(r"^(  [a-z0-9-]+:\n)(    apis:)", rf'\1    stacks: ["s{i}-*"]\n\2', body, flags=re.M) if "dashboards:" in body else body
            # a domain is one distribution's alias (CNAME) per stage: each copy gets its own
            body = re.sub(r"(\bdomain: )([a-z0-9.-]+)", rf"\1x{i}.\2", body)
            body = re.sub(r"^(    origin: api:\S+\n)", rf"\1    domain: x{i}.api.listbackup.ai\n", body, flags=re.M)
            copy.write_text(body)
    return target
