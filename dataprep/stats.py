"""Run accounting: per-shard receipts summed into stats.json, and the ledger check.

stats.json also holds ``lengths``: documents per length bin (:func:`length_counts`) of the
output (``kept``) and of every removed document (``removed``), counted as they are written, so
the report draws the length distribution without reading the text back.

The ledger is the promise that nothing is lost: for the input, every record read is a
document or a quarantine row; for every stage, documents in = kept + removed; each stage
receives what the previous one kept; and the files on disk hold exactly those counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.transform import Transform

LENGTH_BINS_PER_DECADE = 8  # document lengths are counted in bins 10^(b/8) <= characters < 10^((b+1)/8)


class LedgerError(RuntimeError):
    """Counts that do not add up: a bug (in a stage or in dataprep), never a data problem."""


def add_counts(into: dict[str, Any], part: dict[str, Any]) -> None:
    """Add the counts of ``part`` into ``into``, one level of nested dicts deep."""
    for k, v in part.items():
        if isinstance(v, dict):
            target = into.setdefault(k, {})
            for rk, rv in v.items():
                target[rk] = target.get(rk, 0) + rv
        else:
            into[k] = into.get(k, 0) + v


def length_counts(text: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """Documents per length bin: key ``b`` counts documents of ``10^(b/8)`` to ``10^((b+1)/8)``
    characters (:data:`LENGTH_BINS_PER_DECADE`); key ``-1`` counts empty documents."""
    chars = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.float64)
    if chars.size == 0:
        return {}
    with np.errstate(divide="ignore"):
        bins = np.where(chars > 0, np.floor(np.log10(chars) * LENGTH_BINS_PER_DECADE), -1).astype(np.int64)
    values, counts = np.unique(bins, return_counts=True)
    return {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist())}


def aggregate(receipts: list[dict[str, Any]], stages: list[Transform]) -> dict[str, Any]:
    """Sum receipts into the stats.json structure (``input`` and one entry per stage)."""
    reader: dict[str, Any] = {"inputs": 0, "docs": 0, "bytes": 0, "seconds": 0.0, "quarantined": {}}
    per_stage: dict[int, dict[str, Any]] = {}
    files: dict[str, int] = {}
    lengths: dict[str, Any] = {"kept": {}, "removed": {}}
    for r in receipts:
        if r.get("reader"):
            add_counts(reader, r["reader"])
        add_counts(lengths, r.get("lengths") or {})
        for idx, counts in r["stages"].items():
            add_counts(per_stage.setdefault(int(idx), {}), counts)
        for f in r["outputs"]:
            files[f["path"]] = f["rows"]
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
            "counters": dict(sorted(s.get("counters", {}).items())),
            "seconds": round(s.get("seconds", 0.0), 3),
        })
    reader["seconds"] = round(reader["seconds"], 3)
    reader["quarantined"] = dict(sorted(reader["quarantined"].items()))
    final = out_stages[-1]["docs_out"] if out_stages else reader["docs"]
    out = {"input": reader, "stages": out_stages, "output": {"docs": final}, "_files": files}
    if all("lengths" in r for r in receipts):  # receipts of an older dataprep (a resumed run) have none
        out["lengths"] = {"bins_per_decade": LENGTH_BINS_PER_DECADE,
                          **{k: dict(sorted(v.items(), key=lambda kv: int(kv[0]))) for k, v in lengths.items()}}
    return out


def check_ledger(stats: dict[str, Any]) -> list[str]:
    """Return the violated ledger equations (empty when the books balance)."""
    errors = []
    reader = stats["input"]
    quarantined = sum(reader["quarantined"].values())
    if reader["inputs"] != reader["docs"] + quarantined:
        errors.append(f"input: {reader['inputs']} records read != {reader['docs']} documents + {quarantined} quarantined")
    upstream = reader["docs"]
    for s in stats["stages"]:
        removed = sum(s["removed"].values())
        if s["docs_in"] != upstream:
            errors.append(f"stage {s['index']} {s['stage']}: received {s['docs_in']} documents, previous stage kept {upstream}")
        if s["docs_in"] != s["docs_out"] + removed:
            errors.append(f"stage {s['index']} {s['stage']}: {s['docs_in']} in != {s['docs_out']} kept + {removed} removed")
        upstream = s["docs_out"]
    files = stats.get("_files", {})
    on_disk = {
        "data": sum(n for p, n in files.items() if p.startswith("data/")),
        "quarantine": sum(n for p, n in files.items() if p.startswith("quarantine/")),
    }
    if on_disk["data"] != upstream:
        errors.append(f"output: data/ holds {on_disk['data']} rows, the last stage kept {upstream}")
    if on_disk["quarantine"] != quarantined:
        errors.append(f"quarantine/ holds {on_disk['quarantine']} rows, the readers quarantined {quarantined}")
    for s in stats["stages"]:
        prefix = f"removed/{s['index']:02d}-"
        rows = sum(n for p, n in files.items() if p.startswith(prefix))
        if rows != sum(s["removed"].values()):
            errors.append(f"stage {s['index']} {s['stage']}: {prefix}* holds {rows} rows, stats say {sum(s['removed'].values())}")
    return errors
