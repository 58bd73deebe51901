"""``shuffle``: a seeded, global, document-level shuffle across all shards.

Every document gets the key ``hash(seed, id)`` (64 bits).  The output is all documents in key
order, cut into as many shards as the input had, so the order of the concatenated output is
a function of the documents and the seed only -- not of the workers, nor of how the input was
sharded.  It runs as a two-phase shuffle of Dask tasks over Parquet files, written here rather
than with ``dask.dataframe`` so that Arrow types and bytes survive exactly (a pandas round trip
would change string and list types):

* map, one task per input shard: split its documents by key range ``[j * 2^64 / P, ...)``
  into at most P bucket files;
* reduce, one task per output shard j: read bucket j of every input shard, sort by key,
  write the shard.

Memory: one input shard (map) or one output shard (reduce) per task.  The stages after
``shuffle`` then run on the shuffled shards, fused as usual.
"""

from __future__ import annotations

import hashlib
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from dataprep.io.writer import ParquetShardWriter
from dataprep.schema import ID
from dataprep.transform import GlobalTransform, Params, StageOutput, Summaries


class ShuffleParams(Params):
    seed: int = Field(0, description="seed of the order")


def shuffle_keys(ids: list[str], seed: int) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(f"{seed}/{i}".encode(), digest_size=8).digest(), "big")
                     for i in ids], dtype=np.uint64)


def _buckets(keys: np.ndarray, parts: int) -> np.ndarray:
    width = np.uint64((1 << 64) // parts)
    return np.minimum(keys // width, np.uint64(parts - 1)).astype(np.int64)


def _map(path: str, workdir: str, source: int, parts: int, seed: int, storage_options: dict) -> list[int]:
    fs, _, _ = fsspec.get_fs_token_paths(workdir, storage_options=storage_options)
    with fs.open(path, "rb") as f:
        table = pq.read_table(f)
    buckets = _buckets(shuffle_keys(table.column(ID).to_pylist(), seed), parts)
    written = []
    for j in np.unique(buckets).tolist():
        writer = ParquetShardWriter(fs, workdir, f"map/b{j:05d}/s{source:05d}.parquet")
        writer.write(table.filter(pa.array(buckets == j)))
        writer.close()
        written.append(j)
    return written


def _reduce(workdir: str, j: int, sources: list[int], schema: pa.Schema, seed: int, storage_options: dict) -> str:
    fs, _, _ = fsspec.get_fs_token_paths(workdir, storage_options=storage_options)
    tables = []
    for s in sources:
        with fs.open(f"{workdir}/map/b{j:05d}/s{s:05d}.parquet", "rb") as f:
            tables.append(pq.read_table(f))
    table = pa.concat_tables(tables, promote_options="permissive") if tables else schema.empty_table()
    keys = shuffle_keys(table.column(ID).to_pylist(), seed)
    order = np.lexsort((np.array(table.column(ID).to_pylist(), dtype=object).astype(str), keys)) if len(keys) else []
    rel = f"part-{j:05d}.parquet"
    writer = ParquetShardWriter(fs, workdir, rel, schema=schema)
    writer.write(table.take(pa.array(order, pa.int64())).cast(schema) if len(keys) else table)
    writer.close()
    return rel


class Shuffle(GlobalTransform):
    """Reorder all documents by a seeded hash of their id; as many shards out as in."""

    name = "shuffle"
    Params = ShuffleParams
    repartition = True

    def summarize(self, batch: pa.Table) -> pa.Table:
        return batch.select([ID])

    def combine(self, summaries: Summaries) -> list[str]:
        """Shuffle the inputs into ``len(summaries.inputs)`` new shards; return their paths."""
        from distributed import worker_client

        from dataprep import removals

        parts = len(summaries.inputs)
        removals.reset(summaries.workdir, summaries.storage_options)
        fs, _, _ = fsspec.get_fs_token_paths(summaries.inputs[0], storage_options=summaries.storage_options)
        with fs.open(summaries.inputs[0], "rb") as f:
            schema = pq.ParquetFile(f).schema_arrow
        with worker_client() as client:
            mapped = client.gather(client.map(_map, summaries.inputs, [summaries.workdir] * parts, list(range(parts)),
                                              parts=parts, seed=self.params.seed,
                                              storage_options=summaries.storage_options, pure=False))
            sources = [[s for s, buckets in enumerate(mapped) if j in buckets] for j in range(parts)]
            outputs = client.gather(client.map(_reduce, [summaries.workdir] * parts, list(range(parts)), sources,
                                               schema=schema, seed=self.params.seed,
                                               storage_options=summaries.storage_options, pure=False))
        fs.rm(f"{summaries.workdir}/map", recursive=True)
        return [f"{summaries.workdir}/{rel}" for rel in outputs]

    def apply(self, batch: pa.Table, state: Any) -> StageOutput:
        return StageOutput(kept=batch)
