"""Whole Parquet files of a barrier's working state (edges, labels, shingle sets), read and
written through fsspec, so state lives wherever the run's output does."""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.io.writer import STATE_FILE_OPTIONS


def write_table(table: pa.Table, path: str, storage_options: dict | None = None) -> None:
    fs, _, (p,) = fsspec.get_fs_token_paths(path, storage_options=storage_options or {})
    fs.makedirs(fs._parent(p), exist_ok=True)
    with fs.open(p, "wb") as f:
        pq.write_table(table, f, **STATE_FILE_OPTIONS)


def read_table(path: str, storage_options: dict | None = None, columns: list[str] | None = None) -> pa.Table:
    with fsspec.open(path, "rb", **(storage_options or {})) as f:
        return pq.read_table(f, columns=columns)
