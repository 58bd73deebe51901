"""``perplexity`` and ``perplexity_buckets``: KenLM n-gram perplexity, CCNet style.

``perplexity`` scores each document with the KenLM model of its language (``model: {en:
en.arpa, de: de.bin}``, or one path for every document), on text normalised exactly as
``dataprep lm train`` normalised its training text (:func:`dataprep.text.lm.normalise_lines`;
normalisation runs on the whole batch with Arrow kernels, then each line is one call into
KenLM).  The document's perplexity is ``10 ** (-sum of line log10 scores / tokens)``, tokens
counting one end-of-line each.  It adds ``perplexity`` (float32) and removes documents above
``max`` (``perplexity:too_high``); with ``cutoffs`` it also adds ``perplexity_bucket``.

``perplexity_buckets`` is the CCNet split into head / middle / tail by percentiles of
perplexity *per language over the whole run* (a barrier stage), optionally keeping only some
buckets (``perplexity_buckets:<bucket>``).

KenLM is the ``perplexity`` extra (``pip install 'dataprep[perplexity]'``): a prebuilt wheel
where one exists, the source build elsewhere; without it the stage is refused when the recipe
is validated.  ``perplexity_buckets`` needs only the ``perplexity`` column.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator

from dataprep.engine.summaries import Summaries
from dataprep.schema import TEXT
from dataprep.text.lm import normalise_lines
from dataprep.transform import Filter, GlobalTransform, Params, StageOutput, set_columns, split_by_reason

Bucket = Literal["head", "middle", "tail"]


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C++ writes to file descriptor 2 for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
ANY = "*"


def assign_buckets(ppl: np.ndarray, langs: list[str | None], cutoffs: dict[str, list[float]]) -> list[str | None]:
    out: list[str | None] = []
    for value, lang in zip(ppl.tolist(), langs):
        cut = cutoffs.get(lang or "", cutoffs.get(ANY))
        if cut is None or value != value:  # no cut-offs for this language, or no perplexity (NaN)
            out.append(None)
        else:
            out.append("head" if value <= cut[0] else "middle" if value <= cut[1] else "tail")
    return out


class PerplexityParams(Params):
    model: str | dict[str, str] = Field(description="KenLM model (ARPA or binary): one path, or {lang: path}")
    lang_field: str = Field("lang", description="column with the document language (from langid)")
    max: float | None = Field(None, gt=0, description="remove documents with a higher perplexity")
    no_model: Literal["keep", "remove"] = Field("keep", description="documents of a language without a model")
    cutoffs: dict[str, list[float]] | None = Field(
        None, description="{lang or '*': [head_max, middle_max]} for perplexity_bucket")
    keep_buckets: list[Bucket] | None = Field(None, description="with cutoffs: buckets to keep")

    @field_validator("cutoffs")
    @classmethod
    def _two_cutoffs(cls, v: dict[str, list[float]] | None) -> dict[str, list[float]] | None:
        for lang, cut in (v or {}).items():
            if len(cut) != 2 or cut[0] > cut[1]:
                raise ValueError(f"cutoffs.{lang}: give two increasing values [head_max, middle_max]")
        return v


class Perplexity(Filter):
    """Add ``perplexity`` (and ``perplexity_bucket``); filter by ``max`` / ``keep_buckets``."""

    name = "perplexity"
    Params = PerplexityParams
    requires = {"kenlm": "perplexity"}

    def setup(self) -> None:
        import kenlm

        models = self.params.model if isinstance(self.params.model, dict) else {ANY: self.params.model}
        config = kenlm.Config()
        config.show_progress = False
        self.models = {}
        for lang, path in models.items():
            if not os.path.exists(path):
                raise FileNotFoundError(f"perplexity.model: {path} (language {lang}) does not exist")
            with _quiet_stderr():  # KenLM advises building a binary on stderr for every ARPA load
                self.models[lang] = kenlm.Model(path, config)

    def _langs(self, batch: pa.Table) -> list[str | None]:
        if self.params.lang_field in batch.schema.names:
            return batch.column(self.params.lang_field).to_pylist()
        return [None] * batch.num_rows

    def score(self, batch: pa.Table) -> dict[str, pa.Array]:
        langs = self._langs(batch)
        lines, parents = normalise_lines(batch.column(TEXT))
        logp = np.zeros(batch.num_rows)
        tokens = np.zeros(batch.num_rows)
        for line, doc in zip(lines, parents.tolist()):
            model = self.models.get(langs[doc] or "", self.models.get(ANY))
            if model is not None:
                logp[doc] += model.score(line, bos=True, eos=True)
                tokens[doc] += line.count(" ") + 2
        with np.errstate(divide="ignore", invalid="ignore"):
            ppl = np.where(tokens > 0, np.power(10.0, -logp / np.maximum(tokens, 1)), np.nan)
        columns = {"perplexity": pa.array(ppl.astype(np.float32), from_pandas=True)}
        if self.params.cutoffs:
            columns["perplexity_bucket"] = pa.array(assign_buckets(ppl, langs, self.params.cutoffs), pa.string())
        return columns

    def keep(self, scored: pa.Table) -> pa.Array:
        langs = self._langs(scored)
        has_model = np.array([(lang or "") in self.models or ANY in self.models for lang in langs], dtype=bool)
        ppl = np.asarray(scored.column("perplexity").to_numpy(zero_copy_only=False), dtype=np.float64)
        reasons = np.full(scored.num_rows, None, dtype=object)
        if self.params.no_model == "remove":
            reasons[~has_model] = "perplexity:no_model"
        if self.params.max is not None:
            reasons[(ppl > self.params.max) & (reasons == None)] = "perplexity:too_high"  # noqa: E711 - element-wise on a NumPy array
        if self.params.keep_buckets is not None and "perplexity_bucket" in scored.schema.names:
            buckets = np.array(scored.column("perplexity_bucket").to_pylist(), dtype=object)
            drop = np.array([b is not None and b not in self.params.keep_buckets for b in buckets])
            for b in ("head", "middle", "tail"):
                reasons[drop & (buckets == b) & (reasons == None)] = f"perplexity:{b}"  # noqa: E711 - element-wise on a NumPy array
        return pa.array(reasons.tolist(), pa.string())


class PerplexityBucketsParams(Params):
    percentiles: list[float] = Field(default_factory=lambda: [33.3, 66.7],
                                     description="two percentiles splitting head / middle / tail, per language")
    keep: list[Bucket] = Field(default_factory=lambda: ["head", "middle", "tail"], description="buckets to keep")
    lang_field: str = Field("lang", description="column with the document language (one split per language)")

    @field_validator("percentiles")
    @classmethod
    def _two(cls, v: list[float]) -> list[float]:
        if len(v) != 2 or not 0 < v[0] <= v[1] < 100:
            raise ValueError("give two increasing percentiles between 0 and 100, e.g. [33.3, 66.7]")
        return v


class PerplexityBuckets(GlobalTransform):
    """CCNet head/middle/tail from percentiles of ``perplexity`` over the whole run, per language."""

    name = "perplexity_buckets"
    can_annotate = True
    Params = PerplexityBucketsParams

    def summarize(self, batch: pa.Table) -> pa.Table:
        langs = batch.column(self.params.lang_field).cast(pa.string()) if self.params.lang_field in batch.schema.names \
            else pa.nulls(batch.num_rows, pa.string())
        return pa.table({"lang": langs, "perplexity": batch.column("perplexity").cast(pa.float64())})

    def reads_documents(self) -> bool:
        return False

    def combine(self, summaries: Summaries) -> dict[str, list[float]]:
        table = pa.concat_tables(summaries.tables())
        langs = pc.fill_null(table.column("lang"), "").to_pylist()
        ppl = np.asarray(table.column("perplexity").to_numpy(zero_copy_only=False), dtype=np.float64)
        cutoffs = {}
        for lang in sorted(set(langs)):
            values = ppl[(np.array(langs) == lang) & ~np.isnan(ppl)]
            if len(values):
                cutoffs[lang] = [float(np.percentile(values, p)) for p in self.params.percentiles]
        return cutoffs

    def apply(self, batch: pa.Table, state: dict[str, list[float]]) -> StageOutput:
        langs = pc.fill_null(batch.column(self.params.lang_field).cast(pa.string()), "").to_pylist() \
            if self.params.lang_field in batch.schema.names else [""] * batch.num_rows
        ppl = np.asarray(batch.column("perplexity").to_numpy(zero_copy_only=False), dtype=np.float64)
        buckets = assign_buckets(ppl, langs, state)
        scored = set_columns(batch, {"perplexity_bucket": pa.array(buckets, pa.string())})
        reasons = [f"perplexity_buckets:{b}" if b is not None and b not in self.params.keep else None for b in buckets]
        return split_by_reason(scored, pa.array(reasons, pa.string()))
