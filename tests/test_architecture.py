"""The layout's promises: no import circles (imports inside functions and lazy package exports
included), each layer imports only the layers below it, and the machine imports nothing from
the tasks or training layers."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "nativeagent"

#: Layers from the bottom up; a module may import its own layer and the layers before it.
LAYERS: list[set[str]] = [
    {"_lazy", "errors", "fileio", "rundir", "runlock", "stats"},
    {"machine"},
    {"tokens"},
    {"tasks"},
    {"models"},
    {"rollout"},
    {"algos"},
    {"config"},
    {"build"},
    {"training", "envs"},
    {"agent", "integrations"},  # the Python API; reasoning-gym and TRL
    {"hub"},
    {"analysis"},
    {"experiments"},
    {"cli"},
    {"", "__main__"},  # the package itself (nativeagent/__init__.py) and python -m nativeagent
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    """Every nativeagent module ``name`` imports: at the top, inside functions, or lazily
    through ``lazy_exports`` (a package's names that load on first use)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # a submodule, else a name defined in the module
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports":
            exports = node.args[1]
            assert isinstance(exports, ast.Dict)
            found |= {f"{package}.{v.value}" for v in exports.values if isinstance(v, ast.Constant)}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def component(module: str) -> str:
    """The layer a module belongs to: its first part below ``nativeagent``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if component(module) in names)


def test_every_module_has_a_layer() -> None:
    assert {component(m) for m in MODULES} <= set().union(*LAYERS)


def test_no_import_circles_between_modules() -> None:
    graphlib.TopologicalSorter(GRAPH).prepare()  # raises CycleError naming the circle


def test_no_import_circles_between_layers() -> None:
    layers: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        layers.setdefault(component(module), set()).update(
            component(d) for d in deps if component(d) != component(module)
        )
    graphlib.TopologicalSorter(layers).prepare()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_only_its_layer_and_those_below(module: str) -> None:
    above = sorted(d for d in GRAPH[module] if layer(d) > layer(module))
    assert not above, f"{module} imports {above} from a higher layer"


def test_the_machine_imports_nothing_from_tasks_or_training() -> None:
    for module, deps in GRAPH.items():
        if component(module) == "machine":
            assert {component(d) for d in deps} <= {"machine", "_lazy"}, module


@pytest.mark.parametrize("layer_name", ["models", "algos", "machine", "tasks"])
def test_lower_layers_never_read_the_configuration(layer_name: str) -> None:
    for module, deps in GRAPH.items():
        if component(module) == layer_name:
            assert not {"nativeagent.config", "nativeagent.build"} & deps, module


def test_the_graph_sees_function_level_and_lazy_imports() -> None:
    """The checks above would be empty promises if the parser missed such imports."""
    assert "nativeagent.training.train" in GRAPH["nativeagent.cli.train"]  # inside a function
    assert "nativeagent.machine.batched" in GRAPH["nativeagent.machine"]  # a lazy export
    assert "nativeagent.tasks.execution" in GRAPH["nativeagent"]
