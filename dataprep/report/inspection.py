"""``dataprep inspect``: what is in a Parquet dataset or a run folder."""

from __future__ import annotations

import json
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.io.layout import DATA, QUARANTINE, REMOVED, STATS_FILE


def parquet_files(path: str, storage_options: dict | None = None) -> tuple[fsspec.AbstractFileSystem, list[str]]:
    fs, _, (root,) = fsspec.get_fs_token_paths(path, storage_options=storage_options or {})
    if fs.isfile(root):
        return fs, [root]
    return fs, sorted(p for p in fs.find(root) if p.endswith(".parquet"))


def read_table(path: str, columns: list[str] | None = None, storage_options: dict | None = None) -> pa.Table:
    """Every Parquet file under ``path`` (sorted by name) as one table; schemas are unified."""
    fs, files = parquet_files(path, storage_options)
    tables = []
    for f in files:
        with fs.open(f, "rb") as fh:
            tables.append(pq.read_table(fh, columns=columns))
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="permissive")


def describe_dataset(path: str, samples: int = 3) -> dict[str, Any]:
    fs, files = parquet_files(path)
    rows, schema = 0, None
    for f in files:
        with fs.open(f, "rb") as fh:
            pf = pq.ParquetFile(fh)
            rows += pf.metadata.num_rows
            schema = schema or pf.schema_arrow
    sample_rows: list[dict[str, Any]] = []
    for f in files:
        if len(sample_rows) >= samples:
            break
        with fs.open(f, "rb") as fh:
            sample_rows += pq.read_table(fh).slice(0, samples - len(sample_rows)).to_pylist()
    return {"path": path, "files": len(files), "rows": rows, "schema": schema, "samples": sample_rows}


def describe_run(path: str) -> dict[str, Any] | None:
    """Stats of a run folder, or None when ``path`` is not one."""
    fs, _, (root,) = fsspec.get_fs_token_paths(path)
    stats_path = f"{root}/{STATS_FILE}"
    if not fs.exists(stats_path):
        return None
    stats = json.loads(fs.cat_file(stats_path))
    return {
        "stats": stats,
        "data": describe_dataset(f"{path}/{DATA}") if fs.exists(f"{root}/{DATA}") else None,
        "removed": describe_dataset(f"{path}/{REMOVED}", 0)["rows"] if fs.exists(f"{root}/{REMOVED}") else 0,
        "quarantine": describe_dataset(f"{path}/{QUARANTINE}", 0)["rows"] if fs.exists(f"{root}/{QUARANTINE}") else 0,
    }
