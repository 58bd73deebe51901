"""dataprep: composable, deterministic web-data preparation on Dask over Parquet shards.

Public API::

    from dataprep import Pipeline, Transform, Map, Filter, GlobalTransform, document_transform, Drop
    Pipeline.load("recipes/quickstart.yaml").run(overwrite=True)

The package is layered (docs/DESIGN.md has the map): ``transform`` is the stage contract,
``config`` reads recipes, ``engine`` runs them on Dask, ``io`` reads and writes files, ``text``
and ``dedup`` hold the vectorised algorithms, ``report`` shows what a run did, ``train`` is the
trainer; the built-in stages are ``dataprep.transforms`` and the command is ``dataprep.cli``.
"""

from dataprep.config.errors import ConfigError, RecipeError
from dataprep.config.recipe import Recipe, load_recipe
from dataprep.engine.errors import RunError, StageError
from dataprep.engine.executor import ExecutorError
from dataprep.engine.ledger import LedgerError
from dataprep.engine.output_folder import OutputError, OutputExistsError
from dataprep.engine.pipeline import Pipeline, RunResult, run_recipe
from dataprep.engine.summaries import Summaries
from dataprep.transform import (
    Drop,
    Filter,
    GlobalTransform,
    Map,
    MissingRequirementError,
    Params,
    ShardSink,
    StageOutput,
    Transform,
    document_transform,
    set_columns,
    split_by_reason,
)

__version__ = "0.1.0"

__all__ = [
    "Pipeline", "RunResult", "run_recipe", "Recipe", "RecipeError", "ConfigError", "load_recipe",
    "Transform", "Map", "Filter", "GlobalTransform", "Params", "StageOutput", "ShardSink", "Summaries", "Drop",
    "document_transform", "set_columns", "split_by_reason", "MissingRequirementError",
    "LedgerError", "OutputError", "OutputExistsError", "RunError", "StageError", "ExecutorError",
]
