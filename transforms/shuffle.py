"""``shuffle``: a seeded, global, document-level shuffle across all shards.

Every document gets the key ``hash(seed, id)`` (64 bits).  The output is all documents in key
order, cut into as many shards as the input had, so the order of the concatenated output is
a function of the documents and the seed only -- not of the workers, nor of how the input was
sharded.  It runs as an exchange of Dask tasks over Parquet files (:mod:`dataprep.engine.exchange`,
Arrow types survive exactly): each input shard splits its documents by key range
``[j * 2^64 / P, ...)``; output shard j gathers range j from every input, sorts it by key and
writes it.

Memory: one input shard (map) or one output shard (reduce) per task.  The stages after
``shuffle`` then run on the shuffled shards, fused as usual.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

from dataprep.engine.exchange import exchange
from dataprep.engine.summaries import Summaries
from dataprep.io.state_files import reset_folder
from dataprep.io.writer import ParquetShardWriter
from dataprep.schema import ID
from dataprep.text.hashing import seeded_keys
from dataprep.transform import GlobalTransform, Params, StageOutput


class ShuffleParams(Params):
    seed: int = Field(0, description="seed of the order")


def shuffle_keys(ids: list[str], seed: int) -> np.ndarray:
    """The key of the shuffled order (documents sorted by it, ties by id)."""
    return seeded_keys(ids, seed, sep="/", byteorder="big")


def _buckets(keys: np.ndarray, parts: int) -> np.ndarray:
    width = np.uint64((1 << 64) // parts)
    return np.minimum(keys // width, np.uint64(parts - 1)).astype(np.int64)


def _key_range(table: pa.Table, parts: int, seed: int) -> np.ndarray:
    return _buckets(shuffle_keys(table.column(ID).to_pylist(), seed), parts)


def _sort_and_write(table: pa.Table, j: int, workdir: str, schema: pa.Schema, seed: int, storage_options: dict) -> str:
    """Reduce: the documents of key range j, in key order (ties by id), as output shard j."""
    fs, _, _ = fsspec.get_fs_token_paths(workdir, storage_options=storage_options)
    if table.num_rows:
        keys = shuffle_keys(table.column(ID).to_pylist(), seed)
        order = np.lexsort((np.asarray(table.column(ID).to_pylist(), dtype=str), keys))
        table = table.take(pa.array(order, pa.int64())).cast(schema)
    rel = f"part-{j:05d}.parquet"
    writer = ParquetShardWriter(fs, workdir, rel, schema=schema)
    writer.write(table)
    writer.close()
    return f"{workdir}/{rel}"


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

        parts = len(summaries.inputs)
        reset_folder(summaries.workdir, summaries.storage_options)
        with fsspec.open(summaries.inputs[0], "rb", **summaries.storage_options) as f:
            schema = pq.ParquetFile(f).schema_arrow
        with worker_client() as client:
            return exchange(client, summaries.inputs, parts, summaries.workdir,
                            partial(_key_range, parts=parts, seed=self.params.seed),
                            partial(_sort_and_write, workdir=summaries.workdir, schema=schema, seed=self.params.seed,
                                    storage_options=summaries.storage_options),
                            storage_options=summaries.storage_options)

    def apply(self, batch: pa.Table, state: Any) -> StageOutput:
        return StageOutput(kept=batch)
