"""``dedup_exact``: remove documents whose normalised text is identical to another's.

A barrier stage on Dask.  Each shard task hashes its documents' normalised text (128-bit
BLAKE2b; normalisation with Arrow kernels: Unicode NFC, lower case, runs of white space made
one space, trimmed) and writes ``(hash, id, shard)`` as its summary.  ``combine`` groups the
hashes across all shards with a Dask dataframe shuffle (``split_out`` partitions, so no single
worker holds the whole corpus), keeps the smallest ``id`` of every group as its representative,
and writes the other members, partitioned by shard.  Each shard then loads only its own
removals.  Removed documents carry ``duplicate_of`` (the representative's id).

Memory: the grouping is spread over ``partitions`` Dask partitions of about
``documents x 60 bytes / partitions`` each; a shard task holds only its own removals.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep import removals
from dataprep.schema import ID, TEXT
from dataprep.transform import GlobalTransform, Params, StageOutput, Summaries, set_columns, split_by_reason


class DedupExactParams(Params):
    lowercase: bool = Field(True, description="compare texts in lower case")
    collapse_whitespace: bool = Field(True, description="compare with runs of white space made one space, trimmed")
    partitions: int | None = Field(None, ge=1, description="Dask partitions for grouping hashes (default: one per 8 shards)")


def normalise(text: pa.Array, lowercase: bool, collapse_whitespace: bool) -> pa.Array:
    text = pc.utf8_normalize(text, "NFC")
    if lowercase:
        text = pc.utf8_lower(text)
    if collapse_whitespace:
        text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"\s+", " "))
    return text


class DedupExact(GlobalTransform):
    """Keep one document (the smallest id) per group of identical normalised texts."""

    name = "dedup_exact"
    Params = DedupExactParams

    def summarize(self, batch: pa.Table) -> pa.Table:
        texts = normalise(batch.column(TEXT), self.params.lowercase, self.params.collapse_whitespace)
        hashes = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).hexdigest() for t in texts.to_pylist()]
        return pa.table({"hash": pa.array(hashes, pa.string()), ID: batch.column(ID)})

    def combine(self, summaries: Summaries) -> Any:
        from distributed import worker_client

        out = f"{summaries.workdir}/duplicates"
        removals.reset(out, summaries.storage_options)
        partitions = self.params.partitions or max(1, len(summaries.paths) // 8)
        with worker_client():
            docs = summaries.dataframe(columns=["hash", ID, "shard"])
            reps = docs.groupby("hash")[ID].min(split_out=partitions).to_frame("duplicate_of").reset_index()
            joined = docs.merge(reps, on="hash", how="inner", npartitions=partitions, shuffle_method="tasks")
            dups = joined[joined[ID] != joined["duplicate_of"]][[ID, "duplicate_of", "shard"]]
            dups.to_parquet(out, partition_on=["shard"], write_index=False, storage_options=summaries.storage_options or None)
        return out

    def shard_state(self, state: Any, shard: str) -> dict[str, str]:
        return {i: rep for i, (rep,) in removals.load(state, shard, ["duplicate_of"]).items()}

    def apply(self, batch: pa.Table, state: dict[str, str]) -> StageOutput:
        of = [state.get(i) for i in batch.column(ID).to_pylist()]
        scored = set_columns(batch, {"duplicate_of": pa.array(of, pa.string())})
        reasons = pc.if_else(pc.is_valid(scored.column("duplicate_of")), pa.scalar("dedup_exact:duplicate"),
                             pa.scalar(None, pa.string()))
        return split_by_reason(scored, reasons)
