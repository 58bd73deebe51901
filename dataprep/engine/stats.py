"""stats.json: the receipts of every shard task summed per stage.

stats.json holds ``input`` (what the readers produced), one entry per stage (documents and
bytes in and out, removals by reason, extra counters, seconds summed over tasks; for a stage that
annotates, ``would_remove`` and ``would_remove_first``: what it would have removed, by reason, of
all it saw and of what no earlier stage would have removed), ``output`` (documents, and
``columns``: the name and Arrow type of every column of ``data/``), and ``lengths``: documents
per length bin (:func:`~dataprep.engine.counts.length_counts`) of the output (``kept``) and of
every removed document (``removed``), counted as they were written, so the report draws the
length distribution without reading the text back.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.engine.counts import LENGTH_BINS_PER_DECADE, add_counts
from dataprep.engine.receipt import Receipt
from dataprep.transform import Transform


def output_columns(fs: Any, root: str, data_files: list[str]) -> dict[str, str]:
    """The columns of ``data/`` and their Arrow types (the schemas of every file's footer, unified),
    for stats.json's ``output.columns``: what DuckDB, Hugging Face ``datasets`` or pandas will see."""
    schemas = []
    for path in data_files:
        with fs.open(f"{root}/{path}", "rb") as f:
            schemas.append(pq.read_schema(f))
    if not schemas:
        return {}
    schema = pa.unify_schemas(schemas, promote_options="permissive")
    return {field.name: str(field.type) for field in schema}


def aggregate(receipts: list[Receipt], stages: list[Transform]) -> dict[str, Any]:
    """Sum receipts into the stats.json structure (``input``, ``stages``, ``output``,
    ``lengths``) plus ``_files``: rows per output file, for the ledger check."""
    reader: dict[str, Any] = {"inputs": 0, "docs": 0, "bytes": 0, "seconds": 0.0, "quarantined": {}}
    per_stage: dict[int, dict[str, Any]] = {}
    files: dict[str, int] = {}
    lengths: dict[str, Any] = {"kept": {}, "removed": {}}
    for r in receipts:
        if r.reader is not None:
            add_counts(reader, asdict(r.reader))
        if r.lengths is not None:
            add_counts(lengths, asdict(r.lengths))
        for idx, counts in r.stages.items():
            add_counts(per_stage.setdefault(idx, {}), asdict(counts))
        for f in r.outputs:
            files[f.path] = f.rows
    out_stages = []
    for i, stage in enumerate(stages):
        s = per_stage.get(i, {})
        out_stages.append({
            "index": i,
            "stage": stage.stage_name(),
            "docs_in": s.get("docs_in", 0),
            "docs_out": s.get("docs_out", 0),
            "bytes_in": s.get("bytes_in", 0),
            "bytes_out": s.get("bytes_out", 0),
            "removed": dict(sorted(s.get("removed", {}).items())),
            "quarantined": dict(sorted(s.get("quarantined", {}).items())),
            "counters": dict(sorted(s.get("counters", {}).items())),
            "seconds": round(s.get("seconds", 0.0), 3),
            "seconds_per_mb": round(s.get("seconds", 0.0) / (s["bytes_in"] / 1e6), 4) if s.get("bytes_in") else None,
        })
        if stage.annotate:
            out_stages[-1]["annotate"] = True
            out_stages[-1]["would_remove"] = dict(sorted(s.get("would_remove", {}).items()))
            out_stages[-1]["would_remove_first"] = dict(sorted(s.get("would_remove_first", {}).items()))
    reader["seconds"] = round(reader["seconds"], 3)
    reader["quarantined"] = dict(sorted(reader["quarantined"].items()))
    final = out_stages[-1]["docs_out"] if out_stages else reader["docs"]
    out = {"input": reader, "stages": out_stages, "output": {"docs": final}, "_files": files}
    if all(r.lengths is not None for r in receipts):  # receipts of an older dataprep (a resumed run) have none
        out["lengths"] = {"bins_per_decade": LENGTH_BINS_PER_DECADE,
                          **{k: dict(sorted(v.items(), key=lambda kv: int(kv[0]))) for k, v in lengths.items()}}
    return out
