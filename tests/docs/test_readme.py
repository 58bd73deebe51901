"""The README's stage table is checked against the code, like the generated recipe reference:
every built-in stage has a row, every row is a built-in stage, and each row names every one of
the stage's parameters."""

from __future__ import annotations

import re

from dataprep.config.registry import BUILTINS, resolve_stage
from tests.conftest import REPO


def stage_rows() -> dict[str, str]:
    """Built-in stage name -> the parameters cell of its README row."""
    text = (REPO / "README.md").read_text()
    table = text[text.index("Built-in stages"):]
    table = table[: table.index("\n\n", table.index("| stage |"))]
    rows = {}
    for line in table.splitlines():
        m = re.match(r"\| `([a-z_]+)` \| (.*?) \| (.*?) \| (.*?) \|$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_every_builtin_stage_has_a_readme_row_and_no_other() -> None:
    rows = stage_rows()
    assert sorted(rows) == sorted(BUILTINS), "README's stage table and dataprep/config/registry.py BUILTINS differ"


def test_each_row_names_every_parameter_of_its_stage() -> None:
    missing = {}
    for name, cell in stage_rows().items():
        params = resolve_stage(name).Params.model_fields
        absent = [p for p in params if f"`{p}`" not in cell and not _prefix_covered(p, cell)]
        if absent:
            missing[name] = absent
    assert not missing, f"README stage table: parameters not named in their row: {missing}"


def _prefix_covered(param: str, cell: str) -> bool:
    """`*_placeholder` in a row names every parameter ending so (pii's three placeholders)."""
    return any(param.endswith(p[1:]) for p in re.findall(r"`(\*[a-z_]+)`", cell))
