"""Recipe validation: every broken recipe fails before work with file, line, key path and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataprep.config.errors import RecipeError
from dataprep.config.recipe import load_recipe
from tests.conftest import REPO, SAMPLE_WEB, run_cli

GOOD = f"""\
name: t
input:
  path: {SAMPLE_WEB}/en/*.html
  format: html
output:
  path: out/t
stages:
  - extract: {{}}
  - langid: {{keep: [en], min_score: 0.5}}
"""

# (name, recipe text, substrings the message must contain)
BROKEN = [
    ("unknown stage", GOOD.replace("- extract: {}", "- extrakt: {}"),
     ["stages.0.extrakt", "unknown stage 'extrakt'", "did you mean 'extract'", ":8:"]),
    ("misspelled top-level key", GOOD.replace("output:", "outptu:"),
     ["outptu", "unknown key", "did you mean 'output'", "output: required key is missing", ":5:"]),
    ("misspelled stage parameter", GOOD.replace("min_score", "min_scor"),
     ["stages.1.langid.min_scor", "did you mean 'min_score'", "allowed keys: keep, min_score, model, max_chars",
      ":9:"]),
    ("wrong type", GOOD + "executor:\n  workers: two\n",
     ["executor.workers", "valid integer", "'two'", ":11:"]),
    ("value out of range", GOOD.replace("min_score: 0.5", "min_score: 1.5"),
     ["stages.1.langid.min_score", "less than or equal to 1"]),
    ("missing input files", GOOD.replace(f"{SAMPLE_WEB}/en/*.html", "/nonexistent/dir/*.html"),
     ["input.path", "no input files match '/nonexistent/dir/*.html'", ":3:"]),
    ("bad input format", GOOD.replace("format: html", "format: pdf"),
     ["input.format", "'html', 'warc', 'jsonl', 'parquet' or 'text'"]),
    ("invalid YAML", GOOD.replace("stages:", "stages: [\n"), ["not valid YAML"]),
    ("stage is not a one-key mapping", GOOD.replace("- extract: {}", "- {extract: {}, langid: {}}"),
     ["stages.0", "one-key mapping"]),
    ("user stage module missing", GOOD.replace("- extract: {}", "- no_such_pkg.mod:Thing: {}"),
     ["stages.0.no_such_pkg.mod:Thing", "cannot import module 'no_such_pkg.mod'"]),
    ("user stage is not a Transform", GOOD.replace("- extract: {}", "- os.path:join: {}"),
     ["not a dataprep Transform"]),
    ("bad scheduler address", GOOD + "executor:\n  scheduler: 8786\n",
     ["executor.scheduler", "tcp://127.0.0.1:8786"]),
    ("parameters not a mapping", GOOD.replace("- extract: {}", "- extract: resiliparse"),
     ["stages.0.extract", "parameters must be a mapping"]),
    ("missing name", GOOD.replace("name: t\n", ""), ["name: required key is missing"]),
    ("bad engine choice", GOOD.replace("- extract: {}", "- extract: {engine: readability}"),
     ["stages.0.extract.engine", "'resiliparse' or 'trafilatura'"]),
]


@pytest.mark.parametrize("case,text,expected", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_recipe_message(tmp_path: Path, case: str, text: str, expected: list[str]):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert str(path) in message
    for part in expected:
        assert part in message, f"{case}: {part!r} not in:\n{message}"


def test_every_problem_is_reported_at_once(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text(GOOD.replace("- extract: {}", "- extrakt: {}").replace("min_score", "min_scor"))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert len(info.value.problems) == 2


def test_set_overrides_values_and_reports_bad_paths(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text(GOOD)
    recipe = load_recipe(path, ["stages.1.langid.min_score=0.25", "executor.workers=3", "seed=7"])
    assert recipe.stages[1].params.min_score == 0.25
    assert recipe.executor.workers == 3 and recipe.seed == 7
    with pytest.raises(RecipeError, match=r"--set stages.9.langid.min_score: no such list position"):
        load_recipe(path, ["stages.9.langid.min_score=0.2"])
    with pytest.raises(RecipeError, match="expected KEY=VALUE"):
        load_recipe(path, ["stages.1.langid.min_score"])
    with pytest.raises(RecipeError, match="less than or equal to 1"):
        load_recipe(path, ["stages.1.langid.min_score=3"])


def test_resolved_recipe_fills_defaults(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text(GOOD)
    resolved = load_recipe(path).resolved()
    assert resolved["executor"]["scheduler"] == "local"
    assert resolved["stages"][0] == {"extract": {"engine": "resiliparse", "main_content": True, "min_chars": 1,
                                                 "links": False, "deduplicate": False, "max_depth": 10_000,
                                                 "timeout_s": 5.0}}


def test_recipe_file_missing():
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe("/no/such/recipe.yaml")


def test_cli_validate_exit_codes(tmp_path: Path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    res = run_cli("validate", str(good))
    assert res.returncode == 0, res.stderr
    assert "ok" in res.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("min_score", "min_scor"))
    res = run_cli("validate", str(bad))
    assert res.returncode == 2
    assert "stages.1.langid.min_scor" in res.stderr and "Traceback" not in res.stderr


def test_bundled_recipes_validate():
    for recipe in sorted((REPO / "recipes").glob("*.yaml")):
        res = run_cli("validate", str(recipe))
        assert res.returncode == 0, f"{recipe}: {res.stderr}"
