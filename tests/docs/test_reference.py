"""docs/recipe-reference.md is generated from the recipe models; it must match the code."""

from __future__ import annotations

from dataprep.config.reference import generate
from dataprep.config.registry import BUILTINS, resolve_stage
from tests.conftest import REPO


def test_recipe_reference_is_up_to_date() -> None:
    committed = (REPO / "docs" / "recipe-reference.md").read_text()
    assert committed == generate(), (
        "docs/recipe-reference.md is out of date: run `python -m dataprep.config.reference > docs/recipe-reference.md`")


def test_reference_covers_every_stage_and_parameter() -> None:
    text = generate()
    for name in BUILTINS:
        assert f"### `{name}`" in text
        for key, field in resolve_stage(name).Params.model_fields.items():
            assert f"| `{key}` |" in text, f"{name}.{key}"
            assert field.description, f"{name}.{key} has no description: the reference would not say what it means"
    assert "| `pipeline.schedule` |" in text and "| `input.max_document_size` |" not in text  # keys are per section
