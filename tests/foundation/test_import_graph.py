"""zoo's layers: each part imports only from the layers below it, and no module imports in a circle.

Imports inside functions count. Imports under ``if TYPE_CHECKING:`` never run: they count for circles
but not for the layer rule. ``python -m tests.foundation.test_import_graph`` prints the figures.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import zoo

ROOT = Path(zoo.__file__).parent

# From the bottom up. A module belongs to the longest part that prefixes its name; it may import its
# own part and the parts of lower layers, never a part of its own layer or above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("zoo.errors",),
    ("zoo.ops", "zoo.folders"),  # tensor maths of one SR call; the safety promises of docs/security.md
    ("zoo.utils",),  # plumbing that knows nothing of SR (console holds the output locks of a run)
    ("zoo.cards",),
    ("zoo.registry", "zoo.samplers", "zoo.assets"),
    ("zoo.weights", "zoo.denoisers"),
    ("zoo.autoencoders",),
    ("zoo.factory",),
    ("zoo.backends",),
    ("zoo.data", "zoo.pipeline"),  # side by side: the pipeline never imports zoo.data, nor data the pipeline
    ("zoo.evaluate", "zoo.testing"),
    ("zoo.bench", "zoo.train", "zoo.app"),  # zoo.app: the `zoo view` page
    ("zoo.cli",),
    ("zoo", "zoo.__main__", "zoo.atomic", "zoo.output_guard", "zoo.sr_files"),  # the face, -m, deprecated shims
)
MAX_ROOT_MODULES = 8  # zoo/*.py besides __init__ and __main__


def _module(path: Path, root: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(nodes: Iterable[ast.AST], typing_too: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``nodes``; those under ``if TYPE_CHECKING:`` only when ``typing_too``."""
    for node in nodes:
        if not typing_too and _is_type_checking(node):
            yield from _imports(node.orelse, typing_too)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(ast.iter_child_nodes(node), typing_too)


def import_graph(root: Path = ROOT, typing_too: bool = True) -> dict[str, set[str]]:
    """Module -> the modules of the package at ``root`` it imports (a package's ``__init__`` only when
    imported by name)."""
    files = {_module(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports([ast.parse(path.read_text())], typing_too):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target not in (name, root.name):
                    graph[name].add(target)
                    break
    return graph


def layer_of(module: str, layers: tuple[tuple[str, ...], ...] = LAYERS) -> tuple[int, str] | None:
    """``(layer index, part)`` of ``module``: the longest part naming it or a package above it."""
    found = [(len(part), i, part) for i, parts in enumerate(layers) for part in parts
             if module == part or module.startswith(part + ".")]
    if not found:
        return None
    _, index, part = max(found)
    return index, part


def imports_running_up(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[str]:
    """One line per import that does not run down to a lower layer (nor stay inside its own part)."""
    offences = []
    for name in sorted(graph):
        here = layer_of(name, layers)
        for target in sorted(graph[name]):
            there = layer_of(target, layers)
            if here is None or there is None or there[1] == here[1] or there[0] < here[0]:
                continue
            where = "its own layer" if there[0] == here[0] else "a layer above"
            offences.append(f"{name} (layer {here[0] + 1}, {here[1]}) imports {target} "
                            f"(layer {there[0] + 1}, {there[1]}): {where}")
    return offences


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """Floor of each module: 1 when it imports nothing of zoo, else one above the highest it imports."""
    floor: dict[str, int] = {}

    def visit(name: str) -> int:
        if name not in floor:
            floor[name] = 0  # a circle (which test_no_import_circle_in_zoo rules out) stops here
            floor[name] = 1 + max((visit(t) for t in graph[name]), default=0)
        return floor[name]

    for name in graph:
        visit(name)
    return floor


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def figures(root: Path = ROOT) -> dict[str, int]:
    """Modules, floors, import arrows and arrows running up a layer of the package at ``root``."""
    graph = import_graph(root)
    return {
        "modules": len(graph),
        "floors": max(floors(graph).values()),
        "arrows": sum(len(targets) for targets in graph.values()),
        "arrows running up a layer": len(imports_running_up(import_graph(root, typing_too=False))),
        "root modules": len(_root_modules(root)),
    }


def _root_modules(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("*.py") if p.name not in ("__init__.py", "__main__.py"))


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / "zoo"


def test_the_graph_sees_function_level_imports() -> None:
    graph = import_graph()
    assert "zoo.pipeline.saved" in graph["zoo.pipeline.sr_pipeline"]  # imported inside SRPipeline.save_pretrained
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_in_zoo() -> None:
    assert circles(import_graph()) == []


def test_every_module_has_a_layer() -> None:
    assert [name for name in import_graph() if layer_of(name) is None] == []


def test_no_import_runs_up_a_layer() -> None:
    assert imports_running_up(import_graph(typing_too=False)) == []


def test_zoo_root_holds_at_most_8_modules() -> None:
    assert len(_root_modules(ROOT)) <= MAX_ROOT_MODULES, _root_modules(ROOT)


def test_the_layer_rule_names_an_import_running_up(tmp_path: Path) -> None:
    """A tiny package laid out like zoo: ops importing the pipeline (in a function) is named; a type-only
    import of it, and the pipeline importing ops, are not."""
    root = _write(tmp_path, {
        "zoo/__init__.py": "",
        "zoo/errors.py": "",
        "zoo/ops/__init__.py": "",
        "zoo/ops/tiles.py": "def plan():\n    from zoo.pipeline.sr_pipeline import SRPipeline\n    return SRPipeline\n",
        "zoo/ops/hints.py": "import typing\nif typing.TYPE_CHECKING:\n    from zoo.pipeline import sr_pipeline\n",
        "zoo/pipeline/__init__.py": "",
        "zoo/pipeline/sr_pipeline.py": "from zoo.errors import *\nfrom ..ops import tiles\nclass SRPipeline: ...\n",
    })
    assert imports_running_up(import_graph(root, typing_too=False)) == [
        "zoo.ops.tiles (layer 2, zoo.ops) imports zoo.pipeline.sr_pipeline (layer 10, zoo.pipeline): a layer above"
    ]


def test_the_layer_rule_names_an_import_within_one_layer(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "zoo/__init__.py": "",
        "zoo/data/__init__.py": "",
        "zoo/data/readers.py": "",
        "zoo/pipeline/__init__.py": "",
        "zoo/pipeline/build.py": "import zoo.data.readers\n",
    })
    assert imports_running_up(import_graph(root)) == [
        "zoo.pipeline.build (layer 10, zoo.pipeline) imports zoo.data.readers (layer 10, zoo.data): its own layer"
    ]


if __name__ == "__main__":
    for label, value in figures().items():
        print(f"{label}: {value}")
