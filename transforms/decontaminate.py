"""``decontaminate``: remove (or redact) documents that share word n-grams with evaluation sets.

The evaluation sets are named in the recipe (``benchmarks: {name: path}``, or ``{name: {path,
fields, format}}``): JSONL or Parquet records whose ``fields`` are joined with a space (e.g.
question and answer), or text files of one record per line.  Their word n-grams (``ngram``,
13 by default, the GPT-3 paper's; words as MinHash finds them: letters, digits and marks of the
NFC, lower-cased text, so case and punctuation do not hide a match) are hashed to 64 bits
**once per run** (:meth:`Decontaminate.prepare_run`, on a worker) into one sorted array per
benchmark, saved as ``.npy`` under the stage's folder; every worker then memory-maps them once
(:meth:`setup`), so a reference of millions of n-grams costs its size on disk, shared by the
workers of a machine.  A document's n-grams are looked up in :class:`~dataprep.dedup.ngrams.NGramSet`:
a bit filter first (most n-grams are in no evaluation set), a binary search for those it passes.

A document with at least ``min_matches`` n-grams of one benchmark is removed with reason
``decontaminate:<name>`` (the benchmark with the most matches) and ``decontam_matches`` (that
count) -- or, with ``mode: redact``, the matching spans plus ``margin`` characters on each side
are cut out, as the GPT-3 paper did, and the document is removed only if fewer than ``min_keep``
characters remain.  Every document gains ``decontam_matches`` and ``decontam_benchmark``.
Benchmark records shorter than ``ngram`` words have no n-gram and cannot match.
"""

from __future__ import annotations

import io
import json
import unicodedata
from typing import Any, Literal

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, field_validator

from dataprep.dedup.ngrams import NGramSet, window_hashes, word_ngrams
from dataprep.io.atomic import atomic_file
from dataprep.schema import TEXT
from dataprep.sorted_unique import sorted_unique
from dataprep.text.hashing import word_hashes
from dataprep.transform import Params, StageOutput, Transform, set_columns, split_by_reason

ReferenceFormat = Literal["jsonl", "parquet", "text"]


class Benchmark(Params):
    path: str = Field(description="the evaluation set: a JSONL, Parquet or text file (or fsspec URL)")
    fields: list[str] = Field(default_factory=lambda: ["text"],
                              description="jsonl/parquet: the fields of a record, joined with a space")
    format: ReferenceFormat | None = Field(None, description="jsonl | parquet | text (default: from the extension)")


class DecontaminateParams(Params):
    benchmarks: dict[str, str | Benchmark] = Field(
        description="evaluation sets by name: a path, or {path, fields, format}")
    ngram: int = Field(13, ge=3, le=64, description="words per n-gram")
    min_matches: int = Field(1, ge=1, description="n-grams a document must share with one benchmark to be contaminated")
    mode: Literal["remove", "redact"] = Field("remove", description="remove the document, or cut the matches out")
    margin: int = Field(200, ge=0, description="redact: characters cut on each side of a match")
    min_keep: int = Field(200, ge=0, description="redact: a document left with fewer characters is removed")

    @field_validator("benchmarks")
    @classmethod
    def _some(cls, v: dict) -> dict:
        if not v:
            raise ValueError("name at least one evaluation set, e.g. {mmlu: evals/mmlu.jsonl}")
        bad = [name for name in v if not name.replace("_", "").replace("-", "").isalnum()]
        if bad:
            raise ValueError(f"benchmark names are letters, digits, - and _ (they become reasons): {bad}")
        return v


def _spec(value: str | Benchmark) -> Benchmark:
    return value if isinstance(value, Benchmark) else Benchmark(path=value)


def _format(spec: Benchmark) -> ReferenceFormat:
    if spec.format is not None:
        return spec.format
    path = spec.path.lower()
    if path.endswith(".parquet"):
        return "parquet"
    if any(path.endswith(e) for e in (".jsonl", ".json", ".jsonl.gz", ".jsonl.zst", ".ndjson")):
        return "jsonl"
    return "text"


def reference_texts(spec: Benchmark) -> list[str]:
    """The records of an evaluation set, as texts (the fields of a record joined by a space)."""
    fmt = _format(spec)
    with fsspec.open(spec.path, "rb", compression="infer") as f:
        raw = f.read()
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(raw), columns=spec.fields)
        rows = zip(*(table.column(c).to_pylist() for c in spec.fields))
    elif fmt == "jsonl":
        records = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
        rows = ([r.get(c) for c in spec.fields] for r in records)
    else:
        return [line for line in raw.decode("utf-8").splitlines() if line.strip()]
    return [" ".join(str(v) if not isinstance(v, list) else " ".join(map(str, v)) for v in row if v is not None)
            for row in rows]


def reference_ngrams(texts: list[str], n: int) -> np.ndarray:
    """The sorted, unique n-gram hashes of ``texts``."""
    hashes = [word_ngrams(pa.array(texts[i:i + 4096], pa.large_string()), n).hashes for i in range(0, len(texts), 4096)]
    return sorted_unique(np.concatenate(hashes)) if hashes else np.zeros(0, np.uint64)


def _is_word(c: str) -> bool:
    return unicodedata.category(c)[0] in "LNM"


def _redact(text: str, references: list[NGramSet], n: int, margin: int) -> tuple[str, int] | None:
    """``text`` with every n-gram found in one of ``references`` (and ``margin`` characters
    around it) cut out, and the characters cut; None when the matches cannot be placed in ``text``."""
    spans, start = [], None
    for i, c in enumerate(text + " "):
        if _is_word(c) and i < len(text):
            start = i if start is None else start
        elif start is not None:
            spans.append((start, i))
            start = None
    if len(spans) < n:
        return None
    words = [unicodedata.normalize("NFC", text[a:b]).lower().encode("utf-8") for a, b in spans]
    data = np.frombuffer(b"".join(words), dtype=np.uint8)
    ends = np.cumsum([len(w) for w in words])
    hashes = word_hashes(data, ends - np.array([len(w) for w in words]), ends)
    h = window_hashes(hashes, n)
    hit = np.flatnonzero(np.logical_or.reduce([reference.contains(h) for reference in references]))
    if not len(hit):
        return None
    cuts: list[list[int]] = []
    for k in hit:  # merge overlapping cuts, in text order
        a, b = max(spans[k][0] - margin, 0), min(spans[k + n - 1][1] + margin, len(text))
        if cuts and a <= cuts[-1][1]:
            cuts[-1][1] = max(cuts[-1][1], b)
        else:
            cuts.append([a, b])
    pieces, at = [], 0
    for a, b in cuts:
        pieces.append(text[at:a].strip())
        at = b
    pieces.append(text[at:].strip())
    kept = "\n\n".join(p for p in pieces if p)
    return kept, sum(b - a for a, b in cuts)



def _load(path: str, storage_options: dict) -> np.ndarray:
    """A prepared benchmark: memory-mapped when local (the workers of a machine share its pages)."""
    if "://" not in path or path.startswith("file://"):
        return np.load(path.removeprefix("file://"), mmap_mode="r", allow_pickle=False)
    with fsspec.open(path, "rb", **storage_options) as f:
        return np.load(io.BytesIO(f.read()), allow_pickle=False)


class Decontaminate(Transform):
    """Remove (or redact) documents that share word n-grams with named evaluation sets."""

    name = "decontaminate"
    can_annotate = True
    Params = DecontaminateParams

    def _names(self) -> list[str]:
        return sorted(self.params.benchmarks)

    def prepare_run(self, workdir: str, storage_options: dict) -> dict[str, Any]:
        """Hash every benchmark's n-grams once, into ``workdir/<name>.npy`` (sorted uint64)."""
        files, counts = {}, {}
        for name in self._names():
            ngrams = reference_ngrams(reference_texts(_spec(self.params.benchmarks[name])), self.params.ngram)
            path = f"{workdir}/{name}.npy"
            with atomic_file(path, storage_options) as tmp:
                np.save(tmp, ngrams, allow_pickle=False)
            files[name], counts[name] = path, int(len(ngrams))
        return {"files": files, "ngrams": counts, "storage_options": storage_options}

    def setup(self) -> None:
        state = getattr(self, "run_state", None)
        if state is None:  # used outside a run (e.g. process() in a notebook): build in memory
            arrays = {name: reference_ngrams(reference_texts(_spec(self.params.benchmarks[name])), self.params.ngram)
                      for name in self._names()}
        else:
            arrays = {name: _load(path, state["storage_options"]) for name, path in state["files"].items()}
        self.references = {name: NGramSet(hashes) for name, hashes in arrays.items()}

    def process(self, batch: pa.Table) -> StageOutput:
        n_docs = batch.num_rows
        names = self._names()
        ngrams = word_ngrams(batch.column(TEXT), self.params.ngram)
        counts = np.zeros((len(names), n_docs), dtype=np.int64)
        for j, name in enumerate(names):
            hit = self.references[name].contains(ngrams.hashes)
            counts[j] = np.bincount(ngrams.docs[hit], minlength=n_docs)[:n_docs]
        best = np.argmax(counts, axis=0) if n_docs else np.zeros(0, np.int64)
        most = counts[best, np.arange(n_docs)] if n_docs else np.zeros(0, np.int64)
        contaminated = most >= self.params.min_matches
        benchmark = np.where(contaminated, np.array(names, dtype=object)[best], None)
        columns = {"decontam_matches": pa.array(most.astype(np.int32)),
                   "decontam_benchmark": pa.array(benchmark.tolist(), pa.string())}
        reasons = [f"decontaminate:{b}" if b is not None else None for b in benchmark.tolist()]
        if self.params.mode == "redact":
            texts, cut = batch.column(TEXT).to_pylist(), np.zeros(n_docs, dtype=np.int64)
            for i in np.flatnonzero(contaminated):
                found = [self.references[name] for j, name in enumerate(names)
                         if counts[j, i] >= self.params.min_matches]
                done = _redact(texts[i], found, self.params.ngram, self.params.margin)
                if done is None:  # the matches could not be placed in the text: remove it whole
                    continue
                texts[i], cut[i] = done
                if len(texts[i]) >= self.params.min_keep:
                    reasons[i] = None
            columns[TEXT] = pa.array(texts, pa.large_string())
            columns["decontam_redacted_chars"] = pa.array(cut)
        scored = set_columns(batch, columns)
        if self.params.mode == "redact":  # removed documents are stored as they came
            original = set_columns(batch, {k: v for k, v in columns.items() if k != TEXT})
            return split_by_reason(scored, pa.array(reasons, pa.string()), removed_source=original)
        return split_by_reason(scored, pa.array(reasons, pa.string()))


