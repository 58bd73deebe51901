"""``classifier``: a fastText supervised quality classifier.

``dataprep classifier train`` fits a model on labelled documents -- typically reference text
(Wikipedia, books, a curated set) as ``hq`` and random web text as ``lq``, as in the GPT-3 and
DCLM filters -- and the stage adds ``quality_score``, the model's probability of the positive
label, removing documents below ``threshold`` (``classifier:low_score``).  Prediction runs on
the whole batch through fastText's list API.  Training and scoring see the same
preprocessing (:func:`prepare`): lower case, one line, single spaces.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.io.atomic import atomic_path
from dataprep.schema import TEXT
from dataprep.transform import Filter, Params

POSITIVE = "hq"
NEGATIVE = "lq"


def prepare(text: pa.Array, max_chars: int | None = None) -> list[str]:
    """fastText's view of a text: lower case, white space runs as one space, one line."""
    if max_chars:
        text = pc.utf8_slice_codeunits(text, 0, max_chars)
    text = pc.utf8_lower(text)
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " ")).to_pylist()


def train_classifier(positive: Iterable[str], negative: Iterable[str], output: str, *, epoch: int = 5,
                     dim: int = 64, word_ngrams: int = 2, lr: float = 0.5, seed: int = 0,
                     bucket: int = 2_000_000) -> str:
    """Fit and save a fastText model with labels ``hq`` / ``lq`` (one thread: reproducible)."""
    import fasttext

    rows = [f"__label__{POSITIVE} {t}" for t in prepare(pa.array(list(positive), pa.large_string())) if t]
    rows += [f"__label__{NEGATIVE} {t}" for t in prepare(pa.array(list(negative), pa.large_string())) if t]
    if not rows:
        raise ValueError("no training text")
    order = np.random.default_rng(seed).permutation(len(rows))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(rows[i] for i in order) + "\n")
        train_path = f.name
    try:
        model = fasttext.train_supervised(input=train_path, epoch=epoch, dim=dim, wordNgrams=word_ngrams, lr=lr,
                                          thread=1, seed=seed, verbose=0, minCount=1, bucket=bucket)
    finally:
        os.unlink(train_path)
    with atomic_path(output) as tmp:
        model.save_model(tmp)
    return output


class ClassifierParams(Params):
    model: str = Field(description="fastText model file from `dataprep classifier train`")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="remove documents whose quality_score is lower")
    positive_label: str = Field(POSITIVE, description="the label whose probability is the quality_score")
    max_chars: int | None = Field(None, ge=1, description="classify only the first N characters")


class Classifier(Filter):
    """Add ``quality_score`` (float32); remove documents below ``threshold``."""

    name = "classifier"
    Params = ClassifierParams
    reason = "classifier:low_score"

    def setup(self) -> None:
        import fasttext

        fasttext.FastText.eprint = lambda *args, **kwargs: None
        if not os.path.exists(self.params.model):
            raise FileNotFoundError(f"classifier.model: {self.params.model} does not exist")
        self.model = fasttext.load_model(self.params.model)
        self.label = f"__label__{self.params.positive_label}"
        if len(self.model.get_labels()) != 2:
            raise ValueError(f"classifier.model: a two-label model is expected (hq/lq), "
                             f"got {len(self.model.get_labels())} labels")
        if self.label not in self.model.get_labels():
            raise ValueError(f"classifier.positive_label: {self.params.positive_label!r} is not a label of the model "
                             f"({', '.join(label.removeprefix('__label__') for label in self.model.get_labels())})")

    def score(self, batch: pa.Table) -> dict[str, pa.Array]:
        texts = prepare(batch.column(TEXT), self.params.max_chars)
        if not texts:
            return {"quality_score": pa.array([], pa.float32())}
        # top label only: with numpy 2, fastText's list predict returns wrong probabilities for
        # k > 1; for a two-label model the other label has the rest of the mass
        labels, probs = self.model.predict(texts, k=1)
        scores = [float(p[0]) if lab[0] == self.label else 1.0 - float(p[0]) for lab, p in zip(labels, probs)]
        return {"quality_score": pa.array(np.clip(scores, 0.0, 1.0).astype(np.float32))}

    def keep(self, scored: pa.Table) -> pa.Array:
        return pc.greater_equal(scored.column("quality_score"), pa.scalar(self.params.threshold, pa.float32()))
