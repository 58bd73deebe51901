"""Per-shard removal lists written by barrier stages (exact and near-duplicate removal).

``combine`` writes ``<state>/shard=<name>/*.parquet`` (the layout of a Dask/pyarrow dataset
partitioned on ``shard``); each shard task then loads only its own list (:func:`load`), so no
worker ever holds the removals of the whole corpus, and :func:`apply` marks a batch with it.
"""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.io.state_files import read_table, write_table
from dataprep.schema import ID
from dataprep.transform import StageOutput, set_columns, split_by_reason


def write(table: pa.Table, path: str, storage_options: dict | None = None, part: int = 0) -> None:
    """Write ``table`` (with a ``shard`` column) partitioned by shard under ``path``, as file
    ``part.<part>.parquet`` of each shard's folder (writers of disjoint ids use distinct parts)."""
    fs, _, (root,) = fsspec.get_fs_token_paths(path, storage_options=storage_options or {})
    for shard in pc.unique(table.column("shard")).to_pylist():
        rows = table.filter(pc.equal(table.column("shard"), shard)).drop_columns(["shard"])
        write_table(rows, f"{root}/shard={shard}/part.{part}.parquet", storage_options)


def load(path: str, shard: str, columns: list[str], storage_options: dict | None = None) -> pa.Table:
    """One shard's removals: columns ``id`` and ``columns`` (no rows when it has none)."""
    fs, _, (root,) = fsspec.get_fs_token_paths(path, storage_options=storage_options or {})
    folder = f"{root}/shard={shard}"
    files = sorted(f for f in fs.find(folder) if f.endswith(".parquet")) if fs.exists(folder) else []
    tables = [read_table(f, storage_options, [ID, *columns]) for f in files]
    if not tables:
        return pa.table({c: pa.array([], pa.string()) for c in [ID, *columns]})
    return pa.concat_tables(tables).combine_chunks()


def apply(batch: pa.Table, found: pa.Table, columns: list[str], reason: str | None = None) -> StageOutput:
    """Set ``columns`` from one shard's :func:`load` result (null for ids not in it) and remove
    the documents to remove: with ``reason``, every document whose first column (e.g.
    ``duplicate_of``) is set; without, those whose ``reason`` column (loaded too) is set, with it."""
    at = pc.index_in(batch.column(ID), value_set=found.column(ID))
    scored = set_columns(batch, {c: found.column(c).take(at) for c in columns})
    if reason is None:
        reasons = found.column("reason").take(at)
    else:
        reasons = pc.if_else(pc.is_valid(scored.column(columns[0])), pa.scalar(reason), pa.scalar(None, pa.string()))
    return split_by_reason(scored, reasons)
