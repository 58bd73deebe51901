"""``dedup_exact``: remove documents whose normalised text is identical to another's.

A barrier stage on Dask.  Each shard task hashes its documents' normalised text (128-bit
BLAKE2b; normalisation with Arrow kernels: Unicode NFC, lower case, runs of white space made
one space, trimmed) and writes ``(hash, id, shard)`` as its summary.  ``combine`` exchanges
the hashes between Dask tasks into ``partitions`` partitions (:mod:`dataprep.engine.exchange`, so no
single worker holds the whole corpus), keeps the smallest ``id`` of every group as its
representative, and writes the other members, partitioned by shard.  Each shard then loads only its own
removals.  Removed documents carry ``duplicate_of`` (the representative's id).  ``keep: none``
removes every member of a group instead, and ``against`` removes what duplicates a reference
dataset (reason ``dedup_exact:in_reference``), see :mod:`dataprep.dedup.policy`.

Memory: the grouping is spread over ``partitions`` tasks of about
``documents x 50 bytes / partitions`` each (by default at most 4M documents a task,
:data:`dataprep.transform.PARTITION_ROWS`); a shard task holds only its own removals.
"""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.dedup import removals
from dataprep.dedup.hash_groups import repeated_hash_groups
from dataprep.dedup.policy import DedupPolicyParams, Keep, decide, with_reference
from dataprep.dedup.reference import summarize_reference
from dataprep.engine.exchange import key_partition
from dataprep.engine.summaries import Summaries
from dataprep.io.state_files import reset_folder
from dataprep.schema import ID, TEXT
from dataprep.transform import GlobalTransform, StageOutput


class DedupExactParams(DedupPolicyParams):
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


def _duplicates(table: pa.Table, partition: int, keep: Keep) -> pa.Table:
    """Within one partition of the hash exchange: the documents to remove (:mod:`dataprep.dedup.policy`),
    each with ``duplicate_of`` (its group's smallest id) and its reason."""
    if not table.num_rows:
        return pa.table({ID: pa.array([], pa.string()), "duplicate_of": pa.array([], pa.string()),
                         "reason": pa.array([], pa.string()), "shard": pa.array([], pa.string())})
    groups = repeated_hash_groups(table, [ID])
    ids = groups.rows.column(ID).combine_chunks()
    reps = ids.take(pa.array(np.flatnonzero(groups.first)[groups.group]))
    duplicate_of, reasons, _ = decide(ids, reps, groups.sizes() > 1, keep, "dedup_exact:duplicate",
                                      "dedup_exact:in_reference")
    gone = pc.is_valid(reasons)
    return pa.table({ID: ids.filter(gone), "duplicate_of": duplicate_of.filter(gone), "reason": reasons.filter(gone),
                     "shard": groups.rows.column("shard").filter(gone)})


class DedupExact(GlobalTransform):
    """Keep one document (the smallest id) per group of identical normalised texts."""

    name = "dedup_exact"
    can_annotate = True
    Params = DedupExactParams

    def summarize(self, batch: pa.Table) -> pa.Table:
        texts = normalise(batch.column(TEXT), self.params.lowercase, self.params.collapse_whitespace)
        digests = b"".join(hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts.to_pylist())
        halves = np.frombuffer(digests, dtype="<u8").reshape(-1, 2) if digests else np.zeros((0, 2), np.uint64)
        return pa.table({"h1": pa.array(halves[:, 0]), "h2": pa.array(halves[:, 1]), ID: batch.column(ID)})

    def reads_documents(self) -> bool:
        return False

    def prepare_run(self, workdir: str, storage_options: dict) -> dict[str, Any] | None:
        """With ``against``: the reference's summaries (:mod:`dataprep.dedup.reference`)."""
        if self.params.against is None:
            return None
        return summarize_reference(self, self.params.against, workdir, storage_options)

    def combine(self, summaries: Summaries) -> Any:
        from distributed import worker_client

        out = f"{summaries.workdir}/duplicates"
        reset_folder(out, summaries.storage_options)
        summaries = with_reference(summaries, getattr(self, "run_state", None))
        parts = self.params.partitions or summaries.partitions()
        with worker_client() as client:
            found = summaries.exchange(client, parts, key_partition("h1", parts),
                                       partial(_duplicates, keep=self.params.keep), columns=["h1", "h2", ID, "shard"])
        removals.write(pa.concat_tables(found), out, summaries.storage_options)
        return out

    def shard_state(self, state: Any, shard: str) -> pa.Table:
        return removals.load(state, shard, ["duplicate_of", "reason"])

    def apply(self, batch: pa.Table, state: pa.Table) -> StageOutput:
        return removals.apply(batch, state, ["duplicate_of"])
