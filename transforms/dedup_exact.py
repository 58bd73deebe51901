"""``dedup_exact``: remove documents whose normalised text is identical to another's.

A barrier stage on Dask.  Each shard task hashes its documents' normalised text (128-bit
BLAKE2b; normalisation with Arrow kernels: Unicode NFC, lower case, runs of white space made
one space, trimmed) and writes ``(hash, id, shard)`` as its summary.  ``combine`` exchanges
the hashes between Dask tasks into ``partitions`` partitions (:mod:`dataprep.engine.exchange`, so no
single worker holds the whole corpus), keeps the smallest ``id`` of every group as its
representative, and writes the other members, partitioned by shard.  Each shard then loads only its own
removals.  Removed documents carry ``duplicate_of`` (the representative's id).

Memory: the grouping is spread over ``partitions`` tasks of about
``documents x 50 bytes / partitions`` each (by default at most 4M documents a task,
:data:`dataprep.transform.PARTITION_ROWS`); a shard task holds only its own removals.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.dedup import removals
from dataprep.engine.exchange import key_partition
from dataprep.engine.summaries import Summaries
from dataprep.io.state_files import reset_folder
from dataprep.schema import ID, TEXT
from dataprep.transform import GlobalTransform, Params, StageOutput


class DedupExactParams(Params):
    lowercase: bool = Field(True, description="compare texts in lower case")
    collapse_whitespace: bool = Field(True, description="compare with runs of white space made one space, trimmed")
    partitions: int | None = Field(None, ge=1,
                                   description="partitions for grouping hashes (default: one per 4M documents)")


def normalise(text: pa.Array, lowercase: bool, collapse_whitespace: bool) -> pa.Array:
    text = pc.utf8_normalize(text, "NFC")
    if lowercase:
        text = pc.utf8_lower(text)
    if collapse_whitespace:
        text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))
    return text


def _duplicates(table: pa.Table, partition: int) -> pa.Table:
    """Within one partition of the hash exchange: every document whose text hash another
    document with a smaller id shares, with that smallest id as ``duplicate_of``."""
    groups = table.group_by(["h1", "h2"]).aggregate([(ID, "min")])
    joined = table.join(groups, keys=["h1", "h2"], join_type="inner")
    dups = joined.filter(pc.not_equal(joined.column(ID), joined.column(f"{ID}_min")))
    return pa.table({ID: dups.column(ID), "duplicate_of": dups.column(f"{ID}_min"), "shard": dups.column("shard")})


class DedupExact(GlobalTransform):
    """Keep one document (the smallest id) per group of identical normalised texts."""

    name = "dedup_exact"
    Params = DedupExactParams

    def summarize(self, batch: pa.Table) -> pa.Table:
        texts = normalise(batch.column(TEXT), self.params.lowercase, self.params.collapse_whitespace)
        digests = b"".join(hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts.to_pylist())
        halves = np.frombuffer(digests, dtype="<u8").reshape(-1, 2) if digests else np.zeros((0, 2), np.uint64)
        return pa.table({"h1": pa.array(halves[:, 0]), "h2": pa.array(halves[:, 1]), ID: batch.column(ID)})

    def reads_documents(self) -> bool:
        return False

    def combine(self, summaries: Summaries) -> Any:
        from distributed import worker_client

        out = f"{summaries.workdir}/duplicates"
        reset_folder(out, summaries.storage_options)
        parts = self.params.partitions or summaries.partitions()
        with worker_client() as client:
            found = summaries.exchange(client, parts, key_partition("h1", parts), _duplicates,
                                       columns=["h1", "h2", ID, "shard"])
        removals.write(pa.concat_tables(found), out, summaries.storage_options)
        return out

    def shard_state(self, state: Any, shard: str) -> pa.Table:
        return removals.load(state, shard, ["duplicate_of"])

    def apply(self, batch: pa.Table, state: pa.Table) -> StageOutput:
        return removals.apply(batch, state, ["duplicate_of"], "dedup_exact:duplicate")
