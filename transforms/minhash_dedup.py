"""``minhash_dedup``: near-duplicate removal with MinHash LSH, on Dask.

1. *summarize* (fused into the shard tasks before the barrier): shingle, sign and band every
   document of the batch at once (:mod:`dataprep.dedup.minhash`); the summary is one row per
   document and band: ``(id, band, key)``.
2. *combine* (one task that drives Dask; it holds no edges itself): the band keys are
   exchanged between Dask tasks (:mod:`dataprep.engine.exchange`) into ``partitions`` partitions by
   key, so each bucket lands whole in one task, which writes an edge (both ways) from each
   member of a bucket with more than one document to the bucket's smallest id.  With
   ``verify``, an edge is kept only if the exact Jaccard similarity of the two documents'
   shingle sets reaches ``threshold`` (:mod:`dataprep.dedup.candidate_jaccard`: each shard re-read
   once, for its candidates only).  Connected components are found by min-label propagation
   over the partitioned edges (:mod:`dataprep.dedup.components`); each partition of labels is
   written as per-shard removal lists: the smallest id of each component is kept (or none, with
   ``keep: none``; with ``against``, the reference's band keys take part and what clusters with
   a reference document is removed as ``in_reference``: :mod:`dataprep.dedup.policy`).
3. *apply*: each shard loads its own list; removed documents carry ``duplicate_of`` (the
   representative) and ``dup_cluster``; kept members of a cluster carry ``dup_cluster`` too.

Memory: a shard task holds one batch of signatures (``batch_size x num_perm x 4`` bytes), about
13 bytes per byte of the batch's text while its shingles are hashed (measured), and its removal
list; every other task holds one partition: of band keys (``documents x bands x ~40 bytes /
partitions``; by default at most 4M rows, :data:`dataprep.transform.PARTITION_ROWS`), of
edges and labels (~100 bytes per candidate document / ``partitions``), or, with ``verify``, one
shard's candidates' shingle sets. Results do not depend on workers, sharding or partitions:
keys, edges and components are functions of the documents alone.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from dataprep.dedup import removals
from dataprep.dedup.candidate_jaccard import verified_edges
from dataprep.dedup.components import components
from dataprep.dedup.minhash import band_keys, optimal_bands_rows, shingle_hashes, signatures
from dataprep.dedup.policy import DedupPolicyParams, Keep, decide, with_reference
from dataprep.dedup.reference import strip, summarize_reference
from dataprep.engine.exchange import key_partition
from dataprep.engine.summaries import Summaries
from dataprep.io.state_files import read_table, reset_folder, write_table
from dataprep.schema import ID, TEXT
from dataprep.sorted_unique import sorted_unique
from dataprep.transform import GlobalTransform, StageOutput


class MinHashParams(DedupPolicyParams):
    ngram: int = Field(5, ge=1, le=64, description="shingle size in words (or characters with mode: char)")
    mode: Literal["word", "char"] = Field(
        "word", description="word shingles, or character shingles for scripts without spaces")
    threshold: float = Field(0.8, gt=0.0, lt=1.0, description="Jaccard similarity that counts as a near duplicate")
    num_perm: int = Field(112, ge=2, le=1024, description="permutations, when bands and rows are chosen from threshold")
    bands: int | None = Field(None, ge=1, description="LSH bands (with rows; default: chosen from threshold)")
    rows: int | None = Field(None, ge=1, description="rows per band (with bands)")
    seed: int = Field(1, description="seed of the permutations (datasketch's MinHash seed)")
    verify: bool = Field(False, description="keep only candidate pairs whose exact Jaccard reaches threshold")
    partitions: int | None = Field(None, ge=1, description="Dask partitions of the band-key shuffle (default: one "
                                   "per 4M band keys, ~285k documents of 14 bands)")

    @model_validator(mode="after")
    def _bands_rows(self) -> MinHashParams:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then they are chosen from threshold and num_perm)")
        if self.verify and self.against is not None:
            raise ValueError("verify re-reads candidate documents, which a reference dataset (against) does not "
                             "offer: use one or the other")
        return self

    def lsh(self) -> tuple[int, int]:
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return optimal_bands_rows(self.threshold, self.num_perm)


def _shingle_sets(text: pa.Array, ngram: int, mode: str) -> pa.Array:
    """list<uint32>: the sorted distinct shingle hashes of every document."""
    hv, doc = shingle_hashes(text, ngram, mode)
    keys = sorted_unique((doc.astype(np.uint64) << np.uint64(32)) | hv.astype(np.uint64))
    offsets = np.searchsorted((keys >> np.uint64(32)).astype(np.int64), np.arange(len(text) + 1))
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)),
                                    pa.array((keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)))


def _bucket_edges(table: pa.Table, partition: int, workdir: str, storage_options: dict) -> int:
    """Within one partition of the band-key exchange (whole buckets): an edge, both ways, from
    every document of a bucket with more than one member to the bucket's smallest id; written
    to ``workdir/buckets/p<partition>.parquet`` (columns u, v, u_shard).  Returns the edges.

    Buckets are found on the integer columns alone; ids are sorted only within the buckets
    that have more than one member (a small part of the rows)."""
    bands, keys = table.column("band").to_numpy(), table.column("key").to_numpy()
    order = np.argsort(keys)  # keys of different bands differ (each band mixes its own seed in) ...
    band, key = bands[order], keys[order]
    if np.any((key[1:] == key[:-1]) & (band[1:] != band[:-1])):
        order = np.lexsort((keys, bands))  # ... but for a 64-bit collision, which needs the full sort
        band, key = bands[order], keys[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    bucket = np.cumsum(starts) - 1
    shared = np.bincount(bucket)[bucket] > 1 if len(bucket) else np.zeros(0, bool)
    rows = pa.array(order[shared])
    members = pa.table({"bucket": bucket[shared], "id": table.column(ID).take(rows),
                        "shard": table.column("shard").take(rows)})
    members = members.sort_by([("bucket", "ascending"), ("id", "ascending")])
    in_bucket = members.column("bucket").to_numpy()
    first_row = np.ones(len(in_bucket), dtype=bool)
    first_row[1:] = in_bucket[1:] != in_bucket[:-1]
    first = np.flatnonzero(first_row)[np.cumsum(first_row) - 1]  # each member's bucket's first (smallest id) row
    rest = np.flatnonzero(~first_row)
    ids, shards = members.column("id"), members.column("shard")
    edges = pa.concat_tables([
        pa.table({"u": ids.take(rest), "v": ids.take(first[rest]), "u_shard": shards.take(rest)}),
        pa.table({"u": ids.take(first[rest]), "v": ids.take(rest), "u_shard": shards.take(first[rest])}),
    ])
    edges = edges.group_by(["u", "v"]).aggregate([("u_shard", "min")])
    edges = pa.table({"u": edges.column("u"), "v": edges.column("v"), "u_shard": edges.column("u_shard_min")})
    write_table(edges.sort_by([("u", "ascending"), ("v", "ascending")]), f"{workdir}/buckets/p{partition:05d}.parquet",
                storage_options)
    return edges.num_rows


def _write_removals(labels_path: str, part: int, out: str, storage_options: dict, keep: Keep) -> None:
    """One partition of the components as removal lists: every member of a cluster of the run
    gets ``dup_cluster`` (its smallest id); those removed (:mod:`dataprep.dedup.policy`) get
    ``duplicate_of`` and their reason too."""
    labels = read_table(labels_path, storage_options, ["node", "label", "shard"]).sort_by("node")
    node, label = labels.column("node").combine_chunks(), labels.column("label").combine_chunks()
    duplicate_of, reasons, own = decide(node, label, np.ones(len(node), dtype=bool), keep,
                                        "minhash_dedup:near_duplicate", "minhash_dedup:in_reference")
    own_rows = pa.array(own)
    removals.write(pa.table({
        ID: node.filter(own_rows),
        "duplicate_of": duplicate_of.filter(own_rows),
        "dup_cluster": strip(label).filter(own_rows),
        "reason": reasons.filter(own_rows),
        "shard": labels.column("shard").filter(own_rows),
    }), out, storage_options, part=part)


class MinHashDedup(GlobalTransform):
    """Keep one document (the smallest id) per cluster of near duplicates."""

    name = "minhash_dedup"
    can_annotate = True
    Params = MinHashParams

    def setup(self) -> None:
        self.bands, self.rows = self.params.lsh()

    def summarize(self, batch: pa.Table) -> pa.Table:
        hv, doc = shingle_hashes(batch.column(TEXT), self.params.ngram, self.params.mode)
        sig = signatures(hv, doc, batch.num_rows, self.bands * self.rows, self.params.seed)
        keys = band_keys(sig, self.bands, self.rows)
        has_shingles = np.bincount(doc, minlength=batch.num_rows)[: batch.num_rows] > 0
        rows = np.nonzero(has_shingles)[0]  # documents without text are never duplicates
        ids = batch.column(ID).take(pa.array(np.repeat(rows, self.bands)))
        return pa.table({
            ID: ids,
            "band": pa.array(np.tile(np.arange(self.bands, dtype=np.int16), len(rows))),
            "key": pa.array(keys[rows].reshape(-1)),
        })

    def reads_documents(self) -> bool:
        return self.params.verify

    def prepare_run(self, workdir: str, storage_options: dict) -> dict[str, Any] | None:
        """With ``against``: the reference's band keys (:mod:`dataprep.dedup.reference`)."""
        if self.params.against is None:
            return None
        return summarize_reference(self, self.params.against, workdir, storage_options)

    def combine(self, summaries: Summaries) -> Any:
        from distributed import worker_client

        so = summaries.storage_options
        out, graph = f"{summaries.workdir}/clusters", f"{summaries.workdir}/graph"
        reset_folder(out, so)
        reset_folder(graph, so)
        summaries = with_reference(summaries, getattr(self, "run_state", None))
        parts = self.params.partitions or summaries.partitions()
        with worker_client() as client:
            edges = summaries.exchange(client, parts, key_partition("key", parts),
                                       partial(_bucket_edges, workdir=graph, storage_options=so),
                                       columns=[ID, "band", "key", "shard"])
            edge_files = [f"{graph}/buckets/p{j:05d}.parquet" for j in range(parts)]
            if self.params.verify and sum(edges):
                sets = partial(_shingle_sets, ngram=self.params.ngram, mode=self.params.mode)
                edge_files, edges = verified_edges(client, edge_files, summaries, self.params.threshold, sets, parts,
                                                   f"{graph}/verify")
            if sum(edges):
                labels = components(client, edge_files, parts, f"{graph}/components", so)
                client.gather(client.map(_write_removals, labels, range(parts), out=out, storage_options=so,
                                         keep=self.params.keep, pure=False))
        return out

    def shard_state(self, state: Any, shard: str) -> pa.Table:
        return removals.load(state, shard, ["duplicate_of", "dup_cluster", "reason"])

    def apply(self, batch: pa.Table, state: pa.Table) -> StageOutput:
        return removals.apply(batch, state, ["duplicate_of", "dup_cluster"])
