"""An all-to-all exchange of Arrow tables between Dask tasks, through Parquet files.

The global stages need to bring together rows that live in different shards: rows with the
same band key (near-duplicate buckets), the same text hash (exact duplicates), or the same key
range (the global shuffle).  :func:`exchange` does this in two waves of Dask tasks:

* map, one task per input file: read it, ``assign`` every row a partition in ``0..parts-1``,
  write one file per non-empty partition under ``workdir/map``;
* reduce, one task per partition: read that partition's files from every input (in input
  order, so the result does not depend on which task ran first), and return
  ``reduce(table, partition)``.

Written here rather than with ``dask.dataframe`` because rows stay Arrow tables end to end
(a pandas round trip changes string and list types, and costs an import of pandas on every
worker).  Memory: one input file per map task, one partition per reduce task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.io.writer import ParquetShardWriter
from dataprep.text.hashing import string_hashes


def _map(path: str, source: int, workdir: str, parts: int, assign: Callable[[pa.Table], np.ndarray],
         columns: list[str] | None, storage_options: dict) -> list[int]:
    fs, _, _ = fsspec.get_fs_token_paths(workdir, storage_options=storage_options)
    with fs.open(path, "rb") as f:
        table = pq.read_table(f, columns=columns)
    partition = np.asarray(assign(table), dtype=np.int64)
    if len(partition) and (partition.min() < 0 or partition.max() >= parts):
        raise ValueError(f"assign() gave partitions outside 0..{parts - 1}")
    order = np.argsort(partition, kind="stable")
    sorted_parts = partition[order]
    bounds = np.flatnonzero(np.diff(sorted_parts)) + 1
    written = []
    for chunk in np.split(order, bounds) if len(order) else []:
        j = int(partition[chunk[0]])
        writer = ParquetShardWriter(fs, workdir, f"map/p{j:05d}/s{source:05d}.parquet", state_file=True)
        writer.write(table.take(pa.array(chunk)))
        writer.close()
        written.append(j)
    return written


def _reduce_whole(workdir: str, inputs: list[str], columns: list[str] | None, reduce: Callable[[pa.Table, int], Any],
                  storage_options: dict) -> Any:
    """The one partition of a one-partition exchange: every input, read directly."""
    fs, _, _ = fsspec.get_fs_token_paths(workdir, storage_options=storage_options)
    tables = []
    for path in inputs:
        with fs.open(path, "rb") as f:
            tables.append(pq.read_table(f, columns=columns))
    return reduce(pa.concat_tables(tables, promote_options="permissive"), 0)


def _reduce(workdir: str, j: int, sources: list[int], schema: pa.Schema, reduce: Callable[[pa.Table, int], Any],
            storage_options: dict) -> Any:
    fs, _, _ = fsspec.get_fs_token_paths(workdir, storage_options=storage_options)
    tables = []
    for s in sources:
        with fs.open(f"{workdir}/map/p{j:05d}/s{s:05d}.parquet", "rb") as f:
            tables.append(pq.read_table(f))
    table = pa.concat_tables(tables, promote_options="permissive") if tables else schema.empty_table()
    return reduce(table, j)


def exchange(client: Any, inputs: list[str], parts: int, workdir: str, assign: Callable[[pa.Table], np.ndarray],
             reduce: Callable[[pa.Table, int], Any], columns: list[str] | None = None,
             storage_options: dict | None = None) -> list[Any]:
    """Regroup the rows of ``inputs`` into ``parts`` partitions; return ``reduce`` of each.
    (One partition needs no map wave: its task reads the inputs themselves.)"""
    storage_options = storage_options or {}
    if parts == 1:
        return [client.submit(_reduce_whole, workdir, inputs, columns, reduce, storage_options, pure=False).result()]
    fs, _, _ = fsspec.get_fs_token_paths(workdir, storage_options=storage_options)
    if fs.exists(f"{workdir}/map"):
        fs.rm(f"{workdir}/map", recursive=True)
    with fs.open(inputs[0], "rb") as f:
        schema = pq.ParquetFile(f).schema_arrow
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    mapped = client.gather(client.map(_map, inputs, list(range(len(inputs))), workdir=workdir, parts=parts,
                                      assign=assign, columns=columns, storage_options=storage_options, pure=False))
    sources = [[s for s, written in enumerate(mapped) if j in written] for j in range(parts)]
    results = client.gather(client.map(_reduce, [workdir] * parts, list(range(parts)), sources, schema=schema,
                                       reduce=reduce, storage_options=storage_options, pure=False))
    fs.rm(f"{workdir}/map", recursive=True)
    return results


def key_partition(column: str, parts: int) -> Callable[[pa.Table], np.ndarray]:
    """``assign`` for an already well-mixed uint64 key column: partition = key mod parts."""
    from functools import partial

    return partial(_by_key, column=column, parts=parts)


def _by_key(table: pa.Table, column: str, parts: int) -> np.ndarray:
    return (table.column(column).to_numpy().astype(np.uint64) % np.uint64(parts)).astype(np.int64)


def string_partition(table: pa.Table, column: str, parts: int) -> np.ndarray:
    """``assign`` for a string column: a hash of its UTF-8 bytes, mod ``parts`` (the same in
    every process, unlike Python's ``hash``)."""
    return (string_hashes(table.column(column)) % np.uint64(parts)).astype(np.int64)
