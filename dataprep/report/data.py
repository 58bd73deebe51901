"""What report.html shows, computed from a finished run: stats.json and the datasets it wrote.

:func:`collect` reads; :mod:`dataprep.report.html` renders.  Distributions read only the
columns they need, from the first ``max_rows`` rows of each folder in file order
(deterministic, bounded work on large runs); document lengths come from the counts in
stats.json (every document; no text is read back); samples read only the row groups that hold
the rows they pick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from dataprep.io.layout import DATA, QUARANTINE, REMOVED, STATS_FILE

#: score columns drawn as kept-against-removed histograms: (column, title, log scale)
SCORES = (("lang_score", "language score", False), ("perplexity", "perplexity", True),
          ("quality_score", "quality classifier score", False))


@dataclass
class Stage:
    """One row of the funnel: a stage and what it did (from stats.json)."""

    label: str  # "NN stage"
    docs_in: int
    docs_out: int
    removed: int
    bytes_out: int
    seconds: float
    seconds_per_mb: float | None  # summed task seconds per MB of text in (None: read no text)
    tokens: float | None  # tokens after the stage: counted by tokenize, else estimated (None: no tokenizer)
    tokens_counted: bool


@dataclass
class ReportData:
    name: str
    root: str
    inputs: int
    docs_read: int
    bytes_read: int
    read_seconds: float
    quarantined: dict[str, int]
    kept: int
    stages: list[Stage]
    bytes_per_token: float | None  # of the tokenize stage, for the estimates before it
    reasons: list[tuple[str, int]]  # "NN reason" (or "quarantine: reason") by count, largest first
    max_rows: int
    #: stats.json's length counts (bins per decade, kept/removed per bin), or None for an older run
    lengths: dict[str, Any] | None = None
    #: per column, the values of the kept and of the removed documents (text: lengths in characters)
    kept_columns: dict[str, np.ndarray] = field(default_factory=dict)
    removed_columns: dict[str, np.ndarray] = field(default_factory=dict)
    cluster_sizes: np.ndarray | None = None  # removed duplicates per near-duplicate cluster
    kept_samples: list[dict[str, Any]] = field(default_factory=list)
    removed_samples: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)  # (removed/ folder, rows)
    quarantine_samples: list[dict[str, Any]] = field(default_factory=list)
    #: annotating stages: ("NN reason", documents it would remove, of them no earlier stage's)
    would_remove: list[tuple[str, int, int]] = field(default_factory=list)

    def languages(self, top: int = 15) -> list[tuple[str, int]]:
        """Kept documents per language, the ``top`` most frequent."""
        langs: dict[str, int] = {}
        for value in self.kept_columns.get("lang", []):
            langs[str(value)] = langs.get(str(value), 0) + 1
        return sorted(langs.items(), key=lambda kv: -kv[1])[:top]

    def quality_columns(self) -> list[str]:
        return sorted({c for c in [*self.kept_columns, *self.removed_columns]
                       if c.startswith("quality_") and c != "quality_score"})


def dataset(folder: Path) -> ds.FileSystemDataset | None:
    """Every Parquet file under ``folder`` (stages add columns: the schemas are unified)."""
    files = sorted(str(p) for p in folder.rglob("*.parquet")) if folder.exists() else []
    if not files:
        return None
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    return ds.dataset(files, format="parquet", schema=schema)


def first_values(data: ds.Dataset | None, wanted: list[str], max_rows: int) -> dict[str, np.ndarray]:
    """The first ``max_rows`` values of the wanted columns that exist (text -> its length)."""
    if data is None:
        return {}
    names = list(dict.fromkeys(c for c in wanted if c in data.schema.names))
    if not names:
        return {}
    out: dict[str, list] = {c: [] for c in names}
    rows = 0
    for batch in data.to_batches(columns=names, batch_size=8192):
        for c in names:
            col = batch.column(c)
            if c == "text":
                col = pc.utf8_length(col)
            values = np.array(col.to_pylist(), dtype=object) if c == "lang" else col.to_numpy(zero_copy_only=False)
            out[c].append(values)
        rows += batch.num_rows
        if rows >= max_rows:
            break
    return {c: np.concatenate(v)[:max_rows] if v else np.array([]) for c, v in out.items()}


def samples(data: ds.FileSystemDataset | None, n: int, by_reason: bool) -> list[dict[str, Any]]:
    """The first ``n`` rows (``by_reason``: of each reason, at most ``8 n`` in all), in data
    order; only the row groups holding the picked rows are read in full."""
    if data is None:
        return []
    cols = [c for c in ("id", "source", "text", "reason", "error") if c in data.schema.names]
    if not by_reason or "reason" not in cols:
        return rows_at(data, np.arange(n), cols)
    codes = pc.dictionary_encode(data.to_table(columns=["reason"]).column("reason")).combine_chunks()
    codes = np.asarray(pc.fill_null(codes.indices, -1), dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    _, firsts, counts = np.unique(codes[order], return_index=True, return_counts=True)
    pick = np.sort(np.concatenate([order[f:f + min(n, c)] for f, c in zip(firsts, counts)]))[: 8 * n] \
        if len(codes) else np.zeros(0, np.int64)
    return rows_at(data, pick, cols)


def rows_at(data: ds.FileSystemDataset, rows: np.ndarray, columns: list[str]) -> list[dict[str, Any]]:
    """The rows at positions ``rows`` (sorted) of the dataset's files taken in order."""
    out: list[dict[str, Any]] = []
    base = 0
    for path in data.files:
        if base > (rows[-1] if len(rows) else -1):
            break
        pf = pq.ParquetFile(path)
        for g in range(pf.num_row_groups):
            size = pf.metadata.row_group(g).num_rows
            inside = rows[(rows >= base) & (rows < base + size)] - base
            if len(inside):
                table = pf.read_row_group(g, columns=[c for c in columns if c in pf.schema_arrow.names])
                out += table.take(pa.array(inside)).to_pylist()
            base += size
    return out


def _quality_columns(data: ds.Dataset | None) -> list[str]:
    return [c for c in data.schema.names if c.startswith("quality_")] if data is not None else []


def _stages(stats: dict[str, Any]) -> tuple[list[Stage], float | None]:
    """The funnel rows; tokens are counted by a tokenize stage and, for the stages before it
    (whose documents were never tokenized), estimated from the bytes each kept at the
    tokenizer's measured bytes per token."""
    counted = [s for s in stats["stages"] if "tokens" in (s.get("counters") or {})]
    per_byte = counted[0]["counters"]["tokens"] / max(counted[0]["bytes_in"], 1) if counted else None
    rows = []
    for s in stats["stages"]:
        tokens: float | None = None
        exact = "tokens" in (s.get("counters") or {})
        if exact:
            tokens = float(s["counters"]["tokens"])
        elif per_byte is not None:
            tokens = per_byte * s["bytes_out"]
        rows.append(Stage(f"{s['index']:02d} {s['stage']}", s["docs_in"], s["docs_out"], sum(s["removed"].values()),
                          s["bytes_out"], s["seconds"], s.get("seconds_per_mb"), tokens, exact))
    return rows, (1 / per_byte if per_byte else None)


def collect(out: str | Path, *, samples_per_reason: int = 3, max_rows: int = 100_000) -> ReportData:
    """Everything report.html shows about the finished run in ``out``."""
    root = Path(out)
    stats = json.loads((root / STATS_FILE).read_text())
    quarantined = stats["input"]["quarantined"]
    stages, bytes_per_token = _stages(stats)
    reasons = {f"quarantine: {k}": v for k, v in quarantined.items()}
    for s in stats["stages"]:
        reasons.update({f"{s['index']:02d} {k}": v for k, v in s["removed"].items()})
        reasons.update({f"{s['index']:02d} quarantine: {k}": v for k, v in s.get("quarantined", {}).items()})
    data = ReportData(
        name=str(stats.get("run", {}).get("name") or root.name), root=str(root.resolve()),
        inputs=stats["input"]["inputs"], docs_read=stats["input"]["docs"], bytes_read=stats["input"]["bytes"],
        read_seconds=stats["input"].get("seconds", 0.0), quarantined=quarantined, kept=stats["output"]["docs"],
        stages=stages, bytes_per_token=bytes_per_token, reasons=sorted(reasons.items(), key=lambda kv: -kv[1]),
        max_rows=max_rows, lengths=stats.get("lengths"))
    data.would_remove = [(f"{s['index']:02d} {k}", v, s.get("would_remove_first", {}).get(k, 0))
                         for s in stats["stages"] for k, v in s.get("would_remove", {}).items()]

    wanted = ([] if data.lengths is not None else ["text"]) + ["lang"] + [c for c, _, _ in SCORES]
    kept_data, removed_data = dataset(root / DATA), dataset(root / REMOVED)
    data.kept_columns = first_values(kept_data, wanted + _quality_columns(kept_data), max_rows)
    data.removed_columns = first_values(removed_data, wanted + _quality_columns(removed_data), max_rows)
    clusters = first_values(removed_data, ["dup_cluster"], 10 * max_rows).get("dup_cluster")
    if clusters is not None and len(clusters):
        data.cluster_sizes = np.unique(clusters.astype(str), return_counts=True)[1]

    data.kept_samples = samples(kept_data, samples_per_reason, False)
    removed_root = root / REMOVED
    for folder in sorted(removed_root.iterdir()) if removed_root.exists() else []:
        rows = samples(dataset(folder), samples_per_reason, True)
        if rows:
            data.removed_samples.append((folder.name, rows))
    data.quarantine_samples = samples(dataset(root / QUARANTINE), samples_per_reason, True)
    return data
