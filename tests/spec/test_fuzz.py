"""A seeded mutator over the repository's spec files: no input crashes the compiler, and what
it accepts CloudFormation accepts too.

Each mutation changes one spec file — a value of another type, a boundary number, unicode,
a deleted, duplicated or renamed key, a dangling or cyclic reference, a bad stage override,
raw text damage (tabs, cut lines, bytes that are not UTF-8) — and compiles every stage. The
contract: either the build succeeds, or it fails with spec errors that each name a file (and
a line and column when the file has them) and render; never an internal error or another
exception. For the accepted mutations whose templates differ from the unmutated build,
cfn-lint must find nothing in them. The seed and the mutation are in every failure message.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from compiler.diagnostics import render_text
from compiler.gates.lint import _lint_text
from compiler.spec.load import PLATFORM_FILE, discover
from compiler.build.pipeline import BuildError, build
from tests.conftest import REPO

SEED = int(os.environ.get("FUZZ_SEED", "20261129"))
MUTATIONS = int(os.environ.get("FUZZ_MUTATIONS", "120"))
LINTED = int(os.environ.get("FUZZ_LINTED", "12"))  # accepted mutations whose changed templates are linted (cfn-lint costs ~0.5 s each)
REF = re.compile(r"^([a-z][a-z-]*):([a-z][a-z0-9-]*)$")
UNICODE = ["ñandú", "名前", "🙂", "\u202eevil", "a" * 300, "", " ", "-", "ä-b", "x\u0000y", "R", "${sls:stage}", "${stage}"]
BOUNDARY: list[Any] = [0, -1, 1, 2**31, 2**63, -(2**63), 10**20, 1e308, 0.5, -0.0, True, None]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, path + (i,))
    return found


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


class Mutator:
    def __init__(self, rng: random.Random, files: dict[str, str]):
        self.rng, self.files = rng, files

    def pick(self, rel: str, data: Any, want: Callable[[Any], bool]) -> tuple[Any, ...] | None:
        paths = [p for p in _paths(data) if want(_get(data, p))]
        return self.rng.choice(paths) if paths else None

    # data operators: (data, rel) -> description, or None when they do not apply
    def type_swap(self, data: Any, rel: str) -> str | None:
        path = self.pick(rel, data, lambda v: True)
        if path is None:
            return None
        value = self.rng.choice([42, "text", [1, "two"], {"k": "v"}, True, None, 3.5])
        _set(data, path, value)
        return f"{path} = {value!r}"

    def boundary(self, data: Any, rel: str) -> str | None:
        path = self.pick(rel, data, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        path = path or self.pick(rel, data, lambda v: isinstance(v, str))
        if path is None:
            return None
        value = self.rng.choice(BOUNDARY)
        _set(data, path, value)
        return f"{path} = {value!r}"

    def unicode(self, data: Any, rel: str) -> str | None:
        if self.rng.random() < 0.5:
            path = self.pick(rel, data, lambda v: isinstance(v, str))
            if path is None:
                return None
            value = self.rng.choice(UNICODE)
            _set(data, path, value)
            return f"{path} = {value!r}"
        path = self.pick(rel, data, lambda v: isinstance(v, dict) and bool(v))
        if path is None:
            return None
        mapping = _get(data, path)
        key = self.rng.choice(list(mapping))
        new = self.rng.choice(UNICODE)
        mapping[new] = mapping.pop(key)
        return f"key {path + (key,)} -> {new!r}"

    def delete(self, data: Any, rel: str) -> str | None:
        path = self.pick(rel, data, lambda v: isinstance(v, dict) and bool(v))
        if path is None:
            return None
        key = self.rng.choice(list(_get(data, path)))
        del _get(data, path)[key]
        return f"delete {path + (key,)}"

    def dangle(self, data: Any, rel: str) -> str | None:
        path = self.pick(rel, data, lambda v: isinstance(v, str) and bool(REF.match(v)))
        if path is None:
            return None
        kind = REF.match(_get(data, path)).group(1)  # type: ignore[union-attr]
        value = self.rng.choice([f"{kind}:missing", f"nokind:{kind}", f"{kind}:", f"{kind}:UPPER"])
        _set(data, path, value)
        return f"{path} = {value!r}"

    def override(self, data: Any, rel: str) -> str | None:
        path = self.pick(rel, data, lambda v: isinstance(v, dict) and len(v) > 0)
        if path is None or len(path) != 2:
            return None
        resource = _get(data, path)
        value = self.rng.choice([{"prod": 1}, {"qa": {}}, {"prod": {"stages": {}}}, {"prod": {"nonsense": 1}},
                                 {"prod": dict(list(resource.items())[:1])}, {"dev": {k: None for k in list(resource)[:1]}}])
        resource["stages"] = value
        return f"{path}.stages = {value!r}"

    def rename(self, data: Any, rel: str) -> str | None:
        sections = [k for k, v in data.items() if isinstance(v, dict) and v and k not in ("defaults", "stages")] if isinstance(data, dict) else []
        if not sections:
            return None
        section = self.rng.choice(sections)
        name = self.rng.choice(list(data[section]))
        new = self.rng.choice(["x" * 70, "Bad_Name", "a--b", "health", "users", "q", "9lives"])
        data[section][new] = data[section].pop(name)
        return f"rename {section}.{name} -> {new}"

    def cycle(self, data: Any, rel: str) -> str | None:
        """An alarm on a function of another file that already refers to this file's resources."""
        if not isinstance(data, dict) or rel == PLATFORM_FILE:
            return None
        mine = {f"{k.rstrip('s').replace('_', '-')}:{name}" for k, v in data.items() if isinstance(v, dict) for name in v}
        for other, text in sorted(self.files.items()):
            if other != rel and other != PLATFORM_FILE and any(ref in text for ref in mine):
                functions = re.findall(r"^  ([a-z][a-z0-9-]*):\n    handler:", text, re.M)
                if functions:
                    function = self.rng.choice(functions)
                    data.setdefault("alarms", {})["fuzz-cycle"] = {
                        "namespace": "AWS/Lambda", "metric": "Errors", "threshold": 1,
                        "dimensions": {"FunctionName": f"function:{function}"}}
                    return f"alarm on function:{function} of {other}"
        return None

    # text operators
    def text(self, text: str) -> tuple[str | bytes, str]:
        lines = text.split("\n")
        i = self.rng.randrange(len(lines))
        op = self.rng.choice(["duplicate", "drop", "tab", "cut", "bytes", "indent"])
        if op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "drop":
            del lines[i]
        elif op == "tab":
            lines[i] = "\t" + lines[i]
        elif op == "indent":
            lines[i] = " " + lines[i]
        elif op == "cut":
            return text[: self.rng.randrange(len(text) + 1)], f"cut at {i}"
        else:
            raw = "\n".join(lines).encode()
            at = self.rng.randrange(len(raw) + 1)
            return raw[:at] + self.rng.choice([b"\xff", b"\xc3", b"\x00", b"\x1b[31m"]) + raw[at:], f"bytes at {at}"
        return "\n".join(lines), f"{op} line {i + 1}"

    def mutate(self, rel: str) -> tuple[str | bytes, str]:
        text = self.files[rel]
        operators = [self.type_swap, self.boundary, self.unicode, self.delete, self.dangle, self.override, self.rename, self.cycle]
        if self.rng.random() < 0.25:
            return self.text(text)
        data = yaml.safe_load(text)
        for operator in self.rng.sample(operators, len(operators)):
            described = operator(data, rel)
            if described is not None:
                return yaml.safe_dump(data, sort_keys=False, allow_unicode=True), f"{operator.__name__}: {described}"
        return self.text(text)


def _check_errors(error: BuildError, label: str) -> None:
    assert error.diagnostics, label
    for diag in error.diagnostics:
        assert re.fullmatch(r"E\d{3}", diag.code), f"{label}: {diag}"
        assert diag.where.file, f"{label}: a diagnostic without a file: {diag}"
    text = render_text(error.diagnostics, error.files)
    assert "error[E" in text, label
    for diag in error.diagnostics:
        source = error.files.get(diag.where.file)
        if source is not None and getattr(source, "text", "") and diag.where.path is not None:
            assert re.search(rf"^{re.escape(diag.where.file)}:\d+:\d+: error\[{diag.code}\]", text, re.M) or \
                f"{diag.where.file}: error[{diag.code}]" in text, f"{label}: {diag}"


def test_no_mutation_crashes_the_compiler_and_what_compiles_lints_clean(tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    shutil.copytree(REPO / "spec", spec)
    shutil.copytree(REPO / "handlers", tmp_path / "handlers")
    files = {p.relative_to(spec).as_posix(): p.read_text() for p in discover(spec)}
    baseline = build(spec, "all", display_root=tmp_path).outputs
    rng = random.Random(SEED)
    mutator = Mutator(rng, files)
    accepted = rejected = linted = 0
    for number in range(MUTATIONS):
        rel = rng.choice(sorted(files))
        body, described = mutator.mutate(rel)
        label = f"seed {SEED}, mutation {number} of {rel}: {described}"
        path = spec / rel
        path.write_bytes(body if isinstance(body, bytes) else body.encode())
        try:
            result = build(spec, "all", display_root=tmp_path)
        except BuildError as error:
            rejected += 1
            _check_errors(error, label)
        except Exception as exc:  # noqa: BLE001 - the point: any other exception is a crash
            pytest.fail(f"{label}: {type(exc).__name__}: {exc}")
        else:
            accepted += 1
            changed = [k for k, v in result.outputs.items() if k.startswith("dev/") and k.endswith(".json")
                       and not k.endswith("manifest.json") and baseline.get(k) != v]
            if changed and linted < LINTED:
                linted += 1
                region = json.loads(result.outputs["dev/manifest.json"])["region"]
                for key in changed:
                    findings = _lint_text((result.outputs[key], region))
                    assert findings == [], f"{label}: compiled, but cfn-lint finds in {key}: {findings}"
        finally:
            path.write_text(files[rel])
    print(f"fuzz: {MUTATIONS} mutations, {accepted} accepted ({linted} linted), {rejected} rejected")
    assert accepted + rejected == MUTATIONS and rejected > MUTATIONS // 3 and accepted > 0
