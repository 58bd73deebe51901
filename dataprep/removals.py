"""Per-shard removal lists written by barrier stages (exact and near-duplicate removal).

``combine`` writes ``<state>/shard=<name>/*.parquet`` (the layout of a Dask/pyarrow dataset
partitioned on ``shard``); each shard task then loads only its own list (:func:`load`), so no
worker ever holds the removals of the whole corpus, and :func:`apply` marks a batch with it.
"""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.schema import ID
from dataprep.transform import StageOutput, set_columns, split_by_reason


def reset(path: str, storage_options: dict | None = None) -> None:
    """Empty the state folder (combine runs again on resume)."""
    fs, _, (root,) = fsspec.get_fs_token_paths(path, storage_options=storage_options or {})
    if fs.exists(root):
        fs.rm(root, recursive=True)
    fs.makedirs(root, exist_ok=True)


def write(table: pa.Table, path: str, storage_options: dict | None = None, part: int = 0) -> None:
    """Write ``table`` (with a ``shard`` column) partitioned by shard under ``path``, as file
    ``part.<part>.parquet`` of each shard's folder (writers of disjoint ids use distinct parts)."""
    fs, _, (root,) = fsspec.get_fs_token_paths(path, storage_options=storage_options or {})
    for shard in sorted(set(table.column("shard").to_pylist())):
        rows = table.filter(pc.equal(table.column("shard"), shard)).drop_columns(["shard"])
        fs.makedirs(f"{root}/shard={shard}", exist_ok=True)
        with fs.open(f"{root}/shard={shard}/part.{part}.parquet", "wb") as f:
            pq.write_table(rows, f)


def load(path: str, shard: str, columns: list[str], storage_options: dict | None = None) -> dict[str, tuple]:
    """{id: (values of ``columns``)} for one shard's removals (empty when it has none)."""
    fs, _, (root,) = fsspec.get_fs_token_paths(path, storage_options=storage_options or {})
    folder = f"{root}/shard={shard}"
    if not fs.exists(folder):
        return {}
    out: dict[str, tuple] = {}
    for file in sorted(fs.find(folder)):
        if file.endswith(".parquet"):
            with fs.open(file, "rb") as f:
                t = pq.read_table(f, columns=[ID, *columns])
            values = [t.column(c).to_pylist() for c in columns]
            out.update(zip(t.column(ID).to_pylist(), zip(*values)))
    return out


def apply(batch: pa.Table, found: dict[str, tuple], columns: list[str], reason: str) -> StageOutput:
    """Set ``columns`` from one shard's :func:`load` result (null for ids not in it) and remove,
    with ``reason``, every document whose first column (e.g. ``duplicate_of``) is set."""
    values = [found.get(i) for i in batch.column(ID).to_pylist()]
    scored = set_columns(batch, {c: pa.array([v[k] if v is not None else None for v in values], pa.string())
                                 for k, c in enumerate(columns)})
    reasons = pc.if_else(pc.is_valid(scored.column(columns[0])), pa.scalar(reason), pa.scalar(None, pa.string()))
    return split_by_reason(scored, reasons)
