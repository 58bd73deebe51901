"""Whole Parquet files of a barrier's working state (edges, labels, shingle sets), read and
written (atomically) through fsspec, so state lives wherever the run's output does."""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.io.atomic import atomic_file
from dataprep.io.writer import STATE_FILE_OPTIONS


def write_table(table: pa.Table, path: str, storage_options: dict | None = None) -> None:
    with atomic_file(path, storage_options) as f:
        pq.write_table(table, f, **STATE_FILE_OPTIONS)


def reset_folder(path: str, storage_options: dict | None = None) -> None:
    """Empty (or create) a state folder: a barrier's ``combine`` runs again on resume."""
    fs, _, (root,) = fsspec.get_fs_token_paths(path, storage_options=storage_options or {})
    if fs.exists(root):
        fs.rm(root, recursive=True)
    fs.makedirs(root, exist_ok=True)


def read_table(path: str, storage_options: dict | None = None, columns: list[str] | None = None) -> pa.Table:
    with fsspec.open(path, "rb", **(storage_options or {})) as f:
        return pq.read_table(f, columns=columns)
