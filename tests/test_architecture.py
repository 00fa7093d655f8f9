"""The package's shape holds: no import cycles, no module importing from a layer above.

The layers read as the pipeline, lowest first (README, "Layout"):

    support → language → data → pricing → engine → pipeline/loadcache
            → rating | tools | ledger → service → commands → cli

Every import counts — at the top of a module, under ``TYPE_CHECKING`` or inside a
function — so a cycle cannot hide behind a deferred import. ``policy/__init__.py`` is
the public facade (it imports lazily from everywhere) and is not part of any layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "policy"

LAYERS: dict[str, int] = {
    "support": 0,
    "language": 1,
    "data": 2,
    "pricing": 3,
    "engine": 4,
    "loadcache": 5,
    "pipeline": 6,
    "rating": 7,
    "tools": 7,
    "ledger": 7,
    "service": 8,
    "commands": 9,
    "cli": 10,
    "__main__": 11,
}
# Layers of one rank may not import one another (rating, tools, ledger are peers).
PEERS_INDEPENDENT = True


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, name: str, modules: frozenset[str] = frozenset()) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("policy"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("policy"):
                continue
            for alias in node.names:
                # `from policy.engine import evaluate` imports a module, the package's
                # __init__ only on the way; `from policy.engine.x import y`, module x.
                module = f"{target}.{alias.name}"
                found.add(module if module in modules else target)
    return found


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = frozenset(paths)
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        graph[name] = {t for t in _imports(path, name, modules) if t in paths and t != name}
    return graph


def layer_of(module: str) -> tuple[int, str] | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the facade
    top = parts[1]
    if top not in LAYERS:
        raise AssertionError(f"{module}: not in any layer — add its folder to LAYERS")
    return LAYERS[top], top


GRAPH = _graph()


def test_every_module_has_a_layer() -> None:
    for module in GRAPH:
        layer_of(module)


def test_no_module_imports_from_a_layer_above_or_a_peer() -> None:
    wrong = []
    for module, targets in sorted(GRAPH.items()):
        mine = layer_of(module)
        if mine is None:
            continue
        for target in sorted(targets):
            theirs = layer_of(target)
            if theirs is None or theirs[1] == mine[1]:
                continue
            if theirs[0] > mine[0] or (PEERS_INDEPENDENT and theirs[0] == mine[0]):
                wrong.append(f"{module} ({mine[1]}) imports {target} ({theirs[1]})")
    assert wrong == []


def test_no_import_cycles() -> None:
    # Edges into the facade are ignored: `from policy import __version__` is not a cycle.
    graph = {m: {t for t in ts if t != "policy"} for m, ts in GRAPH.items() if m != "policy"}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from policy.engine.evaluate import Engine\n", {"policy.engine.evaluate"}),
        ("def f():\n    from ..data import call\n", {"policy.data.call"}),
        ("import policy.language.ast\n", {"policy.language.ast"}),
    ],
)
def test_the_walker_sees_every_kind_of_import(
    tmp_path: Path, source: str, expected: set[str]
) -> None:
    path = tmp_path / "policy" / "tools" / "probe.py"
    path.parent.mkdir(parents=True)
    path.write_text(source, encoding="utf-8")
    modules = frozenset({"policy.data.call", "policy.engine.evaluate"})
    assert expected <= _imports(path, "policy.tools.probe", modules)


def test_the_public_surface_is_deliberate() -> None:
    import policy

    policy.load()  # imports submodules, which become attributes of the package
    assert dir(policy) == sorted([*policy.__all__, "__version__"])
    for name in policy.__all__:
        assert getattr(policy, name) is not None, name
    assert {"State", "Observation", "Engine", "Ledger", "load"} <= set(policy.__all__)


def test_imports_are_absolute_throughout() -> None:
    relative = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        relative += [
            f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level
        ]
    assert relative == []
