"""handlers: the code folder as the compiler sees it — parsed, never imported.

`scan_handlers` finds every module's top-level functions (what a spec's `handler:` may
name) and, through its local imports, the files each function's artifact must hold
(`Bundle`, whose digest goes into the artifact's S3 key). A compile parses only the files
that changed since the last one (`_ScanCache`, by content hash).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..diagnostics import Diagnostic
from .load import escapes, outside_error

SCAN_CACHE = ".cache/platformc/handlers.json"  # beside the handlers folder (_ScanCache)


@dataclass(frozen=True)
class Bundle:
    """What one handler module needs at run time: itself and the local modules it imports.

    `digest` hashes the file names and bytes in a fixed order, so it changes exactly when
    the code a function runs changes; it goes into the artifact's S3 key.
    """

    module: str
    files: tuple[tuple[str, bytes], ...]  # (path inside the artifact, content), sorted

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name, content in self.files:
            h.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
        return h.hexdigest()


@dataclass(frozen=True)
class Handlers:
    """The code folder as the compiler sees it: parsed, never imported."""

    functions: frozenset[str]  # "module.function" for every top-level function
    bundles: Mapping[str, Bundle]  # module -> its bundle
    outside: Mapping[str, Path] = field(default_factory=dict)  # path in folder -> real target, not read

    def problems(self, display_root: str) -> list[Diagnostic]:
        return [outside_error(real, f"{display_root}/{p}") for p, real in sorted(self.outside.items())]


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of a block and of the blocks inside it, functions' and classes'
    included. An import is a statement, and statements live only in blocks (expressions
    hold none), so this finds every import `ast.walk` would, visiting a tenth of the nodes."""
    for node in body:
        yield node
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list):
                yield from _statements(block)
        for inner in (*getattr(node, "handlers", ()), *getattr(node, "cases", ())):  # try/except, match
            yield from _statements(inner.body)


def _imported_names(tree: ast.Module, module: str) -> list[str]:
    """Every dotted name a module imports (relative ones made absolute), in source order."""
    package = module.rsplit(".", 1)[0] if "." in module else ""
    names: list[str] = []
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .x import y
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, base] if base else parts)
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def _local_imports(names: list[str], modules: Mapping[str, Path]) -> set[str]:
    found = set()
    for name in names:
        for end in range(len(name.split(".")), 0, -1):  # a.b.c, a.b, a: each existing module
            candidate = ".".join(name.split(".")[:end])
            if candidate in modules:
                found.add(candidate)
    return found


class _ScanCache:
    """What parsing a handler file found (its top-level functions, the names it imports),
    by the sha256 of its bytes and its module name: a compile parses only files that
    changed since the last one. Kept in .cache/platformc/ beside the handlers folder;
    unreadable or stale entries are parsed again, and nothing in the output depends on it."""

    VERSION = 1

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, Any] = {}
        self.used: dict[str, Any] = {}
        try:
            data = json.loads(path.read_text())
            if data.get("version") == self.VERSION:
                self.entries = dict(data["entries"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass

    def scan(self, module: str, content: bytes) -> tuple[list[str], list[str]] | None:
        """(functions, imported names) of one module; None when it does not parse."""
        key = f"{module}:{hashlib.sha256(content).hexdigest()}"
        entry = self.entries.get(key)
        if entry is None:
            try:
                tree = ast.parse(content)
            except SyntaxError:
                entry = None
            else:
                entry = [[n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))],
                         _imported_names(tree, module)]
        self.used[key] = entry
        return (list(entry[0]), list(entry[1])) if entry is not None else None

    def save(self) -> None:
        if self.used == self.entries:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            temporary.write_text(json.dumps({"version": self.VERSION, "entries": self.used}, sort_keys=True))
            os.replace(temporary, self.path)
        except OSError:
            pass  # a read-only checkout: the next compile parses again


def scan_handlers(folder: Path) -> Handlers:
    """Parse every folder/**/*.py: its top-level functions and what each module imports."""
    if not folder.is_dir():
        return Handlers(frozenset(), {})
    modules: dict[str, Path] = {}
    outside: dict[str, Path] = {}
    root = str(folder.parent.resolve())
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        if escapes(str(real := path.resolve()), root):
            outside[path.relative_to(folder).as_posix()] = real
            continue
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if parts:
            modules[".".join(parts)] = path
    cache = _ScanCache(folder.parent / SCAN_CACHE)
    contents = {module: path.read_bytes() for module, path in modules.items()}
    scanned = {module: found for module, content in contents.items()
               if (found := cache.scan(module, content)) is not None}  # a file that does not parse is not importable
    cache.save()
    functions = frozenset(f"{module}.{name}" for module, (names, _) in scanned.items() for name in names)
    imports = {module: _local_imports(names, modules) for module, (_, names) in scanned.items()}
    bundles = {}
    for module in scanned:
        needed, todo = {module}, [module]
        while todo:  # transitive local imports, plus the __init__ of every package on the way
            current = todo.pop()
            parents = {".".join(current.split(".")[:i]) for i in range(1, current.count(".") + 1)}
            for dep in imports.get(current, set()) | parents:
                if dep in modules and dep not in needed:
                    needed.add(dep)
                    todo.append(dep)
        files = sorted((modules[m].relative_to(folder).as_posix(), contents[m]) for m in needed)
        bundles[module] = Bundle(module, tuple(files))
    return Handlers(functions, bundles, outside)
