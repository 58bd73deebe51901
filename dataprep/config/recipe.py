"""YAML recipe -> validated :class:`Recipe`.

Everything that can be checked before work starts is checked here, and every problem is
reported with the file, the line, the key path (``stages.1.langid.min_score``, the same path
``--set`` uses) and what is allowed.  YAML is read with the safe loader only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dataprep.config.errors import Problem, RecipeError, pydantic_problems
from dataprep.config.registry import StageLookupError, resolve_stage
from dataprep.config.yaml_source import line_for, read_yaml_file
from dataprep.io.inputs import InputError, InputSpec, input_reads_output, list_files
from dataprep.transform import AnnotateError, MissingRequirementError, Transform

SCHEDULER_RE = re.compile(r"^(local|(tcp|tls|ucx|ws|wss|inproc)://[^\s/]+(:\d+)?/?)$")


class OutputSpec(BaseModel):
    """The recipe's ``output:`` section."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="folder of the run's output (local path or fsspec URL)")
    storage_options: dict = Field(default_factory=dict, description="fsspec options for the output filesystem")


class ExecutorSpec(BaseModel):
    """The recipe's ``executor:`` section."""

    model_config = ConfigDict(extra="forbid")
    scheduler: str = Field(default="local", description="'local' (a LocalCluster for the run) or a scheduler "
                           "address, e.g. tcp://127.0.0.1:8786")
    workers: int = Field(default=2, ge=1, le=1024, description="worker processes of the LocalCluster")
    threads_per_worker: int = Field(default=1, ge=1, le=64, description="threads per LocalCluster worker")
    memory_limit: str = Field(default="auto",
                              description="memory per LocalCluster worker, e.g. 4GB; 'auto' splits the machine")
    processes: Literal["auto"] | bool = Field(
        default="auto", description="LocalCluster workers as processes (true) or as threads of the dataprep process "
        "(false: starts ~2 s sooner, but no nanny restarts a worker that crashes or outgrows memory_limit); "
        "'auto': threads for a single worker, processes for more")
    dashboard: bool = Field(default=False, description="start the Dask dashboard of the LocalCluster (its address is "
                            "printed) and the workers' statistical profiler it shows")
    connect_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for a remote scheduler")
    mode: Literal["filter", "annotate"] = Field(default="filter", description=(
        "filter: stages remove documents; annotate: filters and dedups remove nothing, but mark what they would "
        "remove (columns would_remove, would_remove_all; stats 'would_remove'), to choose thresholds from one run"))
    retries: int = Field(default=3, ge=0, le=100, description=(
        "times a task may lose its worker (a native crash, or memory past memory_limit) before the documents "
        "that crash it are searched for and quarantined as worker_crash (Dask's allowed-failures; set on the "
        "LocalCluster we start, a remote scheduler keeps its own)"))

    @field_validator("scheduler")
    @classmethod
    def _address(cls, v: str) -> str:
        if not SCHEDULER_RE.match(v):
            raise ValueError("must be 'local' or an address like tcp://127.0.0.1:8786")
        return v


class Recipe(BaseModel):
    """A whole recipe; ``stages`` holds configured Transform instances after validation."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="run name (letters, digits, . _ -)")
    seed: int = Field(default=0, description="seed for every random choice of the run")
    input: InputSpec
    output: OutputSpec
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    stages: list[Any] = Field(default_factory=list, description="stages, applied in order")

    def transforms(self) -> list[Transform]:
        return list(self.stages)

    def resolved(self) -> dict[str, Any]:
        """The recipe as plain data with every default filled in (for manifest.json)."""
        data = self.model_dump(mode="json", exclude={"stages"})
        data["stages"] = [t.spec() for t in self.stages]
        return data


def validate_data(data: Any, file: str, lines: dict[str, int] | None = None, check_inputs: bool = True) -> Recipe:
    """Validate recipe data (already parsed and overridden); raise RecipeError listing every problem."""
    lines = lines or {}
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise RecipeError(file, [Problem("", "a recipe is a mapping with keys name, input, output, stages "
                                             "(see recipes/quickstart.yaml)")])
    body = {k: v for k, v in data.items() if k != "stages"}
    stages_raw = data.get("stages", [])
    recipe: Recipe | None = None
    try:
        recipe = Recipe.model_validate({**body, "stages": []})
    except ValidationError as exc:
        problems += pydantic_problems(exc, "", Recipe)

    transforms: list[Transform] = []
    if stages_raw is None:
        stages_raw = []
    if not isinstance(stages_raw, list):
        problems.append(Problem("stages", "must be a list of one-key mappings, e.g. '- langid: {keep: [en]}'"))
        stages_raw = []
    for i, item in enumerate(stages_raw):
        path = f"stages.{i}"
        if isinstance(item, str):
            item = {item: {}}
        if not isinstance(item, dict) or len(item) != 1:
            problems.append(Problem(path, "each stage is a one-key mapping 'name: {params}', "
                                          "e.g. '- extract: {engine: resiliparse}'"))
            continue
        (name, params), = item.items()
        params = params if params is not None else {}
        if not isinstance(params, dict):
            problems.append(Problem(f"{path}.{name}", f"parameters must be a mapping, got {type(params).__name__}"))
            continue
        try:
            cls = resolve_stage(str(name))
        except StageLookupError as exc:
            problems.append(Problem(f"{path}.{name}", str(exc)))
            continue
        try:
            transforms.append(cls(**params))
        except ValidationError as exc:
            problems += pydantic_problems(exc, f"{path}.{name}", cls.Params)
        except MissingRequirementError as exc:
            problems.append(Problem(f"{path}.{name}", str(exc)))
        except AnnotateError as exc:
            problems.append(Problem(f"{path}.{name}.annotate", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a user's constructor: report, do not crash
            problems.append(Problem(f"{path}.{name}", f"{type(exc).__name__}: {exc}"))

    if recipe is not None and check_inputs:
        reads_itself = input_reads_output(recipe.input, recipe.output.path, recipe.output.storage_options)
        if reads_itself:
            problems.append(Problem("output.path", f"{reads_itself}: the run would read its own output; "
                                                   "choose an output.path outside the input"))
        try:
            list_files(recipe.input)
        except InputError as exc:
            problems.append(Problem("input.path", str(exc)))
        except Exception as exc:  # noqa: BLE001 - e.g. an fsspec protocol that is not installed
            problems.append(Problem("input.path", f"cannot list input: {type(exc).__name__}: {exc}"))

    for p in problems:
        p.line = line_for(lines, p.path)
    if problems:
        raise RecipeError(file, problems)
    assert recipe is not None
    recipe.stages = transforms
    return recipe


def load_recipe(path: str | Path, overrides: list[str] | None = None, check_inputs: bool = True) -> Recipe:
    """Read, override (``--set``) and validate a YAML recipe file."""
    data, lines = read_yaml_file(path, overrides, "recipe", RecipeError)
    return validate_data(data, str(path), lines, check_inputs=check_inputs)
