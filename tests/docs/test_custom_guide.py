"""docs/custom-transforms.md: its module and recipe, taken from the page, run through the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.dataset as ds
import yaml

from tests.conftest import REPO, SAMPLE_WEB, run_cli

GUIDE = REPO / "docs" / "custom-transforms.md"


def blocks(language: str, first_line: str) -> list[str]:
    found = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return [b for b in found if b.startswith(first_line)]


def test_the_guide_runs_as_written(tmp_path: Path) -> None:
    module = blocks("python", "# my_stages.py")
    assert len(module) == 4
    (tmp_path / "my_stages.py").write_text("\n\n".join(module))
    (recipe_text,) = blocks("yaml", "# my_recipe.yaml")
    recipe = yaml.safe_load(recipe_text)
    recipe["input"]["path"] = str(SAMPLE_WEB / "**" / "*.html")  # the page's path is relative to the repository
    (tmp_path / "my_recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))

    assert run_cli("validate", "my_recipe.yaml", cwd=tmp_path).returncode == 0
    result = run_cli("run", "my_recipe.yaml", "--overwrite", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out" / "my-stages"
    stats = json.loads((out / "stats.json").read_text())
    assert [s["stage"] for s in stats["stages"]] == ["extract", "my_stages:MinWords", "my_stages:Keywords",
                                                      "my_stages:tag_collection", "my_stages:DropSmallCollections"]
    assert stats["stages"][1]["removed"].get("min_words:too_few", 0) > 0
    small = stats["stages"][4]["removed"].get("small_collection", 0)
    kept = ds.dataset(str(out / "data")).to_table()
    assert {"n_words", "keyword_hits", "collection"} <= set(kept.column_names)
    assert min(kept.column("n_words").to_pylist()) >= 40
    assert max(kept.column("keyword_hits").to_pylist()) >= 1
    collections = kept.column("collection").to_pylist()
    assert all(c.startswith("sample:") for c in collections)
    assert all(collections.count(c) >= 30 for c in set(collections))  # no small collection survived
    assert small > 0  # and some were removed for it
