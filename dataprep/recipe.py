"""YAML recipe -> validated :class:`Recipe`.

Everything that can be checked before work starts is checked here, and every problem is
reported with the file, the line, the key path (``stages.1.langid.min_score``, the same path
``--set`` uses) and what is allowed.  YAML is read with the safe loader only.
"""

from __future__ import annotations

import copy
import difflib
import typing
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dataprep.io.inputs import InputError, InputSpec, list_files
from dataprep.registry import StageLookupError, resolve_stage
from dataprep.transform import Transform

SCHEDULER_RE = re.compile(r"^(local|(tcp|tls|ucx|ws|wss|inproc)://[^\s/]+(:\d+)?/?)$")


class OutputSpec(BaseModel):
    """The recipe's ``output:`` section."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="folder of the run's output (local path or fsspec URL)")
    storage_options: dict = Field(default_factory=dict, description="fsspec options for the output filesystem")


class ExecutorSpec(BaseModel):
    """The recipe's ``executor:`` section."""

    model_config = ConfigDict(extra="forbid")
    scheduler: str = Field(default="local", description="'local' (a LocalCluster for the run) or a scheduler address, e.g. tcp://127.0.0.1:8786")
    workers: int = Field(default=2, ge=1, le=1024, description="worker processes of the LocalCluster")
    threads_per_worker: int = Field(default=1, ge=1, le=64, description="threads per LocalCluster worker")
    memory_limit: str = Field(default="auto", description="memory per LocalCluster worker, e.g. 4GB; 'auto' splits the machine")
    processes: Literal["auto"] | bool = Field(
        default="auto", description="LocalCluster workers as processes (true) or as threads of the dataprep process "
        "(false: starts ~2 s sooner, but no nanny restarts a worker that crashes or outgrows memory_limit); "
        "'auto': threads for a single worker, processes for more")
    dashboard: bool = Field(default=False, description="start the Dask dashboard of the LocalCluster (its address is printed) and the workers' statistical profiler it shows")
    connect_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for a remote scheduler")

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


@dataclass
class Problem:
    path: str
    message: str
    line: int | None = None


class RecipeError(ValueError):
    """A recipe that cannot run; ``str()`` lists every problem with file, line and key path."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        super().__init__(self.format())

    def format(self) -> str:
        lines = [f"{self.file}: {len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}:"]
        for p in self.problems:
            where = f"{self.file}:{p.line}" if p.line else self.file
            lines.append(f"  {where}: {p.path or '(top level)'}: {p.message}")
        return "\n".join(lines)


# -- YAML with line numbers --------------------------------------------------------------


def _load_yaml_with_lines(text: str, file: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML safely; also return {key path: line number} for error messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RecipeError(file, [Problem("", f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                         mark.line + 1 if mark else None)]) from None
    lines: dict[str, int] = {}

    def walk(n: yaml.Node, path: str) -> None:
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                sub = f"{path}.{k.value}" if path else str(k.value)
                lines[sub] = k.start_mark.line + 1
                walk(v, sub)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, f"{path}.{i}" if path else str(i))

    if node is not None:
        walk(node, "")
    data = yaml.safe_load(text)
    return data, lines


def _line_for(lines: dict[str, int], path: str) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path.rpartition(".")[0]
    return None


# -- --set overrides ---------------------------------------------------------------------


def apply_overrides(data: dict, overrides: list[str], file: str) -> dict:
    """Apply ``KEY.PATH=VALUE`` overrides (VALUE parsed as YAML) to recipe data."""
    data = copy.deepcopy(data)
    problems = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            problems.append(Problem(f"--set {item}", "expected KEY=VALUE, e.g. --set stages.1.langid.min_score=0.5"))
            continue
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        parts = key.split(".")
        node: Any = data
        try:
            for i, part in enumerate(parts[:-1]):
                if isinstance(node, list):
                    node = node[int(part)]
                elif isinstance(node, dict):
                    if node.get(part) is None:
                        node[part] = {}
                    node = node[part]
                else:
                    raise TypeError
            last = parts[-1]
            if isinstance(node, list):
                node[int(last)] = value
            elif isinstance(node, dict):
                node[last] = value
            else:
                raise TypeError
        except (ValueError, IndexError):
            problems.append(Problem(f"--set {key}", f"no such list position in the recipe ({len(data.get('stages') or [])} stages: indices start at 0)"))
        except (TypeError, AttributeError):
            problems.append(Problem(f"--set {key}", "the path runs through a value that is not a mapping or list"))
    if problems:
        raise RecipeError(file, problems)
    return data


# -- validation ----------------------------------------------------------------------------


def _pydantic_problems(exc: ValidationError, prefix: str, model: type[BaseModel] | None = None) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        path = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        if err["type"] == "extra_forbidden":
            parent_loc = err["loc"][:-1]
            allowed = _allowed_keys(model, parent_loc)
            close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            msg = f"unknown key; {hint}allowed keys: {', '.join(allowed) or '(none)'}"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"]
            if "input" in err:
                msg += f" (got {err['input']!r})"
            description = _field_description(model, err["loc"])
            if description:
                msg += f" [{err['loc'][-1]}: {description}]"
        problems.append(Problem(path, msg))
    return problems


def _submodel(model: type[BaseModel] | None, loc: tuple) -> type[BaseModel] | None:
    """The pydantic model found by following ``loc`` through nested model fields."""
    for part in loc:
        if model is None:
            return None
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        # a section may be optional (`Rules | None`): look through the union for the model
        candidates = (annotation, *typing.get_args(annotation)) if annotation is not None else ()
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model


def _allowed_keys(model: type[BaseModel] | None, loc: tuple) -> list[str]:
    model = _submodel(model, loc)
    return list(model.model_fields) if model is not None else []


def _field_description(model: type[BaseModel] | None, loc: tuple) -> str | None:
    parent = _submodel(model, tuple(p for p in loc[:-1] if not isinstance(p, int)))
    field = parent.model_fields.get(str(loc[-1])) if parent is not None and loc else None
    return field.description if field is not None else None


def validate_data(data: Any, file: str, lines: dict[str, int] | None = None, check_inputs: bool = True) -> Recipe:
    """Validate recipe data (already parsed and overridden); raise RecipeError listing every problem."""
    lines = lines or {}
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise RecipeError(file, [Problem("", "a recipe is a mapping with keys name, input, output, stages (see recipes/quickstart.yaml)")])
    body = {k: v for k, v in data.items() if k != "stages"}
    stages_raw = data.get("stages", [])
    recipe: Recipe | None = None
    try:
        recipe = Recipe.model_validate({**body, "stages": []})
    except ValidationError as exc:
        problems += _pydantic_problems(exc, "", Recipe)

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
            problems.append(Problem(path, "each stage is a one-key mapping 'name: {params}', e.g. '- extract: {engine: resiliparse}'"))
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
            problems += _pydantic_problems(exc, f"{path}.{name}", cls.Params)
        except Exception as exc:  # noqa: BLE001 - a user's constructor: report, do not crash
            problems.append(Problem(f"{path}.{name}", f"{type(exc).__name__}: {exc}"))

    if recipe is not None and check_inputs:
        try:
            list_files(recipe.input)
        except InputError as exc:
            problems.append(Problem("input.path", str(exc)))
        except Exception as exc:  # noqa: BLE001 - e.g. an fsspec protocol that is not installed
            problems.append(Problem("input.path", f"cannot list input: {type(exc).__name__}: {exc}"))

    for p in problems:
        p.line = _line_for(lines, p.path.replace("--set ", ""))
    if problems:
        raise RecipeError(file, problems)
    assert recipe is not None
    recipe.stages = transforms
    return recipe


def load_recipe(path: str | Path, overrides: list[str] | None = None, check_inputs: bool = True) -> Recipe:
    """Read, override (``--set``) and validate a YAML recipe file."""
    file = str(path)
    data, lines = _read_yaml_file(path, overrides, "recipe")
    return validate_data(data, file, lines, check_inputs=check_inputs)


def _read_yaml_file(path: str | Path, overrides: list[str] | None, what: str) -> tuple[Any, dict[str, int]]:
    """A YAML file's data (``--set`` overrides applied) and its key-path line numbers."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(file, [Problem("", f"{what} file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(file, [Problem("", f"cannot read {what}: {exc}")]) from None
    data, lines = _load_yaml_with_lines(text, file)
    if overrides:
        data = apply_overrides(data if isinstance(data, dict) else {}, overrides, file)
    return data, lines


def load_yaml_model(path: str | Path, model: type[BaseModel], overrides: list[str] | None = None,
                    what: str = "config") -> BaseModel:
    """Read a YAML file into ``model`` (safe loader, ``--set`` overrides), with the same errors as recipes."""
    file = str(path)
    data, lines = _read_yaml_file(path, overrides, what)
    if not isinstance(data, dict):
        raise RecipeError(file, [Problem("", f"a {what} is a mapping of keys: {', '.join(model.model_fields)}")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = _pydantic_problems(exc, "", model)
        for p in problems:
            p.line = _line_for(lines, p.path)
        raise RecipeError(file, problems) from None
