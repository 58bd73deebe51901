"""Connected components of a graph too big for one task: min-label propagation on Dask.

Nodes are strings (document ids); every node ends labelled with the smallest node of its
component.  The graph lives in Parquet files, never in one task: edges and labels are
partitioned by a hash of the node into ``parts`` partitions.  Each round is one wave of Dask
tasks, in which every node whose label changed in the previous round sends it along its edges,
and one exchange (:func:`dataprep.exchange.exchange`) that brings each message to the partition
of its target, where the smaller label is kept; there a node whose label is a node of the same
partition also takes that node's label (pointer jumping, which makes a one-partition graph
converge in a number of rounds logarithmic in its longest path).  Otherwise a label moves one
edge per round: as many rounds as the longest shortest path in a component, plus one;
near-duplicate clusters are stars and short chains, so a few.  Rounds start from the
components of each partition's own edges (solved in memory with NumPy, :func:`local_minimum`),
so a graph in one partition needs no round at all.  Memory per task: one partition of edges,
labels and messages.

Written here because no library does it on Dask over Arrow tables: networkx and scipy hold the
whole graph in one process, and Dask has no graph algorithms.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.engine.exchange import exchange, string_partition
from dataprep.io.state_files import read_table, write_table

EDGE_COLUMNS = ["u", "v", "u_shard"]  # an edge in both directions; u_shard: the shard of document u


def _jump(nodes: pa.Array, labels: pa.Array) -> pa.Array:
    """Pointer jumping inside one partition: a node whose label is itself a node here takes
    that node's label, until nothing moves (labels only decrease)."""
    while True:
        at = pc.index_in(labels, value_set=nodes)
        there = pc.take(labels, pc.fill_null(at, 0))
        jumped = pc.if_else(pc.and_(pc.is_valid(at), pc.less(there, labels)), there, labels)
        if pc.all(pc.equal(jumped, labels)).as_py() in (True, None):
            return labels
        labels = jumped


def component_roots(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For nodes ``0..n-1`` and undirected edges ``a[i] - b[i]`` (both directions listed): the
    smallest node of each node's component.  Labels take their neighbours' smaller labels and
    then jump to their label's label, until nothing moves."""
    label = np.arange(n)
    while True:
        hooked = label.copy()
        np.minimum.at(hooked, a, label[b])
        while not np.array_equal(jumped := hooked[hooked], hooked):
            hooked = jumped
        if np.array_equal(hooked, label):
            return label
        label = hooked


def local_minimum(nodes: pa.Array, seeds: pa.Array, u: pa.Array, v: pa.Array) -> pa.Array:
    """The smallest of ``seeds`` (one per node of ``nodes``) over each component of the edges
    ``u - v`` whose both ends are among ``nodes`` (``nodes`` distinct; every ``u`` among them)."""
    if len(nodes) == 0:
        return seeds
    a = pc.index_in(u, value_set=nodes).to_numpy(zero_copy_only=False)
    b = pc.index_in(v, value_set=nodes)
    local = b.is_valid().to_numpy(zero_copy_only=False)
    root = component_roots(len(nodes), a[local].astype(np.int64),
                           b.filter(b.is_valid()).to_numpy(zero_copy_only=False).astype(np.int64))
    order = pc.sort_indices(seeds).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    best = np.full(len(nodes), len(nodes), dtype=np.int64)
    np.minimum.at(best, root, rank)
    return seeds.take(pa.array(order[best[root]]))


def _start(edges: pa.Table, j: int, workdir: str, storage_options: dict) -> int:
    """Partition j's edges, and its nodes' first labels: the smallest node among the node's
    neighbours and those of every node it reaches by this partition's own edges (every node
    counts as changed)."""
    edges = edges.select(EDGE_COLUMNS)
    write_table(edges.select(["u", "v"]), f"{workdir}/edges/p{j:05d}.parquet", storage_options)
    nodes = edges.group_by("u").aggregate([("v", "min"), ("u_shard", "min")])
    seeds = pc.min_element_wise(nodes.column("u"), nodes.column("v_min"))
    label = local_minimum(nodes.column("u").combine_chunks(), seeds.combine_chunks(),
                          edges.column("u"), edges.column("v"))
    write_table(pa.table({"node": nodes.column("u"), "label": label, "shard": nodes.column("u_shard_min"),
                          "changed": pa.repeat(pa.scalar(True), nodes.num_rows)}),
                f"{workdir}/labels/p{j:05d}.parquet", storage_options)
    return nodes.num_rows


def _send(j: int, round_: int, workdir: str, storage_options: dict) -> str:
    """Messages (node, label) along partition j's edges from its nodes whose label changed."""
    labels = read_table(f"{workdir}/labels/p{j:05d}.parquet", storage_options, ["node", "label", "changed"])
    changed = labels.filter(labels.column("changed")).select(["node", "label"])
    edges = read_table(f"{workdir}/edges/p{j:05d}.parquet", storage_options)
    sent = edges.join(changed, keys="u", right_keys="node", join_type="inner")
    path = f"{workdir}/messages/r{round_:04d}/p{j:05d}.parquet"
    write_table(pa.table({"node": sent.column("v"), "label": sent.column("label")}), path, storage_options)
    return path


def _receive(messages: pa.Table, j: int, workdir: str, storage_options: dict) -> int:
    """Partition j keeps, for each node, the smallest of its label and the labels sent to it;
    returns how many labels changed."""
    path = f"{workdir}/labels/p{j:05d}.parquet"
    labels = read_table(path, storage_options)
    best = messages.group_by("node").aggregate([("label", "min")])
    joined = labels.join(best, keys="node", join_type="left outer").sort_by("node")
    new = _jump(joined.column("node"), pc.min_element_wise(joined.column("label"), joined.column("label_min")))
    changed = pc.fill_null(pc.less(new, joined.column("label")), False)
    write_table(pa.table({"node": joined.column("node"), "label": new, "shard": joined.column("shard"),
                          "changed": changed}), path, storage_options)
    return int(pc.sum(changed).as_py() or 0)


def components(client: Any, edge_files: list[str], parts: int, workdir: str,
               storage_options: dict | None = None) -> list[str]:
    """Label files (``node``, ``label``, ``shard``), one per partition, for the graph whose
    edges (columns :data:`EDGE_COLUMNS`, both directions present) are in ``edge_files``.
    Runs from a task on a worker (``worker_client``) or from the client."""
    storage_options = storage_options or {}
    fs, _, _ = fsspec.get_fs_token_paths(workdir, storage_options=storage_options)
    if fs.exists(workdir):
        fs.rm(workdir, recursive=True)
    by_node = partial(string_partition, column="u", parts=parts)
    exchange(client, edge_files, parts, f"{workdir}/x", by_node,
             partial(_start, workdir=workdir, storage_options=storage_options), columns=EDGE_COLUMNS,
             storage_options=storage_options)
    round_ = 0
    while parts > 1:  # one partition holds every edge: its components are already whole
        round_ += 1
        sent = client.gather(client.map(_send, range(parts), round_=round_, workdir=workdir,
                                        storage_options=storage_options, pure=False))
        changed = exchange(client, sent, parts, f"{workdir}/x", partial(string_partition, column="node", parts=parts),
                           partial(_receive, workdir=workdir, storage_options=storage_options),
                           storage_options=storage_options)
        fs.rm(f"{workdir}/messages/r{round_:04d}", recursive=True)
        if sum(changed) == 0:
            break
    return [f"{workdir}/labels/p{j:05d}.parquet" for j in range(parts)]
