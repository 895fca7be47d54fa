"""The layout's rules that the import contract (`lint-imports`, pyproject's `[tool.importlinter]`)
does not state: no import circle between modules, and no private name imported across modules.

Every import counts: at module level, inside functions, and type-only ones under
`if TYPE_CHECKING:`, since a type-only import is a design dependency all the same.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters")


def modules() -> dict[str, Path]:
    """Every module of the project's packages by its dotted name (a package by its own)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[dotted.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> Iterator[tuple[str, str, int]]:
    """(module imported, name taken from it or "", line) for each project import in `path`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in known:  # `from bot.store import rows`: the module itself
                    yield submodule, "", node.lineno
                else:
                    yield node.module, alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    yield alias.name, "", node.lineno


def graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {target for target, _, _ in imports(path, known) if target in known} - {name}
        for name, path in known.items()
    }


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_every_kind_of_import() -> None:
    """The walker itself: type-only and function-level imports count, a circle is found."""
    known = modules()
    outbox = {t for t, _, _ in imports(known["bot.store.sqlite.outbox"], known)}
    assert "bot.domain.deliveries" in outbox
    store_port = {t for t, _, _ in imports(known["bot.ports.store"], known)}
    assert "bot.domain.series_state" in store_port  # imported only under TYPE_CHECKING
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_back_through_others() -> None:
    found = circles(graph())
    assert found == [], "import circles: " + "; ".join(" <-> ".join(c) for c in found)


@pytest.mark.slow
def test_no_private_name_is_imported_from_another_module() -> None:
    known = modules()
    crossing = [
        f"{path.relative_to(ROOT)}:{line}: {name} from {target}"
        for module, path in known.items()
        for target, name, line in imports(path, known)
        if name.startswith("_") and target != module
    ]
    assert crossing == []


MAX_LINES = 400  # a module a newcomer reads in one sitting (DESIGN.md "Layout")


def test_no_module_is_over_its_length() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for package in ("bot", "adapters")
        for path in sorted((ROOT / package).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines, to split: {long}"
