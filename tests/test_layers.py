"""The package's import graph: no cycles, and no module imports a higher layer.

Layers, lowest first (a module may import its own layer and those below)::

    0  io, metrics, niqe, tiling, colour, atomic, config    conventions and measurements
    1  models, baselines, losses                           networks
    2  data                                                datasets and degradations
    3  inference, video, the package root (mlsm.load_model ...)   the model object users get
    4  train, eval                                         experiments
    5  cli, *_cli, */cli, app, app_processing, __main__    commands and the demo

Every import counts, also those inside functions (a lazy import is still a dependency);
imports named only in strings (``importlib.import_module``) are not seen. ``from mlsm import
__version__`` is allowed anywhere: the root defines it before, and without, any import.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mlsm"

LAYERS = [
    ("mlsm.io", "mlsm.metrics", "mlsm.niqe", "mlsm.tiling", "mlsm.colour", "mlsm.atomic", "mlsm.config"),
    ("mlsm.models", "mlsm.baselines", "mlsm.losses"),
    ("mlsm.data",),
    ("mlsm.inference", "mlsm.video", "mlsm.export"),
    ("mlsm.train", "mlsm.eval"),
    ("mlsm.cli", "mlsm.__main__", "mlsm.app", "mlsm.app_processing"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path) -> set[str]:
    """The ``mlsm`` modules ``name`` imports (``from a import b`` counts as ``a.b`` when that is a
    module, else as ``a``)."""
    known = modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module == "mlsm" and not node.level and [a.name for a in node.names] == ["__version__"]:
                continue
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in known]
            found.update(subs or [target])
    return {target for target in found if target == "mlsm" or target.startswith("mlsm.")} - {name}


def layer_of(name: str) -> int:
    if name == "mlsm":
        return 3  # the package root re-exports the inference API
    if name.endswith("_cli") or name.endswith(".cli"):
        return 5
    best = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (level, len(prefix))
    assert best is not None, f"{name} is in no layer: add it to LAYERS in {__file__}"
    return best[0]


def graph() -> dict[str, set[str]]:
    return {name: imports_of(name, path) for name, path in modules().items()}


def test_every_module_has_a_layer():
    for name in modules():
        layer_of(name)


def test_no_module_imports_a_higher_layer():
    violations = [f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
                  for name, targets in graph().items() for target in sorted(targets)
                  if target in modules() and layer_of(target) > layer_of(name)]
    assert violations == []


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if target not in edges:
                continue
            # a package's __init__ importing its own submodules is not a design cycle
            if target.startswith(node + "."):
                continue
            if state.get(target) == 1:
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_checker_sees_a_back_arrow(tmp_path):
    """The checker itself: a data module importing the CLI is flagged."""
    fake = tmp_path / "mlsm" / "data"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from mlsm.cli import main\n")
    assert layer_of("mlsm.data.bad") < layer_of("mlsm.cli")
    assert "mlsm.cli" in imports_of("mlsm.data.bad", fake / "bad.py")
