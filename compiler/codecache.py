"""codecache: what Python compiles from text at every start-up, kept across runs as the
.pyc files keep a module's code.

Why: a dev compile defines about 90 dataclasses (ours, pydantic's, annotated_types'),
evaluates about 1,000 string annotations as `typing.ForwardRef`s and compiles about 120
regular expressions (yaml's, pydantic's, click's, ours). `dataclasses` writes each class's
`__init__`, `__eq__`, `__repr__`, `__setattr__`... as source text and `exec`s it,
`ForwardRef` compiles each annotation, and sre parses each pattern and generates its code
in pure Python: together ~15-20% of a 0.45 s dev compile, from the same inputs every run.

How: each of these is a pure function of its input, so its result can be reused.
`install()` puts a table lookup in front of exactly three call sites, by rebinding the
names they look up: `dataclasses.exec` (in `_create_fn`), `typing.compile` (in
`ForwardRef.__init__`) and `re._compiler.compile` (behind `re.compile`'s own in-process
cache). Anything else goes straight to the original.
- Code objects are equal to the builtin's: same text, filename `<string>`, mode, and no
  inherited `__future__` flags (`dont_inherit=True`: neither module imports any; this one does).
- For a pattern, the table holds the arguments sre's `_sre.compile` receives (flags,
  code, groups); `_regex` mirrors CPython 3.11's `re._compiler.compile` to compute them,
  is installed only on 3.11, and a test compares that function's source with SRE_MIRRORED.

The table is stored with `marshal`, the format of .pyc files, in `__pycache__` beside this
package, under the interpreter's full `sys.version`: another build of Python ignores it
and starts afresh, as it does a file that does not load. It is rewritten at exit,
atomically, when the run added to it, is a command that compiles the spec (WRITERS) and
Python may write bytecode (not under `-B` or PYTHONDONTWRITEBYTECODE); any other process
only reads it. `fill()` writes it regardless, as `uv pip install --compile-bytecode`
writes .pyc files: the Makefile runs it after installing. The table is trusted as the .pyc
files beside it are (whoever can write one can write the other). PLATFORMC_CODE_CACHE=off
turns all of this off (to rule it out when debugging); another value is the table's path.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import os
import sys
import typing
from re import _compiler as _sre_compiler, _constants as _sre_constants, _parser as _sre_parser  # type: ignore[attr-defined]
from typing import Any

import _sre  # type: ignore[import-not-found]

LIMIT = 4096  # entries; past this, a save keeps only the entries this run used (a compile: ~900)
WRITERS = ("compile", "check", "diff")  # the commands that compile the spec
# one file per interpreter version (two virtualenvs of one checkout would otherwise take turns
# discarding each other's table); inside it, the full sys.version must match too
_DEFAULT = os.path.join(os.path.dirname(__file__), "__pycache__",
                        f"codecache.{sys.implementation.cache_tag}-{sys.hexversion:x}.marshal")

_sre_original = _sre_compiler.compile
# sha256 of CPython 3.11's `re._compiler.compile` source, which `_regex` mirrors
SRE_MIRRORED = "0abaabe8e5892dadd53b5e45cdb1c7c02f8f70e48810d70bc08ae4e155719f06"
_table: dict[tuple[Any, str], Any] | None = None  # (text or pattern, mode) -> code or sre's arguments
_used: set[tuple[Any, str]] = set()
_changed = False
_force_save = False
stats = {"hits": 0, "misses": 0}


def path() -> str | None:
    """The table's file, or None when the cache is off."""
    setting = os.environ.get("PLATFORMC_CODE_CACHE", "")
    if setting == "off":
        return None
    return setting or _DEFAULT


def _load(file: str) -> dict[tuple[Any, str], Any]:
    try:
        with open(file, "rb") as handle:
            version, table = marshal.loads(handle.read())  # load(handle) reads object by object: 10x slower
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return table if version == sys.version and isinstance(table, dict) else {}


def _lookup(key: tuple[Any, str]) -> Any:
    """The table's entry for `key`, or None; loads the table on first use."""
    global _table
    if _table is None:
        file = path()
        _table = _load(file) if file else {}
    _used.add(key)
    found = _table.get(key)
    stats["misses" if found is None else "hits"] += 1
    return found


def _store(key: tuple[Any, str], value: Any) -> Any:
    global _changed
    assert _table is not None
    _table[key] = value
    if not _changed:
        _changed = True
        import atexit

        atexit.register(save)
    return value


def cached_compile(source: str, mode: str) -> Any:
    """builtins.compile(source, "<string>", mode, dont_inherit=True), from the table when it has it."""
    key = (source, mode)
    return _lookup(key) or _store(key, builtins.compile(source, "<string>", mode, dont_inherit=True))


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


def _regex(pattern: Any, flags: int = 0) -> Any:
    """re._compiler.compile: sre's parse and code generation, from the table when it has them."""
    if type(pattern) not in (str, bytes) or flags & _sre_constants.SRE_FLAG_DEBUG:
        return _sre_original(pattern, flags)
    flags = int(flags)  # a RegexFlag from a direct caller: the pattern's flags end up an int either way
    key = (pattern, f"re {flags}")
    args = _lookup(key)
    if args is None:
        parsed = _sre_parser.parse(pattern, flags)
        code = [int(op) for op in _sre_compiler._code(parsed, flags)]  # opcodes are int subclasses marshal refuses
        groupindex = parsed.state.groupdict
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        args = _store(key, (flags | parsed.state.flags, code, parsed.state.groups - 1, dict(groupindex), tuple(indexgroup)))
    return _sre.compile(pattern, *args)


def _writer() -> bool:
    """Whether this process is a command that writes the table (WRITERS): `platformc CMD` or
    `python -m compiler CMD`. Others only read it: what a test run or a deploy with boto3
    compiles would make every compile load entries it never uses."""
    program = sys.argv[0] if sys.argv else ""
    if os.path.basename(program) != "platformc" and not program.endswith(os.path.join("compiler", "__main__.py")):
        return False
    return next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None) in WRITERS


def save() -> None:
    """Write the table (atomically) if this run added to it, is a compile and may write bytecode."""
    file = path()
    if _table is None or not _changed or file is None:
        return
    if not _force_save and (sys.dont_write_bytecode or not _writer()):
        return
    table = _table if len(_table) <= LIMIT else {key: _table[key] for key in _used if key in _table}
    temporary = f"{file}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        with open(temporary, "wb") as handle:
            marshal.dump((sys.version, table), handle)
        os.replace(temporary, file)
    except (OSError, ValueError):  # read-only (run without it, as without .pyc files); a value marshal refuses
        try:
            os.unlink(temporary)
        except OSError:
            pass


def install() -> None:
    if sys.implementation.name == "cpython" and path() is not None:
        setattr(dataclasses, "exec", _exec)
        setattr(typing, "compile", _compile)
        if _sre_mirrors():
            _sre_compiler.compile = _regex


def _sre_mirrors() -> bool:
    """`_regex` mirrors `re._compiler.compile` of CPython 3.11 (tests/test_codecache.py
    compares its source with SRE_MIRRORED): elsewhere sre compiles as it always does."""
    return sys.version_info[:2] == (3, 11)


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

