"""The shape of the imports, as evidence a reviewer can run (issue 13, section 2): no module of
``server/`` reaches itself again through its imports (an import loop makes the order modules are
imported in matter, and hides which module depends on which), and ``sync/`` (the engine) knows
neither Litestar nor ``server/``. The graph is read from the source with ``ast``: every
``import`` and ``from … import``, those inside functions too (a deferred import hides a loop; it
does not remove it)."""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> dict[str, Path]:
    """Dotted module name → file, for every module of ``package`` (a package is its
    ``__init__``)."""
    found: dict[str, Path] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(path: Path, name: str, is_package: bool, modules: Collection[str] = ()) -> set[str]:
    """Every module name ``path`` imports, absolute. ``from a import b`` names ``a.b`` when that
    is one of ``modules`` (a package's module, e.g. ``from server.admin import writes``), else
    ``a`` (a name ``a`` defines)."""
    names: set[str] = set()
    here = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                names.add(full if full in modules else base)
    return names


def _graph(package: str) -> dict[str, set[str]]:
    modules = _modules(package)
    return {
        name: {
            other
            for other in _imported(path, name, path.name == "__init__.py", modules)
            if other in modules and other != name
        }
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_loop_and_only_a_loop() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_server_has_no_import_loop() -> None:
    graph = _graph("server")
    assert "server.app" in graph and "server.admin" in graph["server.app"]
    assert _cycles(graph) == []


def test_sync_imports_neither_litestar_nor_server() -> None:
    for name, path in _modules("sync").items():
        imported = _imported(path, name, path.name == "__init__.py")
        outside = sorted(i for i in imported if i.split(".")[0] in {"litestar", "server"})
        assert outside == [], (name, outside)


def test_the_command_line_is_a_leaf_and_pages_do_not_lean_on_it() -> None:
    """``server.cli`` is imported only by ``server.__main__``: the staff users page and the
    command line share ``server.auth.accounts``, not each other. Nothing the app serves
    imports ``server.console`` (the command line's errors and database opening) directly."""
    graph = _graph("server")
    importers = sorted(name for name, imported in graph.items() if "server.cli" in imported)
    assert importers == ["server.__main__"]
    web = [n for n in graph if n.startswith(("server.admin", "server.auth")) or n in _SERVED]
    assert sorted(n for n in web if "server.console" in graph[n]) == []
    assert "server.auth.accounts" in graph["server.admin.users"]
    assert "server.auth.accounts" in graph["server.cli"]


_SERVED = {"server.app", "server.pages", "server.sync_api", "server.deps", "server.errors"}
