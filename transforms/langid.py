"""``langid``: language identification with fastText's ``lid.176`` model.

The default model, ``lid.176.ftz`` (fastText's compressed 176-language model, CC BY-SA 3.0;
see ``models/NOTICE.md`` beside this module), ships inside dataprep as package data, so a plain
``pip install`` identifies languages without a download; ``model`` takes any fastText
language-ID model instead.  Prediction runs on a whole batch at once (fastText's list API).
Adds ``lang`` (ISO code, e.g. ``en``) and ``lang_score`` (float32 probability).  ``min_score``
is one threshold, or one per language (``{en: 0.65, '*': 0.8}``): the classifier is surer of some
languages than of others, so one threshold removes too much of some or too little of others.
"""

from __future__ import annotations

import os
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator

from dataprep.schema import TEXT
from dataprep.transform import Filter, Params

DEFAULT_MODEL = "lid.176.ftz"


def default_model_path() -> str:
    """Path of the ``lid.176.ftz`` shipped in this package (``dataprep/transforms/models``)."""
    path = resources.files("dataprep.transforms.models") / DEFAULT_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"langid: the bundled model {DEFAULT_MODEL} is missing from this installation "
                                f"({path}); reinstall dataprep or set langid.model to a fastText model file")
    return os.fspath(path)


class LangIdParams(Params):
    keep: list[str] = Field(default_factory=list,
                            description="languages to keep (ISO codes); empty keeps every language")
    min_score: float | dict[str, float] = Field(
        0.0, description="documents whose top language scores lower are removed; or per language: {en: 0.65, "
        "de: 0.5, '*': 0.8} ('*': every other language; without it, 0)")
    model: str | None = Field(None, description="fastText language-ID model file (default: the bundled lid.176.ftz)")
    max_chars: int | None = Field(None, ge=1, description="classify only the first N characters (default: whole text)")


    @field_validator("min_score")
    @classmethod
    def _scores(cls, v: float | dict[str, float]) -> float | dict[str, float]:
        bad = [f"{k}: {x}" for k, x in (v.items() if isinstance(v, dict) else [("min_score", v)])
               if not 0.0 <= x <= 1.0]
        if bad:
            raise ValueError(f"a score should be greater than or equal to 0 and less than or equal to 1, "
                             f"not {', '.join(bad)}")
        return v

    def threshold(self, langs: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The lowest score kept, per document, by its top language."""
        if not isinstance(self.min_score, dict):
            return pa.array(np.full(len(langs), self.min_score, dtype=np.float32))
        keys = [k for k in self.min_score if k != "*"]
        values = pa.array([self.min_score[k] for k in keys], pa.float32())
        found = pc.take(values, pc.index_in(langs, value_set=pa.array(keys, pa.string())))
        return pc.fill_null(found, pa.scalar(self.min_score.get("*", 0.0), pa.float32()))


class LangId(Filter):
    """Score ``lang``/``lang_score``; keep the languages in ``keep`` scoring at least ``min_score``."""

    name = "langid"
    Params = LangIdParams

    def setup(self) -> None:
        import fasttext

        fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load_model warning
        path = self.params.model or default_model_path()
        if not os.path.exists(path):
            raise FileNotFoundError(f"langid.model: {path} does not exist")
        self.model = fasttext.load_model(path)

    def score(self, batch: pa.Table) -> dict[str, pa.Array]:
        texts = batch.column(TEXT)
        if self.params.max_chars:
            texts = pc.utf8_slice_codeunits(texts, 0, self.params.max_chars)
        # fastText reads one line per example; it needs Python strings, so replace in Python
        texts = [t.replace("\n", " ").replace("\r", " ") for t in texts.to_pylist()]
        if not texts:
            return {"lang": pa.array([], pa.string()), "lang_score": pa.array([], pa.float32())}
        labels, probs = self.model.predict(texts, k=1)
        langs = [lab[0].removeprefix("__label__") if lab else None for lab in labels]
        scores = np.minimum(np.array([p[0] if len(p) else 0.0 for p in probs], dtype=np.float32), 1.0)
        return {"lang": pa.array(langs, pa.string()), "lang_score": pa.array(scores, pa.float32())}

    def keep(self, scored: pa.Table) -> pa.Array:
        low = pc.less(scored.column("lang_score"), self.params.threshold(scored.column("lang")))
        reasons = pc.if_else(low, pa.scalar("langid:low_score"), pa.scalar(None, pa.string()))
        if self.params.keep:
            other = pc.invert(pc.is_in(scored.column("lang"), value_set=pa.array(self.params.keep, pa.string())))
            reasons = pc.if_else(pc.and_(other, pc.is_null(reasons)), pa.scalar("langid:language_not_kept"), reasons)
        return reasons.combine_chunks() if isinstance(reasons, pa.ChunkedArray) else reasons
