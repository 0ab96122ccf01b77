"""The package's shape stays as designed: no import cycle between its modules, no function over 80 lines,
and no module citing a document that is not in the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "n2n_raw"
ROOT = PACKAGE.parent
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Package modules ``path`` imports, at module level or inside functions (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("n2n_raw")}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if target.startswith("n2n_raw"):
                if node.module:  # `from . import x` imports the module x, not the package's own code
                    found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_the_cycle_check_sees_relative_imports():
    # n2n_raw.train imports n2n_raw.checkpoint as `from . import checkpoint as ckpt`.
    assert "n2n_raw.checkpoint" in graph()["n2n_raw.train"]


def test_no_function_longer_than_80_lines():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_cited_documents_are_in_the_repository():
    """The reference documents are cited by their path in the repository (docs/method.md, docs/sidd.md)."""
    assert (ROOT / "docs/method.md").is_file() and (ROOT / "docs/sidd.md").is_file()
    bare = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "tests").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]):
        for k, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"(?<![/\w])(method|sidd|style)\.md", line):
                bare.append(f"{path.relative_to(ROOT)}:{k}")
    assert not bare, f"cite docs/method.md or docs/sidd.md: {bare}"
