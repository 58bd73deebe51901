"""dataprep: composable, deterministic web-data preparation on Dask over Parquet shards.

Public API::

    from dataprep import Pipeline, Transform, Map, Filter, GlobalTransform, document_transform, Drop
    Pipeline.load("recipes/quickstart.yaml").run(overwrite=True)
"""

from dataprep.pipeline import LedgerError, OutputError, OutputExistsError, Pipeline, RunError, RunResult, run_recipe
from dataprep.recipe import Recipe, RecipeError, load_recipe
from dataprep.transform import (
    Drop,
    Filter,
    GlobalTransform,
    Map,
    Params,
    StageOutput,
    Summaries,
    Transform,
    document_transform,
    set_columns,
    split_by_reason,
)

__version__ = "0.1.0"

__all__ = [
    "Pipeline", "RunResult", "run_recipe", "Recipe", "RecipeError", "load_recipe",
    "Transform", "Map", "Filter", "GlobalTransform", "Params", "StageOutput", "Summaries", "Drop", "document_transform",
    "set_columns", "split_by_reason", "LedgerError", "OutputError", "OutputExistsError", "RunError",
]
