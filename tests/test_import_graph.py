"""The import graph of the project: no cycles, no arrows from a lower floor to a higher one,
and function-level imports only for optional or heavy dependencies.

Floors, lowest first: ``envs`` (numpy and gymnasium only), ``trm_rl`` (the library),
``baselines`` (names re-exported for users), ``experiments`` (studies, plots and the ``trm-rl``
command line). A module may import its own floor and those below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("envs", "trm_rl", "baselines", "experiments")
FLOOR = {name: i for i, name in enumerate(PACKAGES)}
#: Modules a function may import lazily: optional extras and heavy dependencies that most
#: callers never need (``torch`` only inside ``envs``, which must not import it at load time).
LAZY_OK = {
    "envs": ("torch",),
    "trm_rl": ("ray", "matplotlib", "wandb"),
    "baselines": ("ray", "matplotlib"),
    "experiments": ("ray", "matplotlib", "wandb", "rliable", "optuna"),
}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import of ``name`` loads (the longest known prefix)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def _imports(path: Path, module: str) -> list[tuple[str, int, bool]]:
    """``(imported name, line, at module level)`` for every import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            top.add(id(node))
        elif isinstance(node, ast.If | ast.Try):  # TYPE_CHECKING blocks, guarded imports
            top.update(id(n) for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append(
                    (full if _resolve(full) == full else base, node.lineno, id(node) in top)
                )
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, _, at_top in _imports(path, module):
            target = _resolve(name)
            if target is not None and target != module and at_top:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_the_project() -> None:
    graph = _graph()
    assert len(MODULES) > 60
    assert "trm_rl.model.trm" in graph["trm_rl.model"]
    assert "experiments.sweep" in graph["experiments.cli"]


def test_no_import_cycles() -> None:
    # Package __init__ files re-export their modules: a module importing a sibling through
    # the package would close a loop, so they count like any module.
    cycles = _cycles(_graph())
    assert cycles == [], f"import cycles: {cycles}"


def test_no_arrow_from_a_lower_floor_to_a_higher_one() -> None:
    wrong = []
    for module, path in MODULES.items():
        floor = FLOOR[module.split(".")[0]]
        for name, line, _ in _imports(path, module):
            target = _resolve(name)
            if target is not None and FLOOR[target.split(".")[0]] > floor:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == [], "imports from a lower floor to a higher one:\n" + "\n".join(wrong)


def test_function_level_imports_only_for_optional_dependencies() -> None:
    hidden = []
    for module, path in MODULES.items():
        allowed = LAZY_OK[module.split(".")[0]]
        for name, line, at_top in _imports(path, module):
            if at_top or name.split(".")[0] in allowed:
                continue
            hidden.append(f"{path.relative_to(ROOT)}:{line} imports {name} inside a function")
    assert hidden == [], "function-level imports:\n" + "\n".join(hidden)


def test_envs_import_neither_torch_nor_sb3_at_load_time() -> None:
    for module, path in MODULES.items():
        if not module.startswith("envs"):
            continue
        for name, line, at_top in _imports(path, module):
            root = name.split(".")[0]
            if at_top:
                assert root not in ("torch", "stable_baselines3", "sb3_contrib"), (
                    f"{path.relative_to(ROOT)}:{line} imports {name} at load time"
                )


@pytest.mark.parametrize(
    ("graph", "expected"),
    [({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]), ({"a": {"b"}, "b": set()}, [])],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list) -> None:
    assert _cycles(graph) == expected
