"""Imports run one way: each part of dataprep imports only itself and the layers below it
(docs/DESIGN.md, "Module map").  Every import statement of every module is checked, the ones
inside functions included; imports needed only by type checkers (``if TYPE_CHECKING:``) are not
imports at run time and are left out."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

#: layer of each part, lowest first: a part may import its own modules and any lower layer
LAYERS = {
    "dataprep.pandas_deferral": 0, "dataprep.sorted_unique": 0,
    "dataprep.schema": 1,
    "dataprep.io": 2,
    "dataprep.text": 3, "dataprep.transform": 3,
    "dataprep.config": 4,
    "dataprep.report": 5,
    "dataprep.engine": 6,
    "dataprep.dedup": 7, "dataprep.train": 7,
    "dataprep.transforms": 8,
    "dataprep.cli": 9,
}
FACADES = {"dataprep", "dataprep.loader"}  # the public API re-exports; nothing inside may import them
SOURCES = {"dataprep": REPO / "dataprep", "dataprep.transforms": REPO / "transforms", "dataprep.cli": REPO / "cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def part_of(module: str) -> str | None:
    """The part (a key of LAYERS or FACADES) a dataprep module belongs to; None outside dataprep."""
    if module in FACADES:
        return module
    for part in sorted(LAYERS, key=len, reverse=True):
        if module == part or module.startswith(part + "."):
            return part
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every run-time import of dataprep modules in ``tree``."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "dataprep")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "dataprep":
            if node.module == "dataprep":  # `from dataprep import removals` names a module, `Pipeline` the facade
                found.extend((node.lineno, f"dataprep.{a.name}" if part_of(f"dataprep.{a.name}") else "dataprep")
                             for a in node.names)
            else:
                found.append((node.lineno, node.module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def test_every_module_belongs_to_a_layer() -> None:
    modules = _modules()
    assert len(modules) > 60
    unplaced = [m for m in modules if part_of(m) is None]
    assert not unplaced, f"give these modules a layer in LAYERS (and in docs/DESIGN.md): {unplaced}"


def test_imports_run_one_way() -> None:
    wrong = []
    for module, path in _modules().items():
        source = part_of(module)
        if source in FACADES:
            continue
        for line, target in imported(ast.parse(path.read_text(), str(path))):
            goal = part_of(target)
            if goal is None:
                wrong.append(f"{path.relative_to(REPO)}:{line}: {target} is no module of dataprep")
            elif goal in FACADES:
                wrong.append(f"{path.relative_to(REPO)}:{line}: imports the public facade {target}; import the module")
            elif goal != source and LAYERS[goal] >= LAYERS[source]:
                wrong.append(f"{path.relative_to(REPO)}:{line}: {source} (layer {LAYERS[source]}) imports {target} "
                             f"(layer {LAYERS[goal]})")
    assert not wrong, "imports against the layering of docs/DESIGN.md:\n" + "\n".join(wrong)


def test_the_checker_sees_imports_inside_functions_and_skips_type_checking_blocks() -> None:
    tree = ast.parse("from __future__ import annotations\nfrom typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    from dataprep.engine.summaries import Summaries\n"
                     "def f():\n    from dataprep.cli.main import main\n    from dataprep import text, Pipeline\n")
    assert imported(tree) == [(6, "dataprep.cli.main"), (7, "dataprep.text"), (7, "dataprep")]


def test_the_package_exports_its_public_names_lazily() -> None:
    import subprocess
    import sys

    code = ("import sys, dataprep; light = not {'dask', 'distributed', 'pydantic', 'pyarrow'} & set(sys.modules); "
            "from dataprep import Pipeline, Transform, RecipeError; "
            "print(light, sorted(dataprep.__all__) == sorted(dataprep._EXPORTS), "
            "all(getattr(dataprep, n) is not None for n in dataprep.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.split() == ["True", "True", "True"], out.stdout + out.stderr
