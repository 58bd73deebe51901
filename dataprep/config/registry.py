"""Stage names: built-ins by short name, anything else by ``module:Class`` import path.

Built-ins are named here by import path and imported lazily, so validating a recipe does not
load every stage's libraries -- and the configuration layer never imports the stages (which
sit above it) at module level.  Adding a built-in stage is one line in :data:`BUILTINS`.
"""

from __future__ import annotations

import difflib
import importlib

from dataprep.transform import Transform

BUILTINS: dict[str, str] = {
    "extract": "dataprep.transforms.extract:Extract",
    "langid": "dataprep.transforms.langid:LangId",
    "quality": "dataprep.transforms.quality:Quality",
    "pii": "dataprep.transforms.pii:Pii",
    "url_filter": "dataprep.transforms.url_filter:UrlFilter",
    "dedup_exact": "dataprep.transforms.dedup_exact:DedupExact",
    "perplexity": "dataprep.transforms.perplexity:Perplexity",
    "perplexity_buckets": "dataprep.transforms.perplexity:PerplexityBuckets",
    "classifier": "dataprep.transforms.classifier:Classifier",
    "minhash_dedup": "dataprep.transforms.minhash_dedup:MinHashDedup",
    "tokenize": "dataprep.transforms.tokenize:Tokenize",
    "shuffle": "dataprep.transforms.shuffle:Shuffle",
    "decontaminate": "dataprep.transforms.decontaminate:Decontaminate",
    "dedup_paragraphs": "dataprep.transforms.dedup_paragraphs:DedupParagraphs",
}


class StageLookupError(LookupError):
    """A stage name that is neither a built-in nor an importable Transform."""


def resolve_stage(name: str) -> type[Transform]:
    """Return the Transform class a recipe's stage name refers to."""
    target = BUILTINS.get(name)
    if target is None:
        if ":" not in name:
            close = difflib.get_close_matches(name, BUILTINS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise StageLookupError(
                f"unknown stage {name!r}; {hint}built-in stages are: {', '.join(sorted(BUILTINS))}; "
                "a transform of your own is named 'package.module:ClassName'"
            )
        target = name
    try:
        obj = import_object(target)
    except ImportError as exc:
        raise StageLookupError(
            f"cannot import module {target.partition(':')[0]!r} for stage {name!r}: {exc}; "
            "is it installed, or on PYTHONPATH (the current directory is searched)?"
        ) from exc
    except AttributeError as exc:
        raise StageLookupError(f"{exc} (stage {name!r})") from exc
    if not (isinstance(obj, type) and issubclass(obj, Transform)):
        raise StageLookupError(
            f"{name!r} is not a dataprep Transform (got {type(obj).__name__}); subclass "
            "dataprep.Transform/Map/Filter or decorate a function with @dataprep.document_transform"
        )
    return obj


def import_object(target: str) -> object:
    """The object a ``package.module:Name`` (or ``:Outer.Inner``) path names."""
    module_name, _, attr = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        found = getattr(obj, part, None)
        if found is None:
            raise AttributeError(f"module {module_name!r} has no attribute {attr!r}")
        obj = found
    return obj
