"""The workflow modules import each other one way: no import cycles, lazy imports included."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

GRAPHS = Path(__file__).parents[2] / "agentrun" / "graphs"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(GRAPHS.parents[1]).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module an import statement of `path` names (a function's too, not one only type
    checkers read), with `from a import b` naming `a.b` as well, since b may be a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_module_of_the_workflows_imports_itself_back() -> None:
    modules = {module_name(path): path for path in GRAPHS.rglob("*.py")}
    edges = {
        name: {
            other
            for other in imported(path) & modules.keys()
            if other != name and not name.startswith(other + ".")  # a package's own modules
        }
        for name, path in modules.items()
    }
    assert "agentrun.graphs.chain_of_agents.baselines" in edges
    graphlib.TopologicalSorter(edges).prepare()  # raises CycleError naming the cycle
