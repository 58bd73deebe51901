"""YAML configuration files, read one way for recipes and training configs alike.

Safe loader only; every key path (``stages.1.langid.min_score``, the path ``--set`` uses) is
mapped to its line so that errors can name it; ``--set KEY=VALUE`` overrides (VALUE parsed as
YAML) are applied before validation.  Every failure is a :class:`~dataprep.config.errors.ConfigError`
(or the ``error`` subclass the caller names).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from dataprep.config.errors import ConfigError, Problem, pydantic_problems

#: nodes a configuration may hold once its aliases (``*name``) and merge keys (``<<``) are
#: expanded: a recipe has hundreds; an alias "bomb" of a few lines expands to billions
MAX_NODES = 100_000
#: bytes a configuration file may have (a recipe is a page of YAML, not data)
MAX_BYTES = 4 << 20


def expanded_size(root: yaml.Node, limit: int = MAX_NODES) -> int:
    """Nodes of ``root`` with every alias expanded, counting stops past ``limit`` (any number
    above it means "too many").  Shared subtrees are sized once (memoised by identity), so this
    costs one visit per distinct node however large the expansion; a recursive alias is too many."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = limit + 1  # an alias back into its own subtree: infinite
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                break
        sizes[id(node)] = min(total, limit + 1)
        return sizes[id(node)]

    return size(root)


def parse_with_lines(text: str, file: str, error: type[ConfigError] = ConfigError) -> tuple[Any, dict[str, int]]:
    """Parse YAML safely; also return {key path: line number} for error messages.

    Refused before anything is expanded: a file over :data:`MAX_BYTES`, nesting deeper than
    Python's recursion limit, and aliases that expand to more than :data:`MAX_NODES` nodes (an
    alias bomb would otherwise exhaust memory in every step after parsing)."""
    if len(text) > MAX_BYTES:
        raise error(file, [Problem("", f"the file has {len(text):,} characters; a configuration is at most "
                                       f"{MAX_BYTES:,} (is it a data file?)")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        nodes = expanded_size(node) if node is not None else 0
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise error(file, [Problem("", f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                   mark.line + 1 if mark else None)]) from None
    except RecursionError:
        raise error(file, [Problem("", "the YAML nests too deeply to be a configuration")]) from None
    if nodes > MAX_NODES:
        raise error(file, [Problem("", f"its aliases (*name) and merge keys (<<) expand to more than {MAX_NODES:,} "
                                       "values; refusing it (a YAML alias bomb?): write the values out, or share "
                                       "fewer levels of anchors")])
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


def line_for(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path``, or of its nearest parent that has one."""
    path = path.replace("--set ", "")
    while path:
        if path in lines:
            return lines[path]
        path = path.rpartition(".")[0]
    return None


def apply_overrides(data: dict, overrides: list[str], file: str, error: type[ConfigError] = ConfigError) -> dict:
    """Apply ``KEY.PATH=VALUE`` overrides (VALUE parsed as YAML) to configuration data."""
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
            for part in parts[:-1]:
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
            stages = len(data.get("stages") or [])
            problems.append(Problem(f"--set {key}",
                                    f"no such list position in the recipe ({stages} stages: indices start at 0)"))
        except (TypeError, AttributeError):
            problems.append(Problem(f"--set {key}", "the path runs through a value that is not a mapping or list"))
    if problems:
        raise error(file, problems)
    return data


def read_yaml_file(path: str | Path, overrides: list[str] | None, what: str,
                   error: type[ConfigError] = ConfigError) -> tuple[Any, dict[str, int]]:
    """A YAML file's data (``--set`` overrides applied) and its key-path line numbers."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(file, [Problem("", f"{what} file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(file, [Problem("", f"cannot read {what}: {exc}")]) from None
    data, lines = parse_with_lines(text, file, error)
    if overrides:
        data = apply_overrides(data if isinstance(data, dict) else {}, overrides, file, error)
    return data, lines


def load_yaml_model(path: str | Path, model: type[BaseModel], overrides: list[str] | None = None,
                    what: str = "config", error: type[ConfigError] = ConfigError) -> BaseModel:
    """Read a YAML file into ``model`` (safe loader, ``--set`` overrides), every problem in one ``error``."""
    file = str(path)
    data, lines = read_yaml_file(path, overrides, what, error)
    if not isinstance(data, dict):
        raise error(file, [Problem("", f"a {what} is a mapping of keys: {', '.join(model.model_fields)}")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = pydantic_problems(exc, "", model)
        for p in problems:
            p.line = line_for(lines, p.path)
        raise error(file, problems) from None
