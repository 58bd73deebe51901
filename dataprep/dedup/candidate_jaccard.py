"""Exact Jaccard similarity of candidate pairs, with every step a partition of the work.

MinHash proposes pairs; ``verify`` keeps a pair only if the exact Jaccard similarity of the two
documents' shingle sets reaches the threshold.  Neither the sets nor the pairs are ever held in
one task:

1. one task per shard that has candidates reads that shard once and writes the shingle sets
   of its candidates (an exchange of the edges by the shard of their first document);
2. the sets are exchanged by document id, and the pairs by their first document into the same
   partitions, where each pair picks up its first set;
3. the pairs are exchanged by their second document, pick up the second set there, and keep
   what reaches the threshold: Jaccard computed for all pairs of the partition at once.

Memory per task: one shard's candidates' sets, or one partition of pairs and sets.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.engine.exchange import exchange, string_partition
from dataprep.io.state_files import read_table, write_table
from dataprep.schema import ID, TEXT

SetsOf = Callable[[pa.Array], pa.Array]  # texts -> list<uint32> of sorted distinct shingle hashes


def _shard_partition(table: pa.Table, shards: list[str]) -> np.ndarray:
    return np.asarray(pc.index_in(table.column("u_shard"), value_set=pa.array(shards, pa.string())), dtype=np.int64)


def _candidate_sets(edges: pa.Table, s: int, inputs: list[str], shards: list[str], sets_of: SetsOf,
                    workdir: str, storage_options: dict) -> str | None:
    """The shingle sets of shard s's candidate documents (column ``u`` of its edges)."""
    if edges.num_rows == 0:
        return None
    ids = pc.unique(edges.column("u"))
    docs = read_table(inputs[s], storage_options, [ID, TEXT])
    docs = docs.filter(pc.is_in(docs.column(ID), value_set=ids))
    path = f"{workdir}/sets/s{s:05d}.parquet"
    write_table(pa.table({ID: docs.column(ID), "shard": pa.repeat(pa.scalar(shards[s]), docs.num_rows),
                          "shingles": sets_of(docs.column(TEXT))}), path, storage_options)
    return path


def _keep(table: pa.Table, j: int, path: str, storage_options: dict) -> int:
    write_table(table, path.format(j=j), storage_options)
    return table.num_rows


def _pick_up(pairs: pa.Table, j: int, side: str, workdir: str, storage_options: dict) -> pa.Table:
    """``pairs`` with the set (and shard) of their ``side`` document, from partition j's sets.
    (Arrow's join cannot carry list columns: it joins row numbers, and rows are taken after.)"""
    sets = read_table(f"{workdir}/sets-by-id/p{j:05d}.parquet", storage_options)
    left = pa.table({side: pairs.column(side), "_pair": np.arange(pairs.num_rows, dtype=np.int64)})
    right = pa.table({side: sets.column(ID), "_set": np.arange(sets.num_rows, dtype=np.int64)})
    matched = left.join(right, keys=side, join_type="inner").sort_by("_pair")
    at = matched.column("_set")
    return pairs.take(matched.column("_pair")).append_column(f"{side}_shard", sets.column("shard").take(at)) \
        .append_column(f"{side}_set", sets.column("shingles").take(at))


def _with_first(pairs: pa.Table, j: int, workdir: str, storage_options: dict) -> int:
    return _keep(_pick_up(pairs, j, "u", workdir, storage_options), j, f"{workdir}/with-u/p{{j:05d}}.parquet",
                 storage_options)


def jaccard(a: pa.Array, b: pa.Array) -> np.ndarray:
    """Row-wise Jaccard similarity of two list<uint32> columns of sorted distinct values."""
    a, b = (x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x for x in (a, b))
    len_a, len_b = (np.asarray(pc.list_value_length(x), dtype=np.int64) for x in (a, b))
    rows = np.concatenate([np.asarray(pc.list_parent_indices(a)), np.asarray(pc.list_parent_indices(b))])
    values = np.concatenate([np.asarray(pc.list_flatten(a)), np.asarray(pc.list_flatten(b))])
    keys = (rows.astype(np.uint64) << np.uint64(32)) | values.astype(np.uint64)
    keys.sort()
    shared_rows = (keys[1:][keys[1:] == keys[:-1]] >> np.uint64(32)).astype(np.int64)  # in both sets
    inter = np.bincount(shared_rows, minlength=len(len_a))[: len(len_a)].astype(np.float64)
    union = len_a + len_b - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def _judge(pairs: pa.Table, j: int, threshold: float, workdir: str, storage_options: dict) -> int:
    """Pairs of partition j that reach ``threshold``, as edges both ways (u, v, u_shard)."""
    pairs = _pick_up(pairs, j, "v", workdir, storage_options)
    kept = pairs.filter(pa.array(jaccard(pairs.column("u_set"), pairs.column("v_set")) >= threshold))
    edges = pa.concat_tables([
        pa.table({"u": kept.column("u"), "v": kept.column("v"), "u_shard": kept.column("u_shard")}),
        pa.table({"u": kept.column("v"), "v": kept.column("u"), "u_shard": kept.column("v_shard")}),
    ])
    return _keep(edges, j, f"{workdir}/verified/p{{j:05d}}.parquet", storage_options)


def verified_edges(client: Any, edge_files: list[str], summaries: Any, threshold: float, sets_of: SetsOf,
                   parts: int, workdir: str) -> tuple[list[str], list[int]]:
    """Edge files (u, v, u_shard; both ways) of the candidate pairs whose exact Jaccard
    similarity reaches ``threshold``, and the edges in each."""
    so = summaries.storage_options
    shards = summaries.shards
    found = exchange(client, edge_files, len(shards), f"{workdir}/x", partial(_shard_partition, shards=shards),
                     partial(_candidate_sets, inputs=summaries.inputs, shards=shards, sets_of=sets_of,
                             workdir=workdir, storage_options=so), columns=["u", "u_shard"], storage_options=so)
    set_files = [p for p in found if p is not None]
    exchange(client, set_files, parts, f"{workdir}/x", partial(string_partition, column=ID, parts=parts),
             partial(_keep, path=f"{workdir}/sets-by-id/p{{j:05d}}.parquet", storage_options=so), storage_options=so)
    one_way = [f"{workdir}/one-way/p{j:05d}.parquet" for j in range(len(edge_files))]
    client.gather(client.map(_one_way, edge_files, one_way, storage_options=so, pure=False))
    exchange(client, one_way, parts, f"{workdir}/x", partial(string_partition, column="u", parts=parts),
             partial(_with_first, workdir=workdir, storage_options=so), storage_options=so)
    with_u = [f"{workdir}/with-u/p{j:05d}.parquet" for j in range(parts)]
    kept = exchange(client, with_u, parts, f"{workdir}/x", partial(string_partition, column="v", parts=parts),
                    partial(_judge, threshold=threshold, workdir=workdir, storage_options=so), storage_options=so)
    return [f"{workdir}/verified/p{j:05d}.parquet" for j in range(parts)], kept


def _one_way(path: str, out: str, storage_options: dict) -> None:
    """Each pair once (u > v), without the shard column."""
    edges = read_table(path, storage_options, ["u", "v"])
    write_table(edges.filter(pc.greater(edges.column("u"), edges.column("v"))), out, storage_options)
