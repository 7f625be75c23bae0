"""Architecture rules for kb/, ingest/, ui/ and app.py, checked on the source text.

Why: the layering (storage -> index -> search -> write, a lazy public `kb` surface, one
settings reader) only holds if something fails when it is broken. Files are parsed with
`ast` and never imported, so this is fast, needs no FAISS or model, and sees imports
that a test run would never execute. Every checker is a pure function of
{path: source}; `test_checker_reports_violation` feeds each one a small broken tree to
prove it can fail, and `test_checker_allows` feeds each one the exceptions it must allow.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Which other kb layers each layer may import. A layer is a subpackage (kb/storage/ ->
# "storage") or a top-level module (kb/settings.py -> "settings"); `from kb import NAME`
# counts as importing the module `_EXPORTS` maps NAME to, and a bare `import kb` as layer
# "kb". Imports within a layer and `ingest.*` imports are always allowed. Layers not listed
# here (cli, knowledge_base, the kb/__init__ surface, __main__) are not constrained.
LAYER_DEPS: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "settings": frozenset({"errors"}),
    "reports": frozenset({"errors"}),
    "passwords": frozenset({"errors"}),
    "storage": frozenset({"errors", "settings"}),
    "index": frozenset({"storage", "errors", "settings"}),
    "embeddings": frozenset({"index", "errors", "settings"}),
    "search": frozenset({"index", "storage", "embeddings", "errors", "settings", "reports"}),
    "write": frozenset({"index", "storage", "search", "embeddings", "errors", "settings", "reports"}),
    "clusters": frozenset({"index", "storage", "search", "embeddings", "errors", "settings"}),
    "ops": frozenset({"index", "storage", "errors", "settings"}),
    "outputs": frozenset({"search", "storage", "errors", "settings"}),
}

MAX_TOP_LEVEL_KB_MODULES = 8
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Calls that do work (read the environment, set thread pools) when a module is imported.
IMPORT_TIME_CALLS = frozenset({"os.getenv", "faiss.omp_set_num_threads", "torch.set_num_threads",
                               "torch.set_num_interop_threads"})
ENV_NAMES = frozenset({"os.environ", "os.environb", "os.getenv", "os.getenvb"})
ENV_LEAVES = frozenset(name.split(".")[1] for name in ENV_NAMES)
ENV_READER = "kb/settings.py"
# ingest/ocr.py copies the environment for the tesseract subprocess (`dict(os.environ)`, plus
# OMP_THREAD_LIMIT); it reads no setting, so `dict(os.environ)` there is allowed.
ENV_COPY_ALLOWED = frozenset({"ingest/ocr.py"})

Files = Mapping[str, str]  # repo-relative posix path -> source
Checker = Callable[[Files], list[str]]


# --- reading the tree -----------------------------------------------------------------------------


@functools.cache
def _repo_files() -> dict[str, str]:
    """Every module the rules cover: kb/, ingest/, ui/ and app.py."""
    paths = [p for top in ("kb", "ingest", "ui") for p in (ROOT / top).rglob("*.py")]
    paths.append(ROOT / "app.py")
    return {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in sorted(paths)}


@functools.cache
def _parse(path: str, source: str) -> ast.Module:
    return ast.parse(source, filename=path)


def _module_name(path: str) -> str:
    """kb/search/cases.py -> kb.search.cases; kb/search/__init__.py -> kb.search."""
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: str) -> str:
    """The package a relative import in `path` starts from."""
    name = _module_name(path)
    return name if path.endswith("/__init__.py") else name.rpartition(".")[0]


def _under(path: str, *prefixes: str) -> bool:
    return any(path == p or path.startswith(p) for p in prefixes)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _descend(node: ast.AST, tc: bool = False, fn: bool = False) -> Iterator[tuple[ast.AST, bool, bool]]:
    """Every node with two flags: under `if TYPE_CHECKING:`, and inside a function body."""
    yield node, tc, fn
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        for stmt in node.body:
            yield from _descend(stmt, True, fn)
        for stmt in node.orelse:
            yield from _descend(stmt, tc, fn)
        return
    inner = fn or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
    for child in ast.iter_child_nodes(node):
        yield from _descend(child, tc, inner)


@dataclass(frozen=True)
class Imp:
    """One imported name: `import module` (name None) or `from module import name`."""

    path: str
    line: int
    module: str  # absolute, relative imports resolved
    name: str | None
    text: str
    type_checking: bool
    in_function: bool

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


@functools.cache
def _imports(path: str, source: str) -> tuple[Imp, ...]:
    """Import statements, plus `importlib.import_module("x")` / `__import__("x")` literals."""
    found: list[Imp] = []
    for node, tc, fn in _descend(_parse(path, source)):
        if isinstance(node, ast.Import):
            found += [Imp(path, node.lineno, a.name, None, f"import {a.name}", tc, fn) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package(path).split(".")
                anchor = ".".join(package[: len(package) - node.level + 1])
                base = f"{anchor}.{base}" if node.module else anchor
            written = "." * node.level + (node.module or "")
            found += [Imp(path, node.lineno, base, a.name, f"from {written} import {a.name}", tc, fn)
                      for a in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and not node.args[0].value.startswith(".")
              and _call_name(node.func) in {"importlib.import_module", "import_module", "__import__"}):
            name = node.args[0].value
            found.append(Imp(path, node.lineno, name, None, f"{_call_name(node.func)}({name!r})", tc, fn))
    return tuple(found)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{_call_name(func.value)}.{func.attr}"
    return ""


def _all_imports(files: Files) -> Iterator[Imp]:
    for path, source in files.items():
        yield from _imports(path, source)


def _exports(files: Files) -> dict[str, str]:
    """`_EXPORTS` of kb/__init__.py: public name -> module, read from its AST."""
    tree = _parse("kb/__init__.py", files["kb/__init__.py"])
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if isinstance(target, ast.Name) and target.id == "_EXPORTS" and node.value is not None:
            return _dict_entries(node.value)
    raise AssertionError("kb/__init__.py has no `_EXPORTS = {...}` this test can read")


def _dict_entries(node: ast.expr) -> dict[str, str]:
    """Entries of a literal built from `{"a": "m"}`, `**{...}` and `**dict.fromkeys((names), "m")`."""

    def strings(seq: ast.expr) -> list[str]:
        if isinstance(seq, ast.Tuple | ast.List | ast.Set) and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in seq.elts):
            return [e.value for e in seq.elts]
        raise AssertionError(f"kb/__init__.py:{seq.lineno}: _EXPORTS names are not a literal tuple")

    def string(value: ast.expr) -> str:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
        raise AssertionError(f"kb/__init__.py:{value.lineno}: _EXPORTS module is not a string literal")

    if isinstance(node, ast.Dict):
        entries: dict[str, str] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                entries.update(_dict_entries(value))
            else:
                entries[string(key)] = string(value)
        return entries
    if isinstance(node, ast.Call) and _call_name(node.func) == "dict.fromkeys" and len(node.args) == 2:
        return dict.fromkeys(strings(node.args[0]), string(node.args[1]))
    if isinstance(node, ast.Call) and _call_name(node.func) == "dict" and not node.args:
        return {k.arg: string(k.value) for k in node.keywords if k.arg}
    raise AssertionError(f"kb/__init__.py:{node.lineno}: cannot read this part of _EXPORTS")


def _kb_modules(files: Files) -> set[str]:
    return {_module_name(p) for p in files if p.startswith("kb/")}


def _target(imp: Imp, modules: set[str], exports: Mapping[str, str]) -> str:
    """The module an import loads: a submodule if `name` is one, an export's module for `from kb`."""
    if imp.name is not None:
        if f"{imp.module}.{imp.name}" in modules:
            return f"{imp.module}.{imp.name}"
        if imp.module == "kb" and imp.name in exports:
            return exports[imp.name]
    return imp.module


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "kb":
        return None
    return parts[1] if len(parts) > 1 else "kb"


def _report(rule: str, violations: list[str]) -> str:
    return f"{rule}: {len(violations)} violation(s)\n  " + "\n  ".join(violations)


# --- the checkers -------------------------------------------------------------------------------


def _only_under(package: str, allowed: tuple[str, ...]) -> Checker:
    """A checker: third-party `package` is imported only by files under `allowed`."""

    def check(files: Files) -> list[str]:
        return [imp.where() for imp in _all_imports(files)
                if imp.top == package and not _under(imp.path, *allowed)]

    return check


check_sqlite3 = _only_under("sqlite3", ("kb/storage/", "kb/ops/"))
check_faiss = _only_under("faiss", ("kb/index/", "kb/clusters/"))
check_psycopg = _only_under("psycopg", ("kb/storage/",))
check_pymilvus = _only_under("pymilvus", ("kb/index/",))
check_click = _only_under("click", ("kb/cli/",))
check_streamlit = _only_under("streamlit", ("ui/", "app.py"))


def check_facade_imports(files: Files) -> list[str]:
    """kb.knowledge_base is imported in kb/ only by kb/__init__.py and kb/cli/ (TYPE_CHECKING aside)."""
    modules, exports = _kb_modules(files), _exports(files)
    return [imp.where() for imp in _all_imports(files)
            if imp.path.startswith("kb/") and not _under(imp.path, "kb/__init__.py", "kb/cli/")
            and not imp.type_checking
            and (_target(imp, modules, exports) + ".").startswith("kb.knowledge_base.")]


def check_public_surface(files: Files) -> list[str]:
    """ui/, app.py, kb/cli/ use `import kb` / `from kb import <export>`; ingest/ uses only kb.errors."""
    exports = _exports(files)
    found = []
    for imp in _all_imports(files):
        if imp.top != "kb":
            continue
        if imp.path.startswith("ingest/"):
            if not (imp.module == "kb.errors" or (imp.module == "kb" and imp.name == "errors")):
                found.append(f"{imp.where()}  (ingest/ may import only kb.errors)")
        elif _under(imp.path, "ui/", "app.py", "kb/cli/"):
            public = imp.module == "kb" and (imp.name is None or imp.name in exports)
            own_cli = imp.path.startswith("kb/cli/") and (
                (imp.module + ".").startswith("kb.cli.") or (imp.module == "kb" and imp.name == "cli"))
            if not (public or own_cli):
                found.append(f"{imp.where()}  (not in kb._EXPORTS: use `from kb import NAME`)")
    return found


def check_layers(files: Files) -> list[str]:
    """Each kb layer imports only the layers LAYER_DEPS allows (any depth, TYPE_CHECKING aside)."""
    modules, exports = _kb_modules(files), _exports(files)
    found = []
    for imp in _all_imports(files):
        source = _layer(_module_name(imp.path))
        if imp.type_checking or source not in LAYER_DEPS:
            continue
        dest = _layer(_target(imp, modules, exports))
        if dest is not None and dest != source and dest not in LAYER_DEPS[source]:
            found.append(f"{imp.where()}  ({source} -> {dest})")
    return found


def _import_graph(files: Files) -> dict[str, dict[str, Imp]]:
    """Module-level (not TYPE_CHECKING, not in a function) kb -> kb imports, with the statement."""
    modules, exports = _kb_modules(files), _exports(files)
    graph: dict[str, dict[str, Imp]] = {m: {} for m in modules}
    for imp in _all_imports(files):
        if not imp.path.startswith("kb/") or imp.type_checking or imp.in_function:
            continue
        source, target = _module_name(imp.path), _target(imp, modules, exports)
        parts = target.split(".")
        # importing kb.a.b runs kb/a/__init__.py first, unless kb.a is the importer's own package
        loaded = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        for dest in loaded:
            if dest in modules and not (source + ".").startswith(dest + ".") and dest not in graph[source]:
                graph[source][dest] = imp
    return graph


def _strongly_connected(graph: Mapping[str, Mapping[str, Imp]]) -> list[list[str]]:
    """Tarjan's algorithm: the graph's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _cycle_through(start: str, component: set[str], graph: Mapping[str, Mapping[str, Imp]]) -> list[str]:
    """A shortest path start -> ... -> start inside one component (breadth first)."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for succ in sorted(graph[node]):
            if succ == start:
                return [*paths[node], start]
            if succ in component and succ not in paths:
                paths[succ] = [*paths[node], succ]
                queue.append(succ)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def check_cycles(files: Files) -> list[str]:
    """No import cycle among kb modules: one cycle path per strongly connected component."""
    graph = _import_graph(files)
    found = []
    for component in _strongly_connected(graph):
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        cycle = _cycle_through(component[0], set(component), graph)
        hops = "; ".join(graph[a][b].where() for a, b in zip(cycle, cycle[1:], strict=False))
        found.append(f"{' -> '.join(cycle)}  [{hops}]  (component: {', '.join(component)})")
    return found


def check_top_level_count(files: Files) -> list[str]:
    """kb/ keeps at most MAX_TOP_LEVEL_KB_MODULES modules beside its subpackages."""
    top = sorted(p for p in files if p.startswith("kb/") and p.count("/") == 1)
    if len(top) <= MAX_TOP_LEVEL_KB_MODULES:
        return []
    return [f"kb/ has {len(top)} top-level .py files (max {MAX_TOP_LEVEL_KB_MODULES}): {', '.join(top)}"]


def check_module_length(files: Files) -> list[str]:
    """No module over MAX_MODULE_LINES lines."""
    return [f"{path}: {n} lines (max {MAX_MODULE_LINES})" for path, source in files.items()
            if (n := len(source.splitlines())) > MAX_MODULE_LINES]


def check_function_length(files: Files) -> list[str]:
    """No function or method over MAX_FUNCTION_LINES lines (def line to last line, decorators aside)."""
    found = []

    def visit(node: ast.AST, path: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path}:{child.lineno}: {name}() is {length} lines "
                                 f"(max {MAX_FUNCTION_LINES})")
                visit(child, path, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, path, f"{prefix}{child.name}.")
            else:
                visit(child, path, prefix)

    for path, source in files.items():
        visit(_parse(path, source), path, "")
    return found


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted name, from every import in the module (`from os import environ`...)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
    return names


def _dotted(node: ast.AST, aliases: Mapping[str, str]) -> str | None:
    """`os.environ.get` for an Attribute/Name chain rooted at an imported name, else None."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _import_time_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes evaluated when the module is imported: not function or lambda bodies (but decorators
    and default values, which are)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            evaluated: list[ast.AST] = [*child.args.defaults, *(d for d in child.args.kw_defaults if d)]
            if not isinstance(child, ast.Lambda):
                evaluated += child.decorator_list
            for expr in evaluated:
                yield expr
                yield from _import_time_nodes(expr)
        else:
            yield child
            yield from _import_time_nodes(child)


def check_import_time_work(files: Files) -> list[str]:
    """No kb module reads the environment or sets thread pools at import time."""
    found = []
    for path, source in files.items():
        if not path.startswith("kb/"):
            continue
        tree = _parse(path, source)
        aliases = _aliases(tree)
        for node in _import_time_nodes(tree):
            name = None
            if isinstance(node, ast.Call):
                name = _dotted(node.func, aliases)
                if name and not (name in IMPORT_TIME_CALLS or name.startswith("os.environ.")):
                    name = None
            elif isinstance(node, ast.Subscript) and _dotted(node.value, aliases) == "os.environ":
                name = "os.environ[...]"
            if name:
                found.append(f"{path}:{node.lineno}: {name} at import time: "
                             f"{ast.get_source_segment(source, node)}")
    return found


def check_environment_reader(files: Files) -> list[str]:
    """In kb/ and ingest/, only kb/settings.py touches os.environ / os.getenv."""
    found = []
    for path, source in files.items():
        if not _under(path, "kb/", "ingest/") or path == ENV_READER:
            continue
        tree = _parse(path, source)
        aliases = _aliases(tree)
        copies = {id(n.args[0]) for n in ast.walk(tree) if path in ENV_COPY_ALLOWED
                  and isinstance(n, ast.Call) and _call_name(n.func) == "dict" and len(n.args) == 1}
        for node in ast.walk(tree):
            leaf = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if (leaf in ENV_LEAVES or aliases.get(leaf or "") in ENV_NAMES) and id(node) not in copies \
                    and _dotted(node, aliases) in ENV_NAMES:
                found.append(f"{path}:{node.lineno}: {ast.get_source_segment(source, node)} "
                             f"(read settings through {ENV_READER})")
    return found


# --- the rules, on the real tree ----------------------------------------------------------------------

RULES: dict[str, tuple[str, Checker]] = {
    "sqlite3": ("sqlite3 is imported only under kb/storage/ and kb/ops/", check_sqlite3),
    "faiss": ("faiss is imported only under kb/index/ and kb/clusters/", check_faiss),
    "psycopg": ("psycopg is imported only under kb/storage/", check_psycopg),
    "pymilvus": ("pymilvus is imported only under kb/index/", check_pymilvus),
    "click": ("click is imported only under kb/cli/", check_click),
    "streamlit": ("streamlit is imported only in ui/ and app.py", check_streamlit),
    "facade": ("kb.knowledge_base is imported in kb/ only by kb/__init__.py and kb/cli/",
               check_facade_imports),
    "public_surface": ("ui/, app.py and kb/cli/ import only the public kb surface; ingest/ only kb.errors",
                       check_public_surface),
    "layers": ("kb layers import only what LAYER_DEPS allows", check_layers),
    "cycles": ("no import cycle among kb modules (module level)", check_cycles),
    "top_level_count": ("kb/ has few top-level modules", check_top_level_count),
    "module_length": ("no module is too long", check_module_length),
    "function_length": ("no function is too long", check_function_length),
    "import_time_work": ("kb/ does no work at import time", check_import_time_work),
    "environment_reader": ("only kb/settings.py reads the environment in kb/ and ingest/",
                           check_environment_reader),
}


def _check(rule: str) -> None:
    text, checker = RULES[rule]
    violations = checker(_repo_files())
    assert not violations, _report(text, violations)


def test_sqlite3_only_in_storage_and_ops() -> None:
    """SQLite belongs to storage (and to check/backup, which work on the file itself)."""
    _check("sqlite3")


def test_faiss_only_in_index_and_clusters() -> None:
    """FAISS is an index detail; the rest of kb/ must not depend on it."""
    _check("faiss")


def test_psycopg_only_in_storage() -> None:
    """PostgreSQL is a record store like SQLite: only storage talks to it."""
    _check("psycopg")


def test_pymilvus_only_in_index() -> None:
    """Milvus is a derived index like FAISS: only the index layer talks to it."""
    _check("pymilvus")


def test_click_only_in_cli() -> None:
    """The command line is a thin shell over the public surface."""
    _check("click")


def test_streamlit_only_in_ui_and_app() -> None:
    """kb/ and ingest/ must run without Streamlit (CLI, tests, benchmarks)."""
    _check("streamlit")


def test_facade_not_imported_inside_kb() -> None:
    """The facade sits on top: layers below it importing it would invert the layering."""
    _check("facade")


def test_ui_app_and_cli_use_public_surface() -> None:
    """Clients see only `kb`'s lazy exports, so kb/ can move its internals freely."""
    _check("public_surface")


def test_layer_directions() -> None:
    """Each layer depends only on the layers below it (LAYER_DEPS)."""
    _check("layers")


def test_no_import_cycles() -> None:
    """Cycles make import order matter and break partial imports."""
    _check("cycles")


def test_kb_top_level_module_count() -> None:
    """New code goes into a layer, not beside the facade."""
    _check("top_level_count")


def test_module_length() -> None:
    """A module one can read in one sitting."""
    _check("module_length")


def test_function_length() -> None:
    """A function one can read on one screen."""
    _check("function_length")


def test_no_work_at_import_time() -> None:
    """Importing kb must be cheap and must not freeze settings before tests or the app set them."""
    _check("import_time_work")


def test_environment_read_only_in_settings() -> None:
    """One settings object, one place that reads the environment."""
    _check("environment_reader")


# --- the checkers, on synthetic trees --------------------------------------------------------------

_INIT = '_EXPORTS: dict[str, str] = {\n    **dict.fromkeys(("KnowledgeBase",), "kb.knowledge_base"),\n' \
        '    **dict.fromkeys(("Filters", "Other"), "kb.search.filters"),\n    "Direct": "kb.errors",\n}\n'


def _tree(files: dict[str, str]) -> dict[str, str]:
    """A synthetic tree: `files` beside a small kb/__init__.py with an `_EXPORTS` table."""
    return {"kb/__init__.py": _INIT, **files}


def _function(lines: int, indent: str = "") -> str:
    """A function `lines` long (def line included), indented by `indent`."""
    return f"{indent}def f(self):\n" + "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 1))


_TC = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    "

BROKEN: dict[str, tuple[dict[str, str], str]] = {
    "sqlite3": (_tree({"kb/search/cases.py": "import sqlite3\n"}), "kb/search/cases.py:1: import sqlite3"),
    "faiss": (_tree({"kb/write/cases.py": "x = 1\nfrom faiss import IndexFlatIP\n"}),
              "kb/write/cases.py:2: from faiss import IndexFlatIP"),
    "psycopg": (_tree({"kb/index/milvus_sync.py": "import psycopg\n"}),
                "kb/index/milvus_sync.py:1: import psycopg"),
    "pymilvus": (_tree({"kb/search/cases.py": "from pymilvus import MilvusClient\n"}),
                 "kb/search/cases.py:1: from pymilvus import MilvusClient"),
    "click": (_tree({"ui/admin.py": "def f():\n    import click\n"}), "ui/admin.py:2: import click"),
    "streamlit": (_tree({"ingest/pdf.py": "import importlib\nst = importlib.import_module('streamlit')\n"}),
                  "ingest/pdf.py:2: importlib.import_module('streamlit')"),
    "facade": (_tree({"kb/search/cases.py": "from kb import KnowledgeBase\n"}),
               "kb/search/cases.py:1: from kb import KnowledgeBase"),
    "public_surface": (_tree({"ui/search.py": "from kb import Filters\n"
                                              "from kb.search.filters import Filters\n"}),
                       "ui/search.py:2: from kb.search.filters import Filters"),
    "layers": (_tree({"kb/storage/cases.py": "from ..search import filters\n"}),
               "kb/storage/cases.py:1: from ..search import filters  (storage -> search)"),
    "cycles": (_tree({"kb/storage/a.py": "from kb.storage import b\n",
                      "kb/storage/b.py": "import kb.storage.a\n"}),
               "kb.storage.a -> kb.storage.b -> kb.storage.a"),
    "top_level_count": ({f"kb/m{i}.py": "" for i in range(MAX_TOP_LEVEL_KB_MODULES + 1)},
                        f"kb/ has {MAX_TOP_LEVEL_KB_MODULES + 1} top-level .py files"),
    "module_length": ({"ui/x.py": "x = 1\n" * (MAX_MODULE_LINES + 1)},
                      f"ui/x.py: {MAX_MODULE_LINES + 1} lines"),
    "function_length": ({"kb/x.py": "class C:\n" + _function(MAX_FUNCTION_LINES + 1, "    ")},
                        f"kb/x.py:2: C.f() is {MAX_FUNCTION_LINES + 1} lines"),
    "import_time_work": (_tree({"kb/index/ivf.py": "from os import environ\n"
                                                   "if True:\n    N = environ['N']\n"}),
                         "kb/index/ivf.py:3: os.environ[...] at import time"),
    "environment_reader": (_tree({"ingest/ocr.py": "import os\ndef f():\n    return os.getenv('X')\n"}),
                           "ingest/ocr.py:3: os.getenv"),
}

ALLOWED: dict[str, dict[str, str]] = {
    "sqlite3": _tree({"kb/ops/backup.py": "import sqlite3\n", "kb/storage/database.py": "import sqlite3\n"}),
    "faiss": _tree({"kb/clusters/method.py": "import faiss\n", "kb/index/faiss.py": "import faiss\n"}),
    "psycopg": _tree({"kb/storage/postgres.py": "import psycopg\nfrom psycopg.pq import X\n"}),
    "pymilvus": _tree({"kb/index/milvus.py": "from pymilvus import MilvusClient\n"}),
    "click": _tree({"kb/cli/main.py": "import click\n"}),
    "streamlit": _tree({"app.py": "import streamlit as st\n", "ui/nav.py": "import streamlit\n"}),
    "facade": _tree({"kb/cli/main.py": "from kb.knowledge_base import KnowledgeBase\n",
                     "kb/write/sample.py": _TC + "from kb.knowledge_base import KnowledgeBase\n"}),
    "public_surface": _tree({
        "ui/search.py": "import kb\nfrom kb import Filters, Direct\nfrom ingest import Case\n",
        "kb/cli/main.py": "from kb import KnowledgeBase\nfrom . import admin\nfrom kb.cli.cases import x\n",
        "ingest/errors.py": "from kb.errors import KBError\n"}),
    "layers": _tree({"kb/index/faiss.py": "from kb.storage import faults\nfrom ingest import Case\n",
                     "kb/storage/audit.py": "from kb.settings import Settings\n"
                                            "from .database import Database\n",
                     "kb/storage/cases.py": _TC + "from kb.search.filters import Filters\n"}),
    "cycles": _tree({"kb/storage/a.py": "from kb.storage import b\n",
                     "kb/storage/b.py": "def f():\n    from kb.storage import a\n",
                     "kb/search/__init__.py": "from kb.search.cases import x\n",
                     "kb/search/cases.py": "from kb.search import filters\n",
                     "kb/search/filters.py": _TC + "from kb.search.cases import x\n"}),
    "top_level_count": {f"kb/m{i}.py": "" for i in range(MAX_TOP_LEVEL_KB_MODULES)} | {"kb/a/b.py": ""},
    "module_length": {"ui/x.py": "x = 1\n" * MAX_MODULE_LINES},
    "function_length": {"kb/x.py": _function(MAX_FUNCTION_LINES)},
    "import_time_work": _tree({"kb/index/ivf.py": "import os\ndef limit(n=None):\n"
                                                  "    return os.environ.get('N')\n",
                               "kb/settings.py": "import os\ndef from_env():\n    return os.environ\n"}),
    "environment_reader": _tree({"ingest/ocr.py": "import os\ndef f():\n    return dict(os.environ)\n",
                                 "kb/settings.py": "import os\ndef from_env():\n    return os.environ\n",
                                 "ui/auth.py": "import os\nx = os.environ.get('A')\n"}),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_checker_reports_violation(rule: str) -> None:
    """Each checker finds a planted violation, so a green run means something."""
    files, expected = BROKEN[rule]
    violations = RULES[rule][1](files)
    assert any(expected in v for v in violations), (expected, violations)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_checker_allows(rule: str) -> None:
    """Each checker accepts the exceptions its rule grants (TYPE_CHECKING, whitelists, limits)."""
    assert RULES[rule][1](ALLOWED[rule]) == []


def test_readme_module_map_names_every_module() -> None:
    """The README's module map is how a new engineer finds things: it must not fall behind."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## コードの地図 / Module map", 1)[-1].split("\n## ", 1)[0]
    listed: dict[str, set[str]] = {}
    folder = ""
    for line in section.splitlines():
        if found := re.match(r"- \*\*`([\w/]+)/`\*\*", line):
            folder = found.group(1)
            listed[folder] = set()
        elif (found := re.match(r"  - `([\w.]+\.py)`", line)) and folder:
            listed[folder].add(found.group(1))
    missing = [path.relative_to(ROOT).as_posix()
               for top in ("kb", "ingest", "ui") for path in sorted((ROOT / top).rglob("*.py"))
               if (folder := path.parent.relative_to(ROOT).as_posix()) not in listed
               or (path.name != "__init__.py" and path.name not in listed[folder])]
    assert not missing, "README module map lacks: " + ", ".join(missing)


def test_facade_only_delegates() -> None:
    """KnowledgeBase says what a base offers; the work lives in the layers below it."""
    source = (ROOT / "kb" / "knowledge_base.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 250
    tree = ast.parse(source)
    heavy = [f"{node.name}: {len(node.body)} statements" for node in ast.walk(tree)
             if isinstance(node, ast.FunctionDef) and node.name != "__init__"  # wiring, not work
             and len([s for s in node.body if not isinstance(s, ast.Expr)]) > 3]
    assert not heavy, "facade methods doing work instead of delegating: " + ", ".join(heavy)
    assert "execute(" not in source, "SQL in the facade: move it to kb/storage/"
