"""The package's import structure: no module imports, at import time, a module that imports it.

Imports are read from the source with `ast`, not executed. An import at the top of a module
(outside `if TYPE_CHECKING:`) runs when the module loads, so a cycle of them makes the load
order matter; an import inside a function runs when it is called, which is how a module may
defer a heavy or optional dependency. Cycles closed only by such deferred imports are reported
(run with `-s` to see them) but allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import edgegap

SOURCE = Path(edgegap.__file__).parent
Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it runs at load time (module level)."""

    def visit(
        nodes: list[ast.stmt], top: bool
    ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, top
            elif isinstance(node, ast.If) and top and _is_type_checking(node):
                yield from visit(node.orelse, top)  # the body never runs
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from visit(node.body, False)
            else:
                children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
                yield from visit(children, top)

    yield from visit(tree.body, True)


def _targets(node: ast.Import | ast.ImportFrom, importer: str) -> Iterator[str]:
    """The package modules an import statement loads (a submodule where one is named)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative to the importer's package
        parts = importer.split(".")
        if MODULES[importer].name != "__init__.py":
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, base] if base else parts)
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in MODULES else base


def import_graphs() -> tuple[Graph, Graph]:
    """(load-time edges, deferred edges) between the package's modules."""
    load: Graph = {name: set() for name in MODULES}
    deferred: Graph = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, top in _imports(tree):
            for target in _targets(node, name):
                if target in MODULES and target != name:
                    (load if top else deferred)[name].add(target)
    return load, deferred


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle of the graph as a closed path of modules, or None if it is acyclic."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := walk(target)) is not None:
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)) is not None:
            return cycle
    return None


def cycles_through_deferred(load: Graph, deferred: Graph) -> list[list[str]]:
    """For each deferred import a -> b that closes a cycle, the shortest such cycle."""
    combined = {name: load[name] | deferred[name] for name in load}
    found = []
    for source in sorted(deferred):
        for target in sorted(deferred[source]):
            # the shortest path target -> source, over all edges, closes the cycle
            previous: dict[str, str | None] = {target: None}
            frontier = [target]
            while frontier and source not in previous:
                reached = []
                for node in frontier:
                    for nxt in sorted(combined[node] - previous.keys()):
                        previous[nxt] = node
                        reached.append(nxt)
                frontier = reached
            if source in previous:
                chain: list[str] = []
                node: str | None = source
                while node is not None:
                    chain.append(node)
                    node = previous[node]
                found.append([source, *reversed(chain)])
    return found


def test_the_graph_sees_the_package():
    load, deferred = import_graphs()
    assert "edgegap.workload.shapes" in load["edgegap.workload.onnx_reader"]
    assert "edgegap.workload.shapes" in load["edgegap.workload.profile"]
    assert "edgegap.workload.onnx_reader" in deferred["edgegap.workload.profile"]


def test_no_import_cycles():
    load, deferred = import_graphs()
    cycle = find_cycle(load)
    assert cycle is None, "import cycle at load time: " + " -> ".join(cycle or [])
    for found in cycles_through_deferred(load, deferred):
        print("cycle through a function-level import:", " -> ".join(found))


def test_no_cycles_even_through_deferred_imports():
    load, deferred = import_graphs()
    combined = {name: load[name] | deferred[name] for name in load}
    cycle = find_cycle(combined)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# The flow, as docs/architecture.md draws it: a stage imports only stages of a lower rank.
STAGE_RANKS = {
    "errors": -1,
    "precision": 0, "pareto": 0, "atomic": 0, "host": 0, "plotting": 0,
    "workload": 1, "runner": 1,
    "loopback_cluster": 2,
    "hardware": 2, "training": 2, "edgegap": 2,  # edgegap: the package's own __init__
    "trends": 3, "techniques": 3,
    "measure": 3,
    "compress": 4, "bridges": 4, "plan": 4, "calibrate": 4,
    "report": 5,
    "cli": 6,
    "__main__": 7,
}  # fmt: skip


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_stages_import_only_the_stages_before_them():
    load, deferred = import_graphs()
    wrong = sorted(
        f"{source} -> {target}"
        for graph in (load, deferred)
        for source, targets in graph.items()
        for target in targets
        if stage_of(source) != stage_of(target)
        and STAGE_RANKS[stage_of(target)] >= STAGE_RANKS[stage_of(source)]
    )
    assert not wrong, "imports against the flow: " + ", ".join(wrong)
    assert set(map(stage_of, load)) <= set(STAGE_RANKS)  # every stage has a rank
