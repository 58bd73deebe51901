"""``minhash_dedup``: near-duplicate removal with MinHash LSH, on Dask.

1. *summarize* (fused into the shard tasks before the barrier): shingle, sign and band every
   document of the batch at once (:mod:`dataprep.minhash`); the summary is one row per
   document and band: ``(id, band, key)``.
2. *combine* (one task that drives Dask): the band keys are exchanged between Dask tasks
   (:mod:`dataprep.exchange`) into ``partitions`` partitions by key, so each bucket lands whole
   in one task; every bucket with more than one document gives edges from each member to the
   bucket's smallest id.
   With ``verify``, each edge is kept only if the exact Jaccard similarity of the two
   documents' shingle sets reaches ``threshold`` (the documents are re-read, one task per
   shard, only for documents that have an edge).  Connected components of the edges are found
   with vectorised label propagation; the smallest id of each component is kept, the others
   are written as per-shard removal lists.
3. *apply*: each shard loads its own list; removed documents carry ``duplicate_of`` (the
   representative) and ``dup_cluster``; kept members of a cluster carry ``dup_cluster`` too.

Memory: a shard task holds one batch of signatures (``batch_size x num_perm x 4`` bytes), about
13 bytes per byte of the batch's text while its shingles are hashed (measured), and its removal
list; the shuffle holds ``documents x bands x ~40 bytes / partitions`` per partition; the
combine task holds the edges and nodes of candidate documents only (about 50 bytes per
candidate document), never the whole corpus. Raise ``partitions`` as the corpus grows. Results
do not depend on workers or sharding: keys, edges and components are functions of the documents
alone.
"""

from __future__ import annotations

from typing import Any, Literal

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from dataprep import removals
from dataprep.exchange import key_partition
from dataprep.minhash import band_keys, connected_components, optimal_bands_rows, shingle_hashes, signatures
from dataprep.schema import ID, TEXT
from dataprep.transform import GlobalTransform, Params, StageOutput, Summaries


class MinHashParams(Params):
    ngram: int = Field(5, ge=1, le=64, description="shingle size in words (or characters with mode: char)")
    mode: Literal["word", "char"] = Field("word", description="word shingles, or character shingles for scripts without spaces")
    threshold: float = Field(0.8, gt=0.0, lt=1.0, description="Jaccard similarity that counts as a near duplicate")
    num_perm: int = Field(112, ge=2, le=1024, description="permutations, when bands and rows are chosen from threshold")
    bands: int | None = Field(None, ge=1, description="LSH bands (with rows; default: chosen from threshold)")
    rows: int | None = Field(None, ge=1, description="rows per band (with bands)")
    seed: int = Field(1, description="seed of the permutations (datasketch's MinHash seed)")
    verify: bool = Field(False, description="keep only candidate pairs whose exact Jaccard reaches threshold")
    partitions: int | None = Field(None, ge=1, description="Dask partitions of the band-key shuffle (default: one per 4 shards)")

    @model_validator(mode="after")
    def _bands_rows(self) -> "MinHashParams":
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then they are chosen from threshold and num_perm)")
        return self

    def lsh(self) -> tuple[int, int]:
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return optimal_bands_rows(self.threshold, self.num_perm)


def _shingle_sets(path: str, ids: list[str], ngram: int, mode: str, storage_options: dict) -> dict[str, np.ndarray]:
    """Sorted unique shingle hashes of the listed documents of one shard file (a Dask task)."""
    with fsspec.open(path, "rb", **storage_options) as f:
        table = pq.read_table(f, columns=[ID, TEXT])
    table = table.filter(pc.is_in(table.column(ID), value_set=pa.array(ids, pa.string())))
    hv, doc = shingle_hashes(table.column(TEXT), ngram, mode)
    bounds = np.searchsorted(doc, np.arange(table.num_rows + 1))
    return {i: np.unique(hv[bounds[k]:bounds[k + 1]]) for k, i in enumerate(table.column(ID).to_pylist())}


def _bucket_members(table: pa.Table, partition: int) -> pa.Table:
    """Within one partition of the band-key exchange (whole buckets): the documents of buckets
    with more than one member, each with its bucket's smallest id (``min``)."""
    order = pc.sort_indices(table, sort_keys=[("band", "ascending"), ("key", "ascending"), (ID, "ascending")])
    table = table.take(order)
    band, key = table.column("band").to_numpy(), table.column("key").to_numpy()
    starts = np.ones(len(band), dtype=bool)  # first row of each bucket: its smallest id
    starts[1:] = (band[1:] != band[:-1]) | (key[1:] != key[:-1])
    bucket = np.cumsum(starts) - 1
    members = np.flatnonzero(np.bincount(bucket)[bucket] > 1)
    first = np.flatnonzero(starts)[bucket[members]]
    ids = table.column(ID)
    return pa.table({ID: ids.take(members), "shard": table.column("shard").take(members), "min": ids.take(first)})


def _jaccard(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) == 0 and len(y) == 0:
        return 1.0
    inter = len(np.intersect1d(x, y, assume_unique=True))
    return inter / (len(x) + len(y) - inter)


class MinHashDedup(GlobalTransform):
    """Keep one document (the smallest id) per cluster of near duplicates."""

    name = "minhash_dedup"
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

    def combine(self, summaries: Summaries) -> Any:
        from distributed import worker_client

        out = f"{summaries.workdir}/clusters"
        removals.reset(out, summaries.storage_options)
        parts = self.params.partitions or max(1, len(summaries.paths) // 4)
        with worker_client() as client:
            found = summaries.exchange(client, parts, key_partition("key", parts), _bucket_members,
                                       columns=[ID, "band", "key", "shard"])
            members = pa.concat_tables(found)
            edges = members.filter(pc.not_equal(members.column(ID), members.column("min")))
            edges = edges.group_by([ID, "min"]).aggregate([])  # unique pairs
            nodes = members.group_by([ID, "shard"]).aggregate([])
            if self.params.verify and edges.num_rows:
                edges = self._verify(edges, nodes, summaries, client)
        if edges.num_rows == 0:
            return out
        names = np.unique(np.asarray(nodes.column(ID).to_pylist(), dtype=str))  # sorted: index order is id order
        shard_of = dict(zip(nodes.column(ID).to_pylist(), nodes.column("shard").to_pylist()))
        a = np.searchsorted(names, np.asarray(edges.column(ID).to_pylist(), dtype=str))
        b = np.searchsorted(names, np.asarray(edges.column("min").to_pylist(), dtype=str))
        labels = connected_components(a, b, len(names))
        in_cluster = np.zeros(len(names), dtype=bool)
        in_cluster[a] = in_cluster[b] = True
        members_idx = np.nonzero(in_cluster)[0]
        reps = names[labels[members_idx]]
        ids = names[members_idx]
        table = pa.table({
            ID: pa.array(ids.tolist(), pa.string()),
            "duplicate_of": pa.array([None if r == i else r for i, r in zip(ids.tolist(), reps.tolist())], pa.string()),
            "dup_cluster": pa.array(reps.tolist(), pa.string()),
            "shard": pa.array([shard_of[i] for i in ids.tolist()], pa.string()),
        })
        removals.write(table, out, summaries.storage_options)
        return out

    def _verify(self, edges: pa.Table, nodes: pa.Table, summaries: Summaries, client) -> pa.Table:
        """Keep the edges whose documents' exact shingle-set Jaccard reaches the threshold."""
        by_shard: dict[str, list[str]] = {}
        for doc_id, shard in zip(nodes.column(ID).to_pylist(), nodes.column("shard").to_pylist()):
            by_shard.setdefault(shard, []).append(doc_id)
        index = {s: i for i, s in enumerate(summaries.shards)}
        futures = [client.submit(_shingle_sets, summaries.inputs[index[s]], ids, self.params.ngram, self.params.mode,
                                 summaries.storage_options, pure=False) for s, ids in sorted(by_shard.items())]
        sets: dict[str, np.ndarray] = {}
        for part in client.gather(futures):
            sets.update(part)
        keep = [_jaccard(sets[x], sets[y]) >= self.params.threshold
                for x, y in zip(edges.column(ID).to_pylist(), edges.column("min").to_pylist())]
        return edges.filter(pa.array(keep, pa.bool_()))

    def shard_state(self, state: Any, shard: str) -> dict[str, tuple]:
        return removals.load(state, shard, ["duplicate_of", "dup_cluster"])

    def apply(self, batch: pa.Table, state: dict[str, tuple]) -> StageOutput:
        return removals.apply(batch, state, ["duplicate_of", "dup_cluster"], "minhash_dedup:near_duplicate")
