"""security: checkov as a gate beside cfn-lint, over every stage's generated templates.

checkov judges the templates against AWS security practice (encryption keys, logging,
concurrency...). A check that does not apply to this design is waived where a reviewer
reads it, and checkov itself reports it as skipped: a resource's `suppress:` in the spec,
or a platform-wide waiver in platform.yaml (`waivers:`: check, resource types, stages,
reason); the compiler writes both into the resource's `Metadata.checkov.skip`. The gate
fails on any failed check, on a platform waiver that skips nothing (stale) and on a
template checkov cannot parse.

Why its own virtualenv: checkov pins its dependencies tightly (boto3 1.35, packaging 23)
against ours (boto3 1.44), so it cannot share .venv. It is installed once per machine, at
the pinned version below, under the user's cache ($XDG_CACHE_HOME, else ~/.cache:
platformc/checkov-<version>; .cache/platformc in the repository when that is not writable),
so every clone and CI checkout on the machine shares it, and run as a program. Results are
cached by the bytes of the templates and the version: an unchanged generated/ is not
scanned again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..manifest import FILE as MANIFEST
from ..manifest import Manifest
from ..model import Waiver

CHECKOV = "3.3.30"  # pinned: check ids and their verdicts are part of the gate
CACHE = Path(".cache/platformc")
SARIF = "results_sarif.sarif"


class SecurityError(Exception):
    """The scan could not be run (checkov missing and not installable, a template it cannot read)."""


@dataclass(frozen=True)
class Check:
    check: str
    name: str
    template: str  # generated/<stage>/<stack>.json
    resource: str  # logical id
    line: int
    reason: str = ""  # the waiver's comment, for a skipped check
    guideline: str = ""

    def text(self) -> str:
        link = f" ({self.guideline})" if self.guideline else ""
        return f"{self.template}:{self.line}: {self.check} {self.resource}: {self.name}{link}"


@dataclass
class Report:
    failed: list[Check] = field(default_factory=list)
    skipped: list[Check] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # platform waivers that skip nothing
    passed: int = 0
    templates: int = 0
    seconds: float = 0.0
    cached: bool = False
    sarif: str = ""  # checkov's own SARIF log

    @property
    def ok(self) -> bool:
        return not self.failed and not self.stale

    def text(self) -> str:
        lines = [c.text() for c in self.failed]
        lines += [f"stale waiver: {s}" for s in self.stale]
        by_check: dict[tuple[str, str], int] = {}
        for c in self.skipped:
            by_check[(c.check, c.reason)] = by_check.get((c.check, c.reason), 0) + 1
        lines += [f"waived {check} on {n} resource(s): {reason}" for (check, reason), n in sorted(by_check.items())]
        lines.append(f"checkov {CHECKOV}: {self.templates} template(s){' (from cache)' if self.cached else ''}; "
                     f"{len(self.failed)} failed, {self.passed} passed, {len(self.skipped)} waived, "
                     f"{len(self.stale)} stale waiver(s), in {self.seconds:.1f} s")
        return "\n".join(lines) + "\n"


def tools_cache() -> Path:
    """Where pinned tools live, shared by every clone on the machine (module docstring)."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "platformc"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if os.access(home, os.W_OK):
            return home
    except OSError:
        pass
    return CACHE


def pinned_tool(folder: str, pins: Sequence[str], program: str, cache: Path | None = None) -> Path:
    """`program` from a virtualenv of its own holding exactly `pins`, in the tools cache under
    `folder` (name and version), installed on first use; a stamp marks a finished install, so
    an interrupted one is started again. Raises RuntimeError with pip's last words when the
    install fails (nothing half-made is left behind)."""
    venv = (cache or tools_cache()) / folder
    found, stamp = venv / "bin" / program, venv / ".installed"
    if stamp.exists() and found.exists():
        return found
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           *pins], capture_output=True, text=True)
    if proc.returncode != 0 or not found.exists():
        shutil.rmtree(venv, ignore_errors=True)
        raise RuntimeError(f"could not install {' '.join(pins)}: {proc.stderr.strip()[-2000:]}")
    stamp.touch()
    return found


def checkov_program(cache: Path | None = None) -> Path:
    """The pinned checkov, installed in its own virtualenv on first use (pinned_tool)."""
    try:
        return pinned_tool(f"checkov-{CHECKOV}", [f"checkov=={CHECKOV}"], "checkov", cache)
    except RuntimeError as exc:
        raise SecurityError(str(exc)) from exc


def _stages(out_dir: Path, stage: str) -> list[str]:
    if stage != "all":
        return [stage]
    return sorted(p.name for p in out_dir.iterdir() if (p / MANIFEST).exists())


def _templates(out_dir: Path, stages: list[str]) -> list[Path]:
    found = []
    for name in stages:
        manifest = Manifest.read(out_dir, name)
        if manifest is None:
            raise SecurityError(f"{out_dir / name}: no {MANIFEST}; run `platformc compile --stage {name}` first")
        found += [manifest.template_path(out_dir, stack) for stack in sorted(manifest.stacks)]
    return found


def _scan(program: Path, templates: dict[Path, bytes]) -> tuple[dict[str, Any], str]:
    """checkov's JSON results and SARIF log for these templates (in one run)."""
    with tempfile.TemporaryDirectory() as work:
        root = Path(work) / "t"
        for path, text in templates.items():  # only the templates: manifests and graphs are not CloudFormation
            target = root / path.parent.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text)
        results = Path(work) / "out"
        cmd = [str(program), "-d", str(root), "--framework", "cloudformation", "--compact",
               "-o", "json", "-o", "sarif", "--output-file-path", str(results), "--skip-download"]
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        json_file = results / "results_json.json"
        if proc.returncode not in (0, 1) or not json_file.exists():
            raise SecurityError(f"checkov failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}")
        data = json.loads(json_file.read_text())
        sarif = (results / SARIF).read_text() if (results / SARIF).exists() else ""
    if isinstance(data, list):  # several frameworks: one report each
        data = next((d for d in data if d.get("check_type") == "cloudformation"), {})
    return data, sarif


def _checks(items: list[dict[str, Any]], out_dir: Path) -> list[Check]:
    found = []
    for item in items:
        stage_file = str(item.get("file_path", "")).lstrip("/")
        suppress = item.get("check_result", {}).get("suppress_comment") or ""
        found.append(Check(
            check=str(item["check_id"]), name=str(item.get("check_name", "")),
            template=f"{out_dir.as_posix()}/{stage_file}", resource=str(item.get("resource", "")).split(".", 1)[-1],
            line=int((item.get("file_line_range") or [0])[0]), reason=str(suppress), guideline=str(item.get("guideline") or ""),
        ))
    return sorted(found, key=lambda c: (c.template, c.line, c.check))


def _stale(templates: dict[Path, bytes], stages: list[str], skipped: list[Check],
           declared: list[tuple[str, list[str] | None]]) -> list[str]:
    """platform.yaml waivers that skip nothing: declared for scanned stages but written onto
    no resource (their types match none), or written but skipping no check in a stage."""
    used = {(c.template.split("/")[-2], c.check) for c in skipped}
    stale = []
    everywhere: set[str] = set()
    for name in stages:
        emitted: set[str] = set()
        for path in (p for p in templates if p.parent.name == name):
            for resource in json.loads(templates[path]).get("Resources", {}).values():
                for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
                    if str(skip.get("comment", "")).endswith(Waiver.MARK):
                        emitted.add(skip["id"])
        everywhere |= emitted
        stale += [f"{name}: {check} skips nothing (platform.yaml waivers: remove it, or fix its types)"
                  for check in sorted(emitted) if (name, check) not in used]
    stale += [f"{check}: no resource of its types in {', '.join(scope or stages)} (platform.yaml waivers: remove it, "
              "or fix its types)"
              for check, scope in declared if check not in everywhere and set(scope or stages) & set(stages)]
    return stale


def declared_waivers(platform_file: Path) -> list[tuple[str, list[str] | None]]:
    """(check, stages or None) of platform.yaml's waivers (compile validated them)."""
    if not platform_file.exists():
        return []
    data = yaml.safe_load(platform_file.read_text(encoding="utf-8")) or {}
    return [(str(w["check"]), w.get("stages")) for w in data.get("waivers") or [] if isinstance(w, dict) and "check" in w]


def run(out_dir: Path, stage: str = "all", program: Path | None = None, use_cache: bool = True,
        platform_file: Path | None = None) -> Report:
    started = time.perf_counter()
    stages = _stages(out_dir, stage)
    templates = {path: path.read_bytes() for path in _templates(out_dir, stages)}  # read once: digest, scan, waivers
    digest = hashlib.sha256(CHECKOV.encode())
    for path, text in templates.items():
        digest.update(f"{path.parent.name}/{path.name}\0".encode() + text + b"\0")
    cached = CACHE / "security" / f"{digest.hexdigest()}.json"
    if use_cache and cached.exists():
        data, sarif = json.loads(cached.read_text()), ""
        sarif = data.pop("_sarif", "")
        hit = True
    else:
        data, sarif = _scan(program or checkov_program(), templates)
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({**data, "_sarif": sarif}))
        hit = False
    results = data.get("results") or {}
    if results.get("parsing_errors"):
        raise SecurityError(f"checkov could not parse: {', '.join(results['parsing_errors'])}")
    report = Report(
        failed=_checks(results.get("failed_checks") or [], out_dir),
        skipped=_checks(results.get("skipped_checks") or [], out_dir),
        passed=len(results.get("passed_checks") or []) if "passed_checks" in results else int(
            (data.get("summary") or {}).get("passed", 0)),
        templates=len(templates), cached=hit, sarif=sarif,
    )
    report.stale = _stale(templates, stages, report.skipped, declared_waivers(platform_file) if platform_file else [])
    report.seconds = time.perf_counter() - started
    return report
