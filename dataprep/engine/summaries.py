"""What a barrier stage sees of the whole run: every shard's summary, and a way to regroup them.

:class:`Summaries` is handed to :meth:`dataprep.transform.GlobalTransform.combine`: the
summary files (one per shard, in shard order), the shard files the barrier applies to, and a
working folder.  :meth:`Summaries.exchange` regroups summaries too large for one worker across
Dask tasks (:mod:`dataprep.engine.exchange`).  :func:`combine_summaries` is the Dask task that
builds a barrier's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.engine.errors import StageError, stage_error
from dataprep.engine.exchange import exchange
from dataprep.engine.worker_cache import prepared
from dataprep.transform import GlobalTransform

#: summary rows per exchange partition by default: ~40-50 bytes each (an id, a key, a shard
#: name), so ~200 MB of Arrow per task before its sort; 4M rows are 285k documents of 14 bands
PARTITION_ROWS = 4_000_000


@dataclass
class Summaries:
    """The per-shard summaries of a barrier stage, as Parquet files (one per shard, in shard
    order), and a folder of the run where :meth:`GlobalTransform.combine` may write its state."""

    paths: list[str]
    shards: list[str]
    storage_options: dict
    workdir: str
    #: the shard files the barrier will apply to (same order), for stages that must re-read
    #: some documents in combine (e.g. to verify candidates)
    inputs: list[str] = field(default_factory=list)

    def tables(self) -> list[pa.Table]:
        """Every shard's summary, read into memory (fine for small summaries)."""
        out = []
        for path in self.paths:
            with fsspec.open(path, "rb", **self.storage_options) as f:
                out.append(pq.read_table(f))
        return out

    def rows(self) -> int:
        """Rows of all summaries together, from the Parquet footers (no data is read)."""
        total = 0
        for path in self.paths:
            with fsspec.open(path, "rb", **self.storage_options) as f:
                total += pq.ParquetFile(f).metadata.num_rows
        return total

    def partitions(self, rows_per_partition: int = PARTITION_ROWS) -> int:
        """A default for :meth:`exchange`: enough partitions that each holds at most
        ``rows_per_partition`` summary rows, so a task's memory stays bounded whatever the corpus
        size, and a corpus that fits one task is not split (every partition costs a file per
        shard and, for graphs, propagation rounds)."""
        return max(1, -(-self.rows() // rows_per_partition))

    def exchange(self, client: Any, parts: int, assign: Callable[[pa.Table], Any],
                 reduce: Callable[[pa.Table, int], Any], columns: list[str] | None = None) -> list[Any]:
        """Regroup all summaries into ``parts`` partitions across Dask tasks and return
        ``reduce`` of each (see :mod:`dataprep.engine.exchange`), for summaries too large for one worker."""
        return exchange(client, self.paths, parts, f"{self.workdir}/exchange", assign, reduce, columns,
                        self.storage_options)


def combine_summaries(barrier: GlobalTransform, index: int, root: str, storage_options: dict, paths: list[str],
                      shards: list[str], workdir: str, inputs: list[str]) -> Any:
    """Runs on a worker: combine every shard's summary for ``barrier`` (stage ``index`` of the
    recipe) into its state; paths are relative to the run's folder ``root``."""
    summaries = Summaries(paths=[f"{root}/{p}" for p in paths], shards=shards, storage_options=storage_options,
                          workdir=f"{root}/{workdir}", inputs=[f"{root}/{p}" for p in inputs])
    try:
        return prepared(barrier).combine(summaries)
    except StageError:
        raise
    except Exception as exc:
        raise stage_error(index, barrier.stage_name(), "combining the summaries", exc) from exc
