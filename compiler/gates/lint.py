"""lint: the cfn-lint gate over generated templates, in-process, cached, on both cores.

Why a cache: cfn-lint costs about a second to start and ~14 ms per resource, some 45 times
the cost of building a template, and it runs on every `make test`. Findings are cached per
template under .cache/platformc/lint, keyed by the template's sha256, the cfn-lint version
and the region, so only templates whose bytes changed are linted again. Ignores are applied
after the cache, so editing cfn-lint.yaml never needs a re-lint.

Why cfn-lint is patched: nine exact shortcuts inside its schema validator (cfnlint_fast)
take about half its CPU off, with its findings unchanged; its rules are loaded once, before
the workers fork.

Why ignores live in a file: every ignored rule must say which templates and resources it
covers and why, in review, next to the code (`cfn-lint.yaml`).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from .. import rules
from ..manifest import FILE as MANIFEST
from ..manifest import Manifest
from ..rules import RULES
from ..rules.authorization import _data_file
from . import cfnlint_fast

CACHE_DIR = Path(".cache/platformc/lint")
CACHE_FORMAT = 2  # what an entry holds: 2 = messages with their sets sorted (_stable)
PARALLEL_FROM = 4  # below this many templates, starting a second process costs more than it saves


@dataclass(frozen=True)
class Finding:
    template: str  # path as shown, e.g. generated/dev/infrastructure-s3.json
    rule: str
    severity: str
    message: str
    line: int
    column: int
    resource: str | None  # logical id, when the finding is inside Resources
    source: str | None = None  # spec location of that resource, when known
    tool: str = "cfn-lint"  # or "policy"
    waived: str | None = None  # the reviewed reason, when ignored or suppressed

    def text(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"{self.template}:{self.line}:{self.column}: {self.severity}[{self.rule}]: {self.message}{where}"


@dataclass(frozen=True)
class Ignore:
    rule: str
    scope: str  # fnmatch over "<stage>/<stack>:<logical id>", e.g. "prod/infrastructure-s3:*"
    reason: str

    def covers(self, finding: Finding, stage_stack: str) -> bool:
        return fnmatch.fnmatchcase(finding.rule, self.rule) and fnmatch.fnmatchcase(
            f"{stage_stack}:{finding.resource or ''}", self.scope
        )


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]  # failing ones
    waived: tuple[Finding, ...]  # ignored (cfn-lint.yaml) or suppressed (spec), with reasons
    templates: int = 0
    linted: int = 0
    cached: int = 0
    seconds: float = 0.0
    error: str | None = None  # the run itself could not be done
    # checkov's waivers written into the templates (`platformc security` judges them):
    # (check, reason) -> how many resources carry it
    checkov: tuple[tuple[str, str, int], ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.findings) or self.error is not None

    @property
    def text(self) -> str:
        if self.error:
            return self.error + "\n"
        lines = [f.text() for f in self.findings]
        lines += [f"waived {f.rule} on {f.template} {f.resource}: {f.waived}" for f in self.waived]
        lines += [f"checkov waiver {check} on {n} resource(s): {reason}" for check, reason, n in self.checkov]
        policy = sum(1 for f in self.findings if f.tool == "policy")
        lines.append(
            f"cfn-lint {_cfnlint_version()} and {len(RULES)} policy rules: {self.templates} template(s), "
            f"{self.linted} linted, {self.cached} from cache; {len(self.findings) - policy} cfn-lint and "
            f"{policy} policy finding(s), {len(self.waived)} waived, in {self.seconds:.2f} s"
        )
        return "\n".join(lines) + "\n"


class ConfigError(Exception):
    pass


def load_ignores(path: Path) -> list[Ignore]:
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get("ignore", []) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"{path}: expected `ignore:` with a list of {{rule, scope, reason}}")
    ignores = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"rule", "scope", "reason"}:
            raise ConfigError(f"{path}: ignore[{i}] needs exactly rule, scope and reason")
        if len(str(item["reason"]).strip()) < 10:
            raise ConfigError(f"{path}: ignore[{i}] needs a real reason")
        ignores.append(Ignore(str(item["rule"]), str(item["scope"]), str(item["reason"])))
    return ignores


@functools.lru_cache(maxsize=None)
def _cfnlint_version() -> str:
    """cfn-lint's version (a key of the cache), read from its `version.py` without importing
    cfn-lint (its package imports its whole API) or importlib.metadata (which imports an email
    parser to read the package's METADATA: ~35 ms of a 0.2 s warm lint). The metadata is
    asked only when that file is not where cfn-lint keeps it."""
    import importlib.util

    found = importlib.util.find_spec("cfnlint")  # finds the package without running it
    for folder in (found.submodule_search_locations or ()) if found else ():
        path = Path(folder) / "version.py"
        if path.is_file() and (match := re.search(r'^__version__ = "([^"]+)"$', path.read_text(), re.M)):
            return match.group(1)
    from importlib.metadata import version

    return version("cfn-lint")


@functools.lru_cache(maxsize=None)
def _cfn_rules() -> Any:
    """cfn-lint's rules, loaded once per process, as its command line does. (`cfnlint.api.lint`
    loads them again for every template unless given a `RulesCollection`, which the rules its
    runner loads are not: 0.4 s a template, 2.7x the CPU of plain cfn-lint over ours.)"""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    cfnlint_fast.apply()
    rules = Runner(ConfigMixIn(regions=["us-east-1"])).rules
    cfnlint_fast.index_keywords(rules)
    return rules


def _cfn_lint(text: str, region: str) -> list[Any]:
    """What `cfnlint.api.lint(text, regions=[region])` returns, with the rules loaded once."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    template, errors = decode_str(text)
    if errors or template is None:
        return list(errors or [])
    return list(run_template_by_data(template, ConfigMixIn(regions=[region]), _cfn_rules()))


_SET = re.compile(r"\{'[^'{}:]*'(?:, '[^'{}:]*')+\}")


def _stable(message: str) -> str:
    """cfn-lint prints some sets into its messages (E3019's resources), in an order that follows
    the process's hash seed: sorted here, so that a finding reads the same in every run (the
    cache, the report and SARIF's fingerprints)."""
    return _SET.sub(lambda m: "{" + ", ".join(sorted(m.group(0)[1:-1].split(", "))) + "}", message)


def _lint_text(args: tuple[str, str]) -> list[dict[str, Any]]:
    """Lint one template text (runs in a worker process when parallel)."""
    text, region = args
    out = []
    for match in _cfn_lint(text, region):
        path = list(getattr(match, "path", None) or [])
        resource = str(path[1]) if len(path) > 1 and path[0] == "Resources" else None
        out.append(
            {
                "rule": match.rule.id,
                "severity": getattr(match.rule, "severity", "error"),
                "message": _stable(match.message),
                "line": match.linenumber,
                "column": match.columnnumber,
                "resource": resource,
            }
        )
    return out


def _templates(out_dir: Path, stage: str) -> list[tuple[str, Path, str]]:
    """(stage, template path, region) for every template of the stage folder(s)."""
    found = []
    folders = sorted(p for p in out_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) if out_dir.is_dir() else []
    for folder in folders:
        if stage not in ("all", folder.name):
            continue
        manifest = Manifest.read(out_dir, folder.name) or Manifest()
        for path in sorted(folder.glob("*.json")):
            if path.name != MANIFEST:
                found.append((folder.name, path, manifest.region_of(path.stem)))
    return found


def _source_of(template: dict[str, Any], resource: str | None, spec_root: Path) -> str | None:
    """The spec location of a generated resource, from its Metadata.Source."""
    source = ((template.get("Resources", {}).get(resource or "") or {}).get("Metadata") or {}).get("Source")
    if not isinstance(source, str) or "#" not in source:
        return None
    file, dotted = source.split("#", 1)
    path = spec_root / file
    if not path.exists():
        return source
    span = _spec_file(path, file).locate(tuple(dotted.split(".", 1)), "key")
    return f"{file}:{span.line}:{span.col}"


@functools.lru_cache(maxsize=None)
def _spec_file(path: Path, display: str) -> Any:
    """A spec file parsed once per run, however many findings point into it."""
    from ..spec.load import load_file

    return load_file(path, display, display)[0]


def run(out_dir: Path, stage: str = "all", jobs: int = 0, use_cache: bool = True, config_path: Path | None = None) -> Report:
    started = time.perf_counter()
    _spec_file.cache_clear()  # the spec may have changed since the last run in this process
    try:
        ignores = load_ignores(config_path) if config_path else []
    except ConfigError as exc:
        return Report((), (), error=str(exc))
    version = _cfnlint_version()
    items = _templates(out_dir, stage)
    if not items:
        return Report((), (), error=f"no templates under {out_dir} for stage '{stage}': run `make compile` first")
    texts = [path.read_text(encoding="utf-8") for _, path, _ in items]
    keys = [hashlib.sha256(f"{CACHE_FORMAT}\0{version}\0{region}\0{text}".encode()).hexdigest() for (_, _, region), text in zip(items, texts, strict=True)]
    results: dict[int, list[dict[str, Any]]] = {}
    if use_cache:
        for i, key in enumerate(keys):
            cached = CACHE_DIR / f"{key}.json"
            if cached.exists():
                results[i] = json.loads(cached.read_text())
    # largest first, one template at a time: cfn-lint's time grows with a template's
    # resources, so the big API templates start first and the small ones fill the gaps
    todo = sorted((i for i in range(len(items)) if i not in results), key=lambda i: (-len(texts[i]), i))
    work = [(texts[i], items[i][2]) for i in todo]
    workers = jobs or (min(2, os.cpu_count() or 1) if len(todo) >= PARALLEL_FROM else 1)
    if workers > 1:
        # the rules are loaded here, before the workers start: forked (Linux), they inherit
        # them instead of importing cfn-lint and loading its rules once each (~1.5 s of CPU)
        _cfn_rules()
        from concurrent.futures import ProcessPoolExecutor  # a warm lint never starts workers

        with ProcessPoolExecutor(max_workers=workers) as pool:
            fresh = list(pool.map(_lint_text, work))
    else:
        fresh = [_lint_text(args) for args in work]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for i, found in zip(todo, fresh, strict=True):
        results[i] = found
        tmp = CACHE_DIR / f"{keys[i]}.json.{os.getpid()}"
        tmp.write_text(json.dumps(found, sort_keys=True))
        os.replace(tmp, CACHE_DIR / f"{keys[i]}.json")
    return _report(items, texts, results, ignores, out_dir, len(items) - len(todo), started, use_cache)


def _resource_lines(text: str) -> dict[str, int]:
    """Line of each resource's key in a canonical template (for policy findings)."""
    return {m.group(1): text.count("\n", 0, m.start()) + 2 for m in re.finditer(r'\n    "([A-Za-z0-9]+)": \{', text)}


def _policy(items: list[tuple[str, Path, str]], texts: list[str], parsed: list[dict[str, Any]], spec_root: Path,
            use_cache: bool = True) -> list[Finding]:
    """The policy rules, stage by stage (a rule may look across the stacks of a stage)."""
    by_stage: dict[str, dict[str, tuple[Path, str, dict[str, Any]]]] = {}
    for (stage, path, _), text, template in zip(items, texts, parsed, strict=True):
        by_stage.setdefault(stage, {})[path.stem] = (path, text, template)
    out = []
    for stage, stacks in sorted(by_stage.items()):
        folder = next(iter(stacks.values()))[0].parent
        protect = (Manifest.read(folder.parent, folder.name) or Manifest()).protect
        templates = {stack: template for stack, (_, _, template) in stacks.items()}
        texts_of = {stack: text for stack, (_, text, _) in stacks.items()}
        for found in (_policy_findings(stage, protect, templates, texts_of) if use_cache else rules.run(stage, protect, templates)):
            path, text, _ = stacks[found.stack]
            line = _resource_lines(text).get(found.resource, 1)
            source = _source_of(templates[found.stack], found.resource, spec_root)
            out.append(
                Finding(path.as_posix(), found.rule, "error", found.message, line, 5, found.resource, source, "policy", found.waived)
            )
    return out


@functools.cache
def _code_version() -> str:
    """What the policy rules' findings depend on besides the templates: the compiler's own
    code and data (any module a rule reads) and the IAM reference P011 reads."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    try:
        stat = _data_file().stat()
        digest.update(f"{stat.st_size}-{int(stat.st_mtime)}".encode())
    except RuntimeError:
        pass  # no reference: P011 reports that itself
    return digest.hexdigest()


def _policy_findings(stage: str, protect: bool, templates: dict[str, Any], texts: dict[str, str]) -> list[rules.Finding]:
    """rules.run for one stage, cached by the stage's template bytes and _code_version (a
    warm lint runs no rule whose inputs did not change)."""
    digest = hashlib.sha256(f"{_code_version()}\0{stage}\0{protect}".encode())
    for stack in sorted(texts):
        digest.update(f"\0{stack}\0{texts[stack]}".encode())
    cached = CACHE_DIR / f"policy-{digest.hexdigest()}.json"
    if cached.exists():
        try:
            return [rules.Finding(**entry) for entry in json.loads(cached.read_text())]
        except (ValueError, TypeError):
            pass  # a damaged entry: run the rules again
    found = rules.run(stage, protect, templates)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"{cached.name}.{os.getpid()}")
    tmp.write_text(json.dumps([f.__dict__ for f in found], sort_keys=True))
    os.replace(tmp, cached)
    return found


def _report(
    items: list[tuple[str, Path, str]],
    texts: list[str],
    results: dict[int, list[dict[str, Any]]],
    ignores: list[Ignore],
    out_dir: Path,
    cached: int,
    started: float,
    use_cache: bool = True,
) -> Report:
    findings: list[Finding] = []
    waived: list[Finding] = []
    spec_root = out_dir.resolve().parent
    parsed = [orjson.loads(text) for text in texts]  # once: the policy rules and the waivers read them too
    for i, (stage, path, _) in enumerate(items):
        if not results[i]:
            continue
        template = parsed[i]
        for raw in results[i]:
            finding = Finding(template=path.as_posix(), **raw)
            finding = Finding(**{**finding.__dict__, "source": _source_of(template, finding.resource, spec_root)})
            rule = next((ig for ig in ignores if ig.covers(finding, f"{stage}/{path.stem}")), None)
            if rule is not None:
                waived.append(Finding(**{**finding.__dict__, "waived": f"cfn-lint.yaml ({rule.scope}): {rule.reason}"}))
            else:
                findings.append(finding)
    for finding in _policy(items, texts, parsed, spec_root, use_cache):
        (waived if finding.waived else findings).append(finding)
    checkov: dict[tuple[str, str], int] = {}
    for template in parsed:
        for resource in (template.get("Resources") or {}).values():
            for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
                key = (str(skip.get("id")), str(skip.get("comment")))
                checkov[key] = checkov.get(key, 0) + 1
    order = lambda f: (f.template, f.line, f.column, f.rule, f.resource or "")  # noqa: E731
    return Report(
        tuple(sorted(findings, key=order)),
        tuple(sorted(waived, key=order)),
        templates=len(items),
        linted=len(items) - cached,
        cached=cached,
        seconds=time.perf_counter() - started,
        checkov=tuple((check, reason, n) for (check, reason), n in sorted(checkov.items())),
    )
