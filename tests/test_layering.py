"""The package's layers import only downward, read from the source with `ast`.

docs/architecture.md draws these layers; this test keeps the folders honest. Imports
under ``if TYPE_CHECKING:`` are annotations only and do not count. A function-level
import counts like any other, except for the few public conveniences listed in
`CONVENIENCES`, which reach up on purpose and say so where they do.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_fragility"

# Lowest first. A module may import its own layer and the layers below it.
LAYERS = [
    {"errors", "files", "progress", "cachedir"},
    {"spec"},
    {"families"},
    {"train"},
    {"runs"},
    {"measures", "testing"},
    {"auditing", "calibration"},
    {"searching"},
    {"report"},
    {"plugin", "cli", "__main__"},
]

# (importing module, imported module): public methods that hand work to a higher layer.
CONVENIENCES = {
    ("pytest_fragility.families.family", "pytest_fragility.runs.grid"),        # Family.runs
    ("pytest_fragility.auditing.result", "pytest_fragility.report.plots"),     # AuditResult.plot
    ("pytest_fragility.auditing.result", "pytest_fragility.report.terminal"),  # AuditResult.summary
    ("pytest_fragility.auditing.result", "pytest_fragility.report.html"),      # AuditResult._repr_html_
    ("pytest_fragility.searching.result", "pytest_fragility.report.search_plots"),     # SearchResult.plot
    ("pytest_fragility.searching.result", "pytest_fragility.report.search_terminal"),  # SearchResult.summary
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit(module: str) -> str | None:
    """The top-level part of the package a module belongs to (None for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer(module: str) -> int:
    name = unit(module)
    for index, members in enumerate(LAYERS):
        if name in members:
            return index
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS and to docs/architecture.md")


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported pytest_fragility module, line) for every import that runs."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from pytest_fragility import families` imports a module
                found.append((f"{node.module}.{alias.name}" if node.module == "pytest_fragility" else node.module,
                              node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return [(name, line) for name, line in found if name.startswith("pytest_fragility.")]


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_imports_only_its_own_layer_or_below():
    upward = []
    for path in SOURCES:
        importer = module_name(path)
        for imported, line in imports(path):
            if layer(imported) > layer(importer) and (importer, imported) not in CONVENIENCES:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}")
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_packages_of_one_layer_do_not_import_each_other_in_a_cycle():
    edges = {(unit(module_name(path)), unit(imported)) for path in SOURCES for imported, _ in imports(path)
             if (module_name(path), imported) not in CONVENIENCES}
    cycles = sorted(f"{a} <-> {b}" for a, b in edges if a != b and (b, a) in edges)
    assert not cycles, f"packages that import each other: {cycles}"


def test_the_conveniences_listed_still_exist():
    """A stale entry would silently allow a new upward import."""
    present = {(module_name(path), imported) for path in SOURCES for imported, _ in imports(path)}
    assert CONVENIENCES <= present


@pytest.mark.parametrize("path", sorted((PACKAGE / "auditing").rglob("*.py")), ids=lambda p: p.name)
def test_audit_core_modules_hold_one_idea_each(path):
    assert len(path.read_text().splitlines()) <= 300, f"{path.name} grew past 300 lines: split it by idea"
