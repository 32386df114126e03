"""codecache: the code `dataclasses` and `typing` compile at start-up, kept across runs as
the .pyc files keep a module's.

Why: a compile defines about 90 dataclasses (ours, pydantic's, annotated_types') and
about 1,000 string annotations become `typing.ForwardRef`s. `dataclasses` writes each
class's `__init__`, `__eq__`, `__repr__`, `__setattr__`... as source text and `exec`s
it; `ForwardRef` compiles each annotation. Those compiles were ~60 ms of every 0.45 s
dev compile (15% of it), and their input is the same text on every run.

How: `compile()` is a pure function of its arguments, so the code object for a given text
can be reused. `install()` puts a lookup in front of exactly two call sites, by rebinding
the names those modules look up: `dataclasses.exec` (in `_create_fn`) and
`typing.compile` (in `ForwardRef.__init__`). A text not in the table is compiled as
before and added to it; any other call goes straight to the builtin. The code objects are
equal to the builtin's: same text, filename `<string>`, mode, and no inherited
`__future__` flags (`dont_inherit=True`: neither module imports any, and this one does).

The table is stored with `marshal`, the format of .pyc files, in `__pycache__` beside
this package, under the interpreter's full `sys.version`: another build of Python ignores
it and starts afresh, and so does a file that does not load. It is rewritten at exit,
atomically, when the run compiled something new and Python may write bytecode (not under
`-B` or PYTHONDONTWRITEBYTECODE). `fill()` fills it regardless, as `uv pip install
--compile-bytecode` does the .pyc files: the Makefile runs it after installing. PLATFORMC_CODE_CACHE=off turns all of this off (to rule it out when
debugging); another value is the path of the table.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import os
import sys
import typing
from typing import Any

LIMIT = 8192  # entries; past this, a save keeps only the entries this run used
_DEFAULT = os.path.join(os.path.dirname(__file__), "__pycache__", f"codecache.{sys.implementation.cache_tag}.marshal")

_table: dict[tuple[str, str], Any] | None = None  # loaded on first use
_used: set[tuple[str, str]] = set()
_changed = False
_force_save = False
stats = {"hits": 0, "misses": 0}


def path() -> str | None:
    """The table's file, or None when the cache is off."""
    setting = os.environ.get("PLATFORMC_CODE_CACHE", "")
    if setting == "off":
        return None
    return setting or _DEFAULT


def _load(file: str) -> dict[tuple[str, str], Any]:
    try:
        with open(file, "rb") as handle:
            version, table = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return table if version == sys.version and isinstance(table, dict) else {}


def cached_compile(source: str, mode: str) -> Any:
    """builtins.compile(source, "<string>", mode, dont_inherit=True), from the table when it has it."""
    global _table, _changed
    if _table is None:
        file = path()
        _table = _load(file) if file else {}
    key = (source, mode)
    _used.add(key)
    code = _table.get(key)
    if code is None:
        stats["misses"] += 1
        code = _table[key] = builtins.compile(source, "<string>", mode, dont_inherit=True)
        if not _changed:
            _changed = True
            import atexit

            atexit.register(save)
    else:
        stats["hits"] += 1
    return code


def _exec(source: Any, globals: Any = None, locals: Any = None) -> None:
    """`exec` as dataclasses calls it: `exec(text, globals, namespace)`."""
    if isinstance(source, str):
        source = cached_compile(source, "exec")
    builtins.exec(source, globals, locals)


def _compile(source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
    """`compile` as ForwardRef calls it: `compile(text, '<string>', 'eval')`."""
    if filename == "<string>" and isinstance(source, str) and not args and not kwargs:
        return cached_compile(source, mode)
    return builtins.compile(source, filename, mode, *args, **kwargs)


def save() -> None:
    """Write the table (atomically) if this run added to it and may write bytecode."""
    file = path()
    if _table is None or not _changed or file is None or (sys.dont_write_bytecode and not _force_save):
        return
    table = _table if len(_table) <= LIMIT else {key: _table[key] for key in _used if key in _table}
    temporary = f"{file}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        with open(temporary, "wb") as handle:
            marshal.dump((sys.version, table), handle)
        os.replace(temporary, file)
    except OSError:  # a read-only installation: run without the cache, as without .pyc files
        try:
            os.unlink(temporary)
        except OSError:
            pass


def install() -> None:
    if sys.implementation.name == "cpython" and path() is not None:
        setattr(dataclasses, "exec", _exec)
        setattr(typing, "compile", _compile)


def uninstall() -> None:
    for module, name in ((dataclasses, "exec"), (typing, "compile")):
        module.__dict__.pop(name, None)


def fill(spec: str | None = None) -> None:
    """What a compile defines: the command line, every kind, and a build of `spec`."""
    global _force_save
    _force_save = True
    from pathlib import Path

    from . import cli  # noqa: F401 - its commands' modules
    from .build import pipeline
    from .kinds import all_kinds

    all_kinds()
    if spec and Path(spec).is_dir():
        try:
            pipeline.build(Path(spec), pipeline.ALL, parallel=False)
        except Exception:  # noqa: BLE001 - a spec with errors still defined what it needed
            pass
    save()

