"""The recipe and training-config reference, generated from the pydantic models themselves.

``python -m dataprep.config.reference > docs/recipe-reference.md`` writes it; a test fails when the
committed file differs from what the code generates, so the reference cannot go stale.  Every
section lists each key with its type, default and the ``description`` the model gives it;
nested sections (``quality``'s rule groups, the trainer's ``data``/``model``/...) follow their
parent.
"""

from __future__ import annotations

import inspect
import sys
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from dataprep.config.registry import BUILTINS, import_object, resolve_stage

#: the training config model, named by import path like the stages (the trainer sits above this layer)
TRAIN_CONFIG = "dataprep.train.config:TrainConfig"

HEADER = """# Recipe and training-config reference

Generated from the code by `python -m dataprep.config.reference > docs/recipe-reference.md`
(tests/docs/test_reference.py fails when this file is out of date). Every key is validated before
any work starts; unknown keys are errors. `null` turns an optional threshold off.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(repr(a).replace("'", "") for a in typing.get_args(annotation))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def _default(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return "(section)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value >= 1 << 20 and value % (1 << 20) == 0:
        return f"{value >> 20}MB"
    return f"`{value!r}`".replace("|", "\\|")


def _nested(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def model_table(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Markdown: a table of ``model``'s keys, then one table per nested section."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        sub = _nested(field.annotation)
        meaning = (field.description or (f"see `{prefix}{name}` below" if sub else "")).replace("|", "\\|")
        lines.append(f"| `{prefix}{name}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |")
        if sub is not None:
            nested.append((f"{prefix}{name}.", sub))
    out = lines + [""]
    for sub_prefix, sub in nested:
        out += [f"`{sub_prefix[:-1]}`:", ""] + model_table(sub, sub_prefix)
    return out


def _summary(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.split("\n\n")[0].replace("\n", " ").replace("``", "`")


def generate() -> str:
    from dataprep.config.recipe import ExecutorSpec, OutputSpec
    from dataprep.io.inputs import InputSpec

    train_config = import_object(TRAIN_CONFIG)

    out = [HEADER, "## Recipe (`dataprep run RECIPE.yaml`)", "",
           "Top level: `name` (string), `seed` (integer, default 0), `input`, `output`, `executor`, `stages` "
           "(a list of one-key mappings `- stage_name: {parameters}`).", ""]
    for title, model in (("input", InputSpec), ("output", OutputSpec), ("executor", ExecutorSpec)):
        out += [f"### `{title}`", ""] + model_table(model)
    out += ["## Stages", "",
            "A stage is named by its built-in name or by `package.module:ClassName` for a transform of your own "
            "(see docs/custom-transforms.md).", ""]
    for name in BUILTINS:
        cls = resolve_stage(name)
        flag = inspect.getattr_static(cls, "barrier", False)
        kind = ("per shard, or a barrier depending on its parameters" if isinstance(flag, property)
                else "barrier" if flag is True else "per shard")
        out += [f"### `{name}` ({kind})", "", _summary(cls), ""] + model_table(cls.Params)
    out += ["## Training config (`dataprep train CONFIG.yaml`)", "", _summary(train_config) or
            "Pipeline-parallel training of a GPT-style model on tokenized runs.", ""] + model_table(train_config)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(generate())
