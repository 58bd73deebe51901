"""The work of one Dask task: one shard through one group of fused stages.

Runs on a worker.  It reads its shard itself (the input reader, or a shard file a barrier
produced: the group's :class:`~dataprep.engine.plan.Source` decides), streams it batch by
batch through the stages (:class:`~dataprep.engine.stage_runner.StageRunner`), writes kept,
removed and quarantined documents and the next barrier's summary atomically
(:class:`~dataprep.engine.shard_outputs.ShardOutputs`), and returns -- and writes, last, as the
shard's completion mark -- a :class:`~dataprep.engine.receipt.Receipt`.  Only the receipt
travels back to the client.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.engine import annotate
from dataprep.engine.counts import ReadCounts, text_bytes
from dataprep.engine.crashes import Crash
from dataprep.engine.plan import Group, Source
from dataprep.engine.receipt import Receipt
from dataprep.engine.shard_outputs import ShardOutputs
from dataprep.engine.stage_runner import StageRunner
from dataprep.engine.worker_cache import prepared
from dataprep.io.checksums import modified_time
from dataprep.io.inputs import InputSpec, Shard
from dataprep.io.readers import ReadBatch, read_shard
from dataprep.schema import QUARANTINE_SCHEMA, check_documents


@dataclass
class ShardTask:
    """Everything a worker needs for one shard of one group (small and picklable)."""

    group: Group
    shard: Shard
    input: InputSpec
    root: str  # the run's output folder
    storage_options: dict
    #: the shard file this group reads (relative to ``root``); None when it reads the recipe's input
    input_path: str | None = None
    #: documents found to crash the worker (by id), quarantined before the stage they crashed in
    crashes: dict[str, Crash] | None = None


def shard_batches(task: ShardTask, fs: fsspec.AbstractFileSystem) -> Iterator[ReadBatch]:
    """The shard's documents in batches: from the input reader, or from ``task.input_path``."""
    if task.input_path is None:
        yield from read_shard(task.shard, task.input)
        return
    empty_q = QUARANTINE_SCHEMA.empty_table()
    with fs.open(f"{task.root}/{task.input_path}", "rb") as f:
        pf = pq.ParquetFile(f)
        yield ReadBatch(pf.schema_arrow.empty_table(), empty_q)
        for rb in pf.iter_batches(batch_size=task.input.batch_size):
            yield ReadBatch(pa.Table.from_batches([rb]), empty_q)


def _timed(batches: Iterator[ReadBatch], counts: ReadCounts) -> Iterator[ReadBatch]:
    """``batches``, adding the time spent producing each to ``counts.seconds``."""
    while True:
        t0 = time.perf_counter()
        batch = next(batches, None)
        counts.seconds += time.perf_counter() - t0
        if batch is None:
            return
        yield batch


def run_shard(task: ShardTask, state: Any = None) -> Receipt:
    """Process one shard; return its receipt (see the module docstring)."""
    fs, _, _ = fsspec.get_fs_token_paths(task.root, storage_options=task.storage_options)
    group, shard = task.group, task.shard
    stages = [prepared(s) for s in group.stages]
    if group.barrier is not None:
        state = stages[0].shard_state(state, shard.name)
    summarizer = prepared(group.next_barrier) if group.next_barrier is not None else None
    reader = ReadCounts()
    counts_input = group.source is Source.INPUT
    runner = StageRunner(stages, group.first, shard.name, state, task.crashes)
    outputs = ShardOutputs(fs, task.root, group, shard, stages, state)
    try:
        for batch in _timed(shard_batches(task, fs), reader):
            docs = batch.docs
            check_documents(docs, f"shard {shard.name}")
            docs_bytes = text_bytes(docs)
            if counts_input:
                reader.count(docs, batch.quarantine, docs_bytes)
                outputs.quarantine(batch.quarantine)
            kept = runner.run(docs, docs_bytes, outputs)
            outputs.keep(kept)
            if summarizer is not None:
                outputs.summarize(summarizer.summarize(annotate.alive(kept)))
        files = [replace(f, mtime=modified_time(fs, f"{task.root}/{f.path}")) for f in outputs.close()]
    except BaseException:
        outputs.abort()
        raise
    receipt = Receipt(group=group.index, shard=shard.name, reader=reader if counts_input else None,
                      stages={group.first + i: c for i, c in enumerate(runner.counts)}, outputs=files,
                      lengths=outputs.lengths)
    receipt.write(fs, f"{task.root}/{group.receipt_path(shard)}")
    return receipt
