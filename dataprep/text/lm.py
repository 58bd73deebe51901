"""N-gram language models for perplexity filtering: text normalisation, and an ARPA writer
for interpolated modified Kneser-Ney models that KenLM loads.

Why by hand: KenLM's own estimator (``lmplz``) is a C++ program that is not part of the
``kenlm`` Python package; users without it could not make a model.  This estimator holds the
n-gram counts in memory (fine for reference corpora of up to a few hundred MB of text, the
size CCNet-style filters are trained on); use ``lmplz`` for more.

The model (Chen & Goodman's interpolated modified Kneser-Ney, as ``lmplz`` builds it):

* the highest order uses raw counts; lower orders use *continuation* counts (the number of
  distinct words seen before the n-gram), except n-grams starting with ``<s>``, which keep
  raw counts;
* three discounts per order, D1, D2 and D3+, from that order's counts of counts;
* p(w | h) = (a(hw) - D(a(hw))) / a(h.) + gamma(h) p(w | h'), with gamma(h) the discounted
  mass; unigrams interpolate with the uniform distribution over the vocabulary plus
  ``<unk>``; ``<s>`` is never predicted.  gamma(h) is the ARPA back-off weight of h, so the
  probabilities of every context sum to one.

Text is normalised the same way for training and scoring (:func:`normalise_lines`), and the
settings are written beside the model as ``MODEL.json``.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.io.atomic import write_local_atomic
from dataprep.text.patterns import LINE_BREAK

NORMALISATION = {"version": 1, "form": "NFKC", "lowercase": True, "digits": "0", "punctuation": "split"}


def normalise_lines(text: pa.Array | list[str]) -> tuple[list[str], np.ndarray]:
    """Normalise texts for an n-gram model, with Arrow kernels over the whole batch: NFKC, lower
    case, digits -> 0, punctuation cut off as separate tokens, single spaces.  Returns the
    non-empty normalised lines and, for each, the index of the text it came from.  Training
    (``dataprep lm train``) and scoring (the ``perplexity`` stage) both use this function."""
    if not isinstance(text, (pa.Array, pa.ChunkedArray)):
        text = pa.array(text, pa.large_string())
    text = pc.utf8_lower(pc.utf8_normalize(text, "NFKC"))
    text = pc.replace_substring_regex(text, r"\pN", "0")
    text = pc.replace_substring_regex(text, r"([^\pL\pN\pM_\s'])", r" \1 ")
    lines = pc.split_pattern_regex(text, LINE_BREAK)
    flat, parents = pc.list_flatten(lines), np.asarray(pc.list_parent_indices(lines))
    flat = pc.utf8_trim_whitespace(pc.replace_substring_regex(flat, r"[\s\pZ]+", " "))
    keep = np.asarray(pc.greater(pc.utf8_length(flat), 0), dtype=bool)
    return flat.filter(pa.array(keep)).to_pylist(), parents[keep]


def sentences(lines: Iterable[str], chunk: int = 10_000) -> Iterator[list[str]]:
    """Normalised, tokenised non-empty lines."""
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= chunk:
            yield from (s.split() for s in normalise_lines(buffer)[0])
            buffer = []
    if buffer:
        yield from (s.split() for s in normalise_lines(buffer)[0])


def _discounts(counts: Iterable[int]) -> tuple[float, float, float]:
    coc = Counter(min(c, 4) for c in counts)
    n1, n2, n3, n4 = (coc.get(i, 0) for i in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return 0.5, 1.0, 1.5  # too little data for count-of-count estimates
    y = n1 / (n1 + 2 * n2)
    d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if not all(0 < di < i + 1 for i, di in enumerate(d)):
        return 0.5, 1.0, 1.5
    return d


def train_arpa(lines: Iterable[str], order: int = 3) -> str:
    """Estimate a modified Kneser-Ney model of ``order`` from text lines; return ARPA text."""
    if order < 1:
        raise ValueError("order must be at least 1")
    raw: list[Counter] = [Counter() for _ in range(order + 1)]
    for tokens in sentences(lines):
        padded = ["<s>", *tokens, "</s>"]
        for n in range(1, order + 1):
            for i in range(len(padded) - n + 1):
                raw[n][tuple(padded[i:i + n])] += 1
    if not raw[1]:
        raise ValueError("no text to train on")
    # adjusted counts
    adjusted: list[dict[tuple, int]] = [{} for _ in range(order + 1)]
    adjusted[order] = dict(raw[order])
    for n in range(order - 1, 0, -1):
        left = Counter(g[1:] for g in raw[n + 1])
        adjusted[n] = {g: (c if g[0] == "<s>" else left.get(g, 0)) for g, c in raw[n].items()}
        adjusted[n] = {g: c for g, c in adjusted[n].items() if c > 0 or g == ("<s>",)}
    adjusted[1].setdefault(("<s>",), 0)

    probs: list[dict[tuple, float]] = [{} for _ in range(order + 1)]
    backoff: list[dict[tuple, float]] = [{} for _ in range(order + 1)]
    for n in range(1, order + 1):
        d1, d2, d3 = _discounts(c for g, c in adjusted[n].items() if g != ("<s>",))
        def disc(c: int, d1: float = d1, d2: float = d2, d3: float = d3) -> float:
            return 0.0 if c == 0 else (d1 if c == 1 else d2 if c == 2 else d3)

        totals: dict[tuple, float] = defaultdict(float)
        mass: dict[tuple, float] = defaultdict(float)
        for g, c in adjusted[n].items():
            if g == ("<s>",):
                continue
            totals[g[:-1]] += c
            mass[g[:-1]] += disc(c)
        gamma = {h: mass[h] / totals[h] for h in totals}
        if n == 1:
            vocab = [g for g in adjusted[1] if g != ("<s>",)] + [("<unk>",)]
            uniform = 1.0 / len(vocab)
            total = totals[()]
            for g in vocab:
                c = adjusted[1].get(g, 0)
                probs[1][g] = (c - disc(c)) / total + gamma[()] * uniform
            probs[1][("<s>",)] = 0.0
        else:
            for g, c in adjusted[n].items():
                h = g[:-1]
                lower = _interpolated(probs, backoff, g[1:])
                probs[n][g] = (c - disc(c)) / totals[h] + gamma[h] * lower
        for h, value in gamma.items():
            if h:
                backoff[n - 1][h] = value
    return _format_arpa(probs, backoff, order)


def _interpolated(probs: list[dict], backoff: list[dict], g: tuple) -> float:
    """p(g[-1] | g[:-1]) from the (already built) lower orders, backing off as ARPA does."""
    n = len(g)
    if g in probs[n]:
        return probs[n][g]
    return backoff[n - 1].get(g[:-1], 1.0) * _interpolated(probs, backoff, g[1:])


def _log10(p: float) -> float:
    return -99.0 if p <= 0 else math.log10(p)


def _format_arpa(probs: list[dict], backoff: list[dict], order: int) -> str:
    out = ["", "\\data\\"]
    out += [f"ngram {n}={len(probs[n])}" for n in range(1, order + 1)]
    for n in range(1, order + 1):
        out += ["", f"\\{n}-grams:"]
        for g in sorted(probs[n]):
            line = f"{_log10(probs[n][g]):.7f}\t{' '.join(g)}"
            if n < order and g in backoff[n]:
                line += f"\t{_log10(backoff[n][g]):.7f}"
            elif n < order:
                line += "\t0"
            out.append(line)
    out += ["", "\\end\\", ""]
    return "\n".join(out)


def write_model(lines: Iterable[str], path: str | Path, order: int = 3) -> Path:
    """Train and write ``path`` (ARPA) and ``path.json`` (normalisation settings)."""
    path = Path(path)
    write_local_atomic(path, train_arpa(lines, order))
    write_local_atomic(f"{path}.json", json.dumps({"order": order, "normalisation": NORMALISATION}, indent=1))
    return path
