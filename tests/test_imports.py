"""The package's import structure: every module imports on its own, and no module hides a
cycle behind an import inside a function."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO

PACKAGE = REPO / "compiler"
# Function-level imports of compiler modules that remain, with why: start-up time (a command
# or a path pays only for what it uses), or a cycle still to remove (issue 10, step 2).
LAZY = {
    **{(f"compiler/cli/{m}.py", "*"): "start-up: each command imports what it needs"
       for m in ("__init__", "build_cmds", "review_cmds", "delivery_cmds", "local_cmds")},
    ("compiler/__init__.py", "build"): "start-up: the package imports the pipeline on first use (PEP 562)",
    ("compiler/gates/lint.py", "spec.load"): "start-up: the warm lint path must not import the YAML loader",
    ("compiler/codecache.py", "*"): "start-up: the package imports it first; only fill() drives the rest",
}


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue  # runs the CLI
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


# One fresh interpreter imports the third-party libraries the package uses, then forks a child
# per module that imports that module alone: no compiler module is loaded before it, as in a
# fresh interpreter, without paying each interpreter's start and those libraries 100 times.
ALONE = r"""
import json, os, sys, traceback
for library in ("yaml", "pydantic", "troposphere", "awacs", "click", "orjson", "boto3", "botocore"):
    try:
        __import__(library)
    except ImportError:
        pass
assert not any(name == "compiler" or name.startswith("compiler.") for name in sys.modules)
failed = []
for module in json.loads(sys.argv[1]):
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        try:
            __import__(module)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc().strip().splitlines()[-1].encode())
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        error = pipe.read().decode()
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        failed.append([module, error])
print(json.dumps(failed))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    import json

    proc = subprocess.run([sys.executable, "-c", ALONE, json.dumps(_modules())], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_the_import_check_sees_a_module_that_does_not_import() -> None:
    """The forked check itself: a broken module is reported, with its error."""
    import json

    proc = subprocess.run([sys.executable, "-c", ALONE, json.dumps(["compiler.naming", "compiler.no_such_module"])],
                          cwd=REPO, capture_output=True, text=True, check=True)
    (failed,) = json.loads(proc.stdout.strip().splitlines()[-1])
    assert failed[0] == "compiler.no_such_module" and "ModuleNotFoundError" in failed[1]


def test_no_module_imports_another_inside_a_function_to_dodge_a_cycle() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if (isinstance(inner, ast.ImportFrom) and inner.level > 0 and (rel, "*") not in LAZY
                            and (rel, inner.module or "") not in LAZY):
                        found.append(f"{rel}:{inner.lineno} {'.' * inner.level}{inner.module or ''}")
    assert found == []


# The parts of the compiler in pipeline order; a module imports from its own part, from the
# shared modules at the top of compiler/, and from parts before its own: never one after it.
PARTS = ("kinds", "rules", "spec", "build", "review", "gates", "delivery", "local", "cli")
SHARED = ("awstypes", "diagnostics", "iampolicy", "manifest", "model", "naming")


def _part(module: str) -> str:
    """compiler.build.emit -> build; compiler.naming -> "" (shared); compiler.cli -> cli."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] in ("__init__", "__main__", "codecache"):  # codecache.fill drives a compile
        return "root"
    return "" if parts[1] in SHARED else parts[1]


def test_each_part_imports_only_the_parts_before_it() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        package = module if rel.name == "__init__" else module.rpartition(".")[0]
        mine = _part(module)
        assert mine in (*PARTS, "", "root"), f"{module}: a part test_imports.PARTS does not list"
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level > 0):
                continue
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            targets = [".".join(base + node.module.split("."))] if node.module else [".".join(base + [a.name]) for a in node.names]
            for target in targets:
                theirs = _part(target)
                if mine == "root" or theirs in ("", mine):
                    continue
                if mine == "" or PARTS.index(theirs) > PARTS.index(mine):
                    found.append(f"{rel}.py:{node.lineno} ({mine or 'shared'}) imports {target} ({theirs})")
    assert found == []


def test_a_long_module_says_why_it_is_one_module() -> None:
    """About 450 lines is where a module stops being read whole: past it, its docstring says
    why it stays one module ("Why one module ..."), or it is split along its seams."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 480 and "Why one module" not in (ast.get_docstring(ast.parse(text)) or ""):
            long.append(f"{path.relative_to(REPO)}: {len(text.splitlines())} lines")
    assert long == []
