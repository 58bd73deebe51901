"""Configuration errors that name the file, the line, the key and the fix.

:class:`ConfigError` lists every :class:`Problem` of a file at once; recipes raise its subclass
:class:`RecipeError`, training configs raise it directly.  :func:`pydantic_problems` turns a
pydantic ``ValidationError`` into problems with the allowed keys (and a "did you mean") for an
unknown key, and the field's description for a bad value.
"""

from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError


@dataclass
class Problem:
    path: str  # the key path, as --set writes it: stages.1.langid.min_score
    message: str
    line: int | None = None


class ConfigError(ValueError):
    """A configuration file that cannot be used; ``str()`` lists every problem with file, line and key path."""

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

    def __reduce__(self) -> tuple:  # picklable across processes, like any exception
        return (type(self), (self.file, self.problems))


class RecipeError(ConfigError):
    """A recipe that cannot run."""


def pydantic_problems(exc: ValidationError, prefix: str, model: type[BaseModel] | None = None) -> list[Problem]:
    """One :class:`Problem` per pydantic error, under the key path ``prefix``."""
    problems = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        path = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        if err["type"] == "extra_forbidden":
            allowed = allowed_keys(model, err["loc"][:-1])
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


def allowed_keys(model: type[BaseModel] | None, loc: tuple) -> list[str]:
    model = _submodel(model, loc)
    return list(model.model_fields) if model is not None else []


def _field_description(model: type[BaseModel] | None, loc: tuple) -> str | None:
    parent = _submodel(model, tuple(p for p in loc[:-1] if not isinstance(p, int)))
    field = parent.model_fields.get(str(loc[-1])) if parent is not None and loc else None
    return field.description if field is not None else None
