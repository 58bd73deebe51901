"""dataprep: composable, deterministic web-data preparation on Dask over Parquet shards.

Public API::

    from dataprep import Pipeline, Transform, Map, Filter, GlobalTransform, document_transform, Drop
    Pipeline.load("recipes/quickstart.yaml").run(overwrite=True)

The package is layered (docs/DESIGN.md has the map): ``transform`` is the stage contract,
``config`` reads recipes, ``engine`` runs them on Dask, ``io`` reads and writes files, ``text``
and ``dedup`` hold the vectorised algorithms, ``report`` shows what a run did, ``train`` is the
trainer; the built-in stages are ``dataprep.transforms`` and the command is ``dataprep.cli``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The public names, loaded on first use (PEP 562): ``import dataprep`` itself costs nothing, so
# a process that needs one small module (the extraction sandbox's child, a worker unpickling a
# function) does not import the engine, Dask and pydantic first.
_EXPORTS = {
    "ConfigError": "dataprep.config.errors", "RecipeError": "dataprep.config.errors",
    "Recipe": "dataprep.config.recipe", "load_recipe": "dataprep.config.recipe",
    "RunError": "dataprep.engine.errors", "StageError": "dataprep.engine.errors",
    "ExecutorError": "dataprep.engine.executor", "LedgerError": "dataprep.engine.ledger",
    "OutputError": "dataprep.engine.output_folder", "OutputExistsError": "dataprep.engine.output_folder",
    "Pipeline": "dataprep.engine.pipeline", "RunResult": "dataprep.engine.pipeline",
    "run_recipe": "dataprep.engine.pipeline", "Summaries": "dataprep.engine.summaries",
    **dict.fromkeys(("Drop", "Filter", "GlobalTransform", "Map", "MissingRequirementError", "Params", "ShardSink",
                     "StageOutput", "Transform", "document_transform", "set_columns", "split_by_reason"),
                    "dataprep.transform"),
}

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dataprep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__version__ = "0.1.0"

__all__ = [
    "Pipeline", "RunResult", "run_recipe", "Recipe", "RecipeError", "ConfigError", "load_recipe",
    "Transform", "Map", "Filter", "GlobalTransform", "Params", "StageOutput", "ShardSink", "Summaries", "Drop",
    "document_transform", "set_columns", "split_by_reason", "MissingRequirementError",
    "LedgerError", "OutputError", "OutputExistsError", "RunError", "StageError", "ExecutorError",
]
