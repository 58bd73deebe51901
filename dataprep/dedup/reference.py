"""A reference dataset for deduplication against it (``against:`` of the dedup stages).

"Remove what duplicates last month's output, and nothing from last month's output": the
reference's documents are summarised by the same ``summarize`` the stage runs on its own shards,
once per run (:func:`summarize_reference`, one Dask task per reference shard), into summary files
whose ``shard`` is :data:`REFERENCE_SHARD` and whose ids carry :data:`REFERENCE_PREFIX`.  The
prefix starts with a NUL character, so a reference id sorts before every id of the run: the
dedups' rule "the smallest id of a group is kept" then keeps the reference's member and removes
the run's, and :func:`strip` gives the reference's own id back for ``duplicate_of``.  Summary rows
of the reference are never written to a removal list, so nothing of it is ever removed.
"""

from __future__ import annotations

from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.io.inputs import InputSpec, plan_shards
from dataprep.io.readers import read_shard
from dataprep.io.state_files import write_table
from dataprep.schema import ID
from dataprep.transform import GlobalTransform, set_columns

REFERENCE_SHARD = "__reference__"
REFERENCE_PREFIX = "\x00ref:"


def reference_spec(against: str | InputSpec) -> InputSpec:
    """The input spec of ``against``: a dataprep output folder (its ``data/``), Parquet files of
    ``id`` and ``text`` (a folder, glob or file), or a full input spec (any input format)."""
    if isinstance(against, InputSpec):
        return against
    fs, _, (root,) = fsspec.get_fs_token_paths(against)
    if fs.isdir(root):
        data = f"{against.rstrip('/')}/data" if fs.isdir(f"{root}/data") else against.rstrip("/")
        return InputSpec(path=f"{data}/*.parquet", format="parquet", id_field=ID)
    return InputSpec(path=against, format="parquet", id_field=ID)


def _summarize_shard(stage: GlobalTransform, spec: InputSpec, shard: Any, path: str, storage_options: dict) -> int:
    stage.ensure_setup()
    tables = []
    for batch in read_shard(shard, spec):
        if batch.docs.num_rows:
            tables.append(stage.summarize(batch.docs))
    if not tables:
        return 0
    table = pa.concat_tables(tables, promote_options="permissive")
    table = set_columns(table, {ID: pc.binary_join_element_wise(REFERENCE_PREFIX, table.column(ID), ""),
                                "shard": pa.repeat(pa.scalar(REFERENCE_SHARD), table.num_rows)})
    write_table(table, path, storage_options)
    return table.num_rows


def summarize_reference(stage: GlobalTransform, against: str | InputSpec, workdir: str,
                        storage_options: dict) -> dict[str, Any]:
    """Summarise every document of the reference, one Dask task per shard of it; return the
    summary files (for the stage's ``run_state``) and their row count."""
    from distributed import worker_client

    spec = reference_spec(against)
    shards = plan_shards(spec)
    if not shards:
        raise ValueError(f"against: {spec.path} has no files")
    paths = [f"{workdir}/reference/{i:05d}.parquet" for i in range(len(shards))]
    with worker_client() as client:
        rows = client.gather(client.map(_summarize_shard, [stage] * len(shards), [spec] * len(shards), shards, paths,
                                        [storage_options] * len(shards), pure=False))
    return {"reference": [p for p, n in zip(paths, rows) if n], "reference_rows": int(sum(rows))}


def is_reference(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Whether each id is a reference id."""
    return pc.starts_with(ids, REFERENCE_PREFIX)


def strip(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Ids with the reference prefix removed (other ids unchanged)."""
    return pc.if_else(is_reference(ids), pc.utf8_slice_codeunits(ids, len(REFERENCE_PREFIX)), ids)
