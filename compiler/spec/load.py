"""load: spec/*.yaml -> SourceFile (plain data + a position index).

Why a local loader: PyYAML's `safe_load` silently keeps the last of two duplicate keys,
turns `2024-01-01` into a date, and forgets positions. We compose nodes with a private
`SafeLoader` subclass (the global one is never touched), build plain dicts/lists/scalars
ourselves, and record for every key path the span of its key and of its value, 1-based,
converted in exactly one place (`_pos`), held as plain tuples (made ~3x faster than named
ones, 160,000 of them at 100x, and `marshal` can carry them: `pack`) and handed out as
`Span`s (`locate`).

Why one module of this length: the YAML loader and every guard on what it reads (size, depth,
alias bombs, encodings, symlinks, duplicate keys) with the positions they report.
"""

from __future__ import annotations

import marshal
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

import yaml

from ..diagnostics import Diagnostic, KeyPath, Span, Where

PLATFORM_FILE = "platform.yaml"
Pos = tuple[int, int, int, int]  # a Span as a plain tuple: what the position index holds
_STR = "tag:yaml.org,2002:str"
# An alias repeats its anchor's nodes; a chain of anchors of anchors ("billion laughs")
# repeats them exponentially. Spec files reuse blocks a few dozen times (access blocks,
# route options); this many repeated nodes per file is far beyond that and is walked in
# well under a second.
EXPANSION_LIMIT = 100_000
# Spec files are a few kilobytes and nest a dozen levels; these bounds are far beyond that
# and keep the parser (recursive) and the position index within Python's stack.
SIZE_LIMIT = 4 * 1024 * 1024  # bytes per file
DEPTH_LIMIT = 64  # nested mappings and sequences


class _PyLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: dates stay strings, as the spec means them."""


_PyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

if yaml.__with_libyaml__:
    # libyaml's parser (in the usual PyYAML wheels) builds the same nodes ~10x faster.
    class _CLoader(yaml.CSafeLoader):
        yaml_implicit_resolvers = _PyLoader.yaml_implicit_resolvers

    _Loader: type = _CLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _Loader = _PyLoader


def _syntax_error(text: str) -> yaml.MarkedYAMLError | None:
    """The pure-Python parser's error for `text`: same wording on every machine."""
    loader = _PyLoader(text)
    try:
        loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        return exc
    finally:
        loader.dispose()
    return None


@dataclass(frozen=True)
class SourceFile:
    """One spec file: its text, its data, and where every key and value stands in it."""

    path: str  # as shown to the user, e.g. "spec/infrastructure/sqs.yaml"
    rel: str  # relative to the spec folder, e.g. "infrastructure/sqs.yaml"
    text: str
    data: Any
    keys: Mapping[KeyPath, Pos]  # read through `locate`
    values: Mapping[KeyPath, Pos]
    parsed: bool = True  # False after a YAML syntax error: later stages skip the file
    modified: float = 0.0  # its mtime: of two clashing declarations, the newer file's is blamed

    @property
    def lines(self) -> Sequence[str]:
        return self.text.splitlines()

    def locate(self, path: KeyPath, at: str = "value") -> Span:
        """The span of `path`, or of its longest prefix that exists (cfn-lint's fallback)."""
        index = self.keys if at == "key" else self.values
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in index:
                return Span(*index[prefix])
            if prefix in self.keys:  # a list item has no key span: fall back to its value
                return Span(*self.keys[prefix])
        return Span(1, 1, 1, 1)


def _pos(node: yaml.Node) -> Pos:
    start, end = node.start_mark, node.end_mark
    if end.line > start.line and isinstance(node, yaml.ScalarNode) is False:
        # A block collection ends on the line after its last item; point at its first line.
        return (start.line + 1, start.column + 1, start.line + 1, start.column + 2)
    return (start.line + 1, start.column + 1, end.line + 1, end.column + 1)


class _TooLarge(Exception):
    """Alias or merge-key expansion went over EXPANSION_LIMIT, inside the top-level entry
    `key` (or the document, when the expansion is at the top)."""

    def __init__(self, node: yaml.Node, path: KeyPath = ()):
        super().__init__()
        self.node, self.path = node, path


def _merged_size(node: yaml.MappingNode, sizes: dict[int, int], stack: frozenset[int] = frozenset()) -> int:
    """How many pairs `node` holds once its merge keys are flattened, without flattening
    (PyYAML's flatten_mapping copies every merged pair: a chain of merges doubling at each
    step allocates 2^n pairs before anything could be checked)."""
    if id(node) in sizes:
        return sizes[id(node)]
    if id(node) in stack:  # a merge cycle: PyYAML reports it
        return 0
    total = 0
    for key_node, value_node in node.value:
        if key_node.tag != "tag:yaml.org,2002:merge":
            total += 1
            continue
        merged = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for sub in merged:
            if isinstance(sub, yaml.MappingNode):
                total += _merged_size(sub, sizes, stack | {id(node)})
        if total > EXPANSION_LIMIT:
            raise _TooLarge(value_node)
    sizes[id(node)] = total
    return total


class _Builder:
    def __init__(self, loader: Any, file: str):
        self.loader = loader
        self.file = file
        self.seen: set[int] = set()  # nodes built once: meeting one again is an alias
        self.repeated = 0
        self.sizes: dict[int, int] = {}
        self.keys: dict[KeyPath, Pos] = {}
        self.values: dict[KeyPath, Pos] = {}
        self.diagnostics: list[Diagnostic] = []

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        if id(node) in self.seen:
            self.repeated += 1
            if self.repeated > EXPANSION_LIMIT:
                raise _TooLarge(node, path)
        else:
            self.seen.add(id(node))
        self.values[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR:  # most scalars: what construct_object makes of them is their text
            return node.value
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
        if own < len(node.value):
            try:
                _merged_size(node, self.sizes)
            except _TooLarge as exc:
                raise _TooLarge(exc.node, path) from None
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor`; merged pairs come first
        merged = len(node.value) - own
        self.repeated += merged  # merged pairs are repeats too, even those a key overrides
        if self.repeated > EXPANSION_LIMIT:
            raise _TooLarge(node, path)
        result: dict[str, Any] = {}
        from_merge: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else self.loader.construct_object(key_node, deep=True)
            key_span = _pos(key_node)
            if not isinstance(key, str):
                self.diagnostics.append(
                    Diagnostic(
                        "E103",
                        f"mapping keys must be strings, not {type(key).__name__} {key!r}",
                        Where(self.file, span=Span(*key_span)),
                        help="quote the key",
                    )
                )
                continue
            sub = path + (key,)
            if index < merged:
                # `<<: [*a, *b]` with a key in both: the first mapping listed wins (PyYAML
                # flattens them last-first), which is YAML's merge rule, not a duplicate.
                from_merge.add(key)
                result.pop(key, None)
            elif key in from_merge:  # an explicit key overrides a merged one: that is the point
                from_merge.discard(key)
                result.pop(key, None)
            if key in result:
                self.diagnostics.append(
                    Diagnostic(
                        "E102",
                        f"duplicate key '{key}'",
                        Where(self.file, span=Span(*key_span)),
                        help="YAML keeps only one of them; remove or merge the other",
                        related=(("first defined", Where(self.file, span=Span(*self.keys[sub]))),),
                    )
                )
                continue
            self.keys[sub] = key_span
            result[key] = self.build(value_node, sub)
        return result


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_INDENT = re.compile(r"^ *", re.M)


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where nesting first goes past DEPTH_LIMIT: block indentation levels plus open flow
    brackets (outside quotes and comments), or None. An upper bound of YAML's own nesting,
    checked before the recursive parser sees the text."""
    # Nesting is at most the distinct indentations plus every bracket in the file: most
    # files are far below the limit and need no walk.
    brackets = text.count("[") + text.count("{")
    if brackets + len(set(_INDENT.findall(text))) <= DEPTH_LIMIT:
        return None
    indents: list[int] = []
    flow = 0
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.lstrip(" ")
        if flow == 0 and stripped and not stripped.startswith("#"):
            indent = len(line) - len(stripped)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
        if flow or "[" in line or "{" in line:  # else the walk would change nothing
            quote = None
            for column, char in enumerate(line, start=1):
                if quote:
                    quote = None if char == quote else quote
                elif char in "'\"" and (column == 1 or line[column - 2] in " [{,:"):
                    quote = char
                elif char == "#" and (column == 1 or line[column - 2] == " "):
                    break
                elif char in "[{":
                    flow += 1
                    if len(indents) + flow > DEPTH_LIMIT:
                        return number, column
                elif char in "]}":
                    flow = max(0, flow - 1)
        if flow == 0 and len(indents) > DEPTH_LIMIT:
            return number, len(line) - len(stripped) + 1
    return None


def _unreadable(raw: bytes, display: str, rel: str) -> tuple[SourceFile, list[Diagnostic]] | None:
    """A positioned error for a file that is too large, not UTF-8, too deep or holds
    characters YAML refuses — before the parser sees it."""
    def refused(code: str, message: str, line: int = 1, col: int = 1, help_: str = "", text: str = "") -> tuple[SourceFile, list[Diagnostic]]:
        where = Where(display, span=Span(line, col, line, col + 1))
        return SourceFile(display, rel, text, {}, {}, {}, parsed=False), [Diagnostic(code, message, where, help=help_)]

    if len(raw) > SIZE_LIMIT:
        return refused("E109", f"the file is {len(raw):,} bytes; a spec file may have at most {SIZE_LIMIT:,}",
                       help_="split it into several stack files")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw.count(b"\n", 0, start) + 1
        col = len(raw[raw.rfind(b"\n", 0, start) + 1:start].decode("utf-8", "replace")) + 1
        return refused("E107", f"the file is not UTF-8: byte 0x{raw[start]:02x} cannot start or continue a character",
                       line, col, "save the file as UTF-8")
    if deep := _too_deep(text):
        return refused("E108", f"nesting deeper than {DEPTH_LIMIT} levels", *deep,
                       help_="a stack file nests a few levels; flatten the structure", text=text)
    return None


def _yaml_hint(message: str, text: str, line: int) -> str | None:
    """What usually causes a YAML error, in the spec's terms."""
    source = text.split("\n")[line - 1] if 0 < line <= text.count("\n") + 1 else ""
    if "'\\t'" in message or "\t" in source[: len(source) - len(source.lstrip())]:
        return "YAML indents with spaces, never tabs: replace the tab with spaces"
    if "flow sequence" in message and "'{'" in message:
        return "YAML reads `{` inside `[...]` as a mapping: quote the item (\"GET /x/{id}\") or write it as a block item (- GET /x/{id})"
    if "expected <block end>" in message:
        return "this line's indentation matches no level above it: indent it like its siblings"
    if "mapping values are not allowed" in message:
        return "check the indentation of this line and the one above; a value holding ': ' needs quotes"
    if "found duplicate anchor" in message or "found undefined alias" in message:
        return "an alias `*name` needs an anchor `&name` earlier in the same file"
    return None


def load_file(path: str | Path, rel: str, display: str) -> tuple[SourceFile, list[Diagnostic]]:
    """Parse one file. Problems come back as diagnostics; the data is then best effort."""
    with open(path, "rb") as file:
        raw = file.read()
    if refused := _unreadable(raw, display, rel):
        return refused
    text = raw.decode("utf-8-sig")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        builder = _Builder(loader, display)
        data = builder.build(node, ()) if node is not None else {}
        diags = builder.diagnostics
        keys, values = builder.keys, builder.values
    except _TooLarge as big:
        top = big.path[:1]
        line, col = (builder.keys.get(top) or _pos(big.node))[:2]
        inside = f" (inside '{top[0]}')" if top else ""
        diag = Diagnostic(
            "E105",
            f"aliases and merge keys expand this file to more than {EXPANSION_LIMIT:,} nodes{inside}",
            Where(display, span=Span(line, col, line, col + 1)),
            help="an anchor used inside anchors repeats exponentially; write the values out or reuse fewer levels",
        )
        return SourceFile(display, rel, text, {}, {}, {}, parsed=False), [diag]
    except yaml.MarkedYAMLError as fast_exc:
        exc = _syntax_error(text) or fast_exc
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        diag = Diagnostic("E101", f"YAML syntax error: {message}", Where(display, span=Span(line, col, line, col + 1)),
                          help=_yaml_hint(message, text, line))
        return SourceFile(display, rel, text, {}, {}, {}, parsed=False), [diag]
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (control characters...)
        line, col = _position(text, exc.position)
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        diag = Diagnostic("E101", f"YAML syntax error: character {what} is not allowed in YAML ({exc.reason})",
                          Where(display, span=Span(line, col, line, col + 1)), help="remove it, or write it escaped in a double-quoted string")
        return SourceFile(display, rel, text, {}, {}, {}, parsed=False), [diag]
    except RecursionError:  # _too_deep bounds nesting; this is the backstop
        diag = Diagnostic("E108", f"nesting deeper than {DEPTH_LIMIT} levels", Where(display, span=Span(1, 1, 1, 2)))
        return SourceFile(display, rel, text, {}, {}, {}, parsed=False), [diag]
    finally:
        loader.dispose()
    return SourceFile(display, rel, text, data, keys, values, modified=os.stat(path).st_mtime), diags


def escapes(real: str, root: str) -> bool:
    """Whether a file, at `real` once resolved, lies outside `root` (resolved too: callers
    resolve the root once and each file once) because a symlink, itself or a folder on its
    way, leads out. The compiler reads nothing outside the repository: such a file's bytes
    could end up in an error message or a packaged artifact."""
    return not _under(real, root)


def outside_error(real: Path, display: str) -> Diagnostic:
    return Diagnostic(
        "E106",
        f"{display} is a symlink to {real}, outside the repository: it is not read",
        Where(display),
        help="copy the file into the repository, or link to a file inside it",
    )


def _walk(folder: str, prefix: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """The YAML files under `folder` (and links to files), each with its path relative to
    it, as `Path.rglob` finds them: folders that are symlinks are not entered, folders that
    cannot be listed are skipped. With `os.scandir` (the file system's own listing) and
    string paths, `entries` takes 0.02 s at 100x (1,600 files), 0.14 s with rglob and pathlib."""
    try:
        with os.scandir(folder) as listing:
            found = list(listing)
    except PermissionError:
        return
    for entry in found:
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, f"{prefix}{entry.name}/")
        elif os.path.splitext(entry.name)[1] in (".yaml", ".yml") and entry.is_file():
            yield f"{prefix}{entry.name}", entry


def _found(spec_dir: Path) -> list[tuple[str, os.DirEntry[str]]]:
    """`_walk`'s files in a fixed order (never the file system's): by relative path."""
    return sorted(_walk(str(spec_dir)), key=lambda item: item[0])


def discover(spec_dir: Path) -> list[Path]:
    """Every YAML file under the spec folder, in `entries`' order."""
    return [spec_dir / rel for rel, _ in _found(spec_dir)]


def _under(path: str, folder: str) -> bool:
    """`Path(path).is_relative_to(folder)` for two absolute paths as pathlib writes them."""
    return path.startswith(folder if folder.endswith("/") else folder + "/")


def _join(folder: str, rel: str) -> str:
    return folder + rel if folder.endswith("/") else f"{folder}/{rel}"


class Entry(NamedTuple):
    """A spec file to load: its path, its name in the spec folder and as shown, and why it
    is not read, if it is not (a symlink out of the repository)."""

    path: str
    rel: str
    display: str
    refused: Diagnostic | None


def entries(spec_dir: Path, display_root: Path | None = None) -> list[Entry]:
    """Every YAML file under the spec folder, in a fixed order (never the file system's).
    `display_root` makes paths relative for messages: a file is shown by its path from
    there, or else by its target's (a link from elsewhere)."""
    root = display_root if display_root is not None else spec_dir.parent
    # resolved once: each costs a system call per folder
    bases = (str(root.absolute()), str(root.resolve()))
    inside = str(spec_dir.parent.resolve())
    top, top_real = str(spec_dir.absolute()), str(spec_dir.resolve())
    found: list[Entry] = []
    for rel, entry in _found(spec_dir):
        path = _join(top, rel)
        # only a file can be a link here (_walk enters no linked folder)
        real = os.path.realpath(path) if entry.is_symlink() else _join(top_real, rel)
        display = next((candidate[len(base.rstrip("/")) + 1:] for candidate, base in ((path, bases[0]), (real, bases[1]))
                        if _under(candidate, base)), None) or (spec_dir / rel).as_posix()
        found.append(Entry(path, rel, display, outside_error(Path(real), display) if escapes(real, inside) else None))
    return found


def load_entries(todo: Sequence[Entry]) -> tuple[list[SourceFile], list[Diagnostic]]:
    """The files of `todo` that may be read, loaded, and every problem, in `todo`'s order."""
    files: list[SourceFile] = []
    diags: list[Diagnostic] = []
    for entry in todo:
        if entry.refused is not None:
            diags.append(entry.refused)
            continue
        source, problems = load_file(entry.path, entry.rel, entry.display)
        files.append(source)
        diags.extend(problems)
    return files, diags


def pack(files: Sequence[SourceFile]) -> bytes:
    """Files loaded without a problem (so each parsed) as `marshal` bytes: another process's
    load handed over, ~9x faster to read than to parse again. ValueError for data marshal
    cannot carry; the loader builds only dicts, lists, strings, numbers, booleans, None and
    bytes, which it can."""
    return marshal.dumps([(f.path, f.rel, f.text, f.data, f.keys, f.values, f.modified) for f in files])


def unpack(packed: bytes) -> list[SourceFile]:
    return [SourceFile(path, rel, text, data, keys, values, modified=modified)
            for path, rel, text, data, keys, values, modified in marshal.loads(packed)]


Loader = Callable[[Sequence[Entry]], tuple[list[SourceFile], list[Diagnostic]]]


def load_tree(spec_dir: Path, display_root: Path | None = None,
              load: Loader = load_entries) -> tuple[tuple[SourceFile, ...], list[Diagnostic]]:
    """All spec files of a folder, loaded by `load` (the pipeline's may use two processes)."""
    files, diags = load(entries(spec_dir, display_root))
    if not any(f.rel == PLATFORM_FILE for f in files):
        diags.append(
            Diagnostic(
                "E104",
                f"no {PLATFORM_FILE} in {spec_dir}",
                Where(str(spec_dir)),
                help="it names the service, the region and the stages",
            )
        )
    return tuple(files), diags
