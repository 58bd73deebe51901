"""The work of one Dask task: one shard through one group of fused stages.

Runs on a worker.  It reads its shard itself (the input reader for the first group, the
previous group's Parquet file after a barrier), streams it batch by batch through the
stages, and writes kept, removed and quarantined documents atomically.  It returns (and
writes, last, as the shard's completion mark) a *receipt*: the counts per stage and the
files written with their content hashes.  Only the receipt travels back to the client.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.io.inputs import InputSpec, Shard
from dataprep.io.readers import ReadBatch, read_shard
from dataprep.io.writer import ParquetShardWriter, write_bytes_atomic
from dataprep.plan import QUARANTINE, Group
from dataprep.schema import QUARANTINE_SCHEMA, TEXT, check_documents
from dataprep.stats import add_counts, length_counts
from dataprep.transform import GlobalTransform, Summaries, Transform, set_columns

_MODELS: dict[str, Transform] = {}
_MODELS_LOCK = threading.Lock()


def prepared(stage: Transform) -> Transform:
    """The set-up instance of ``stage`` for this worker process (models load once per worker)."""
    key = f"{type(stage).__module__}.{type(stage).__qualname__}|{stage.cache_key()}"
    with _MODELS_LOCK:
        ready = _MODELS.get(key)
        if ready is None:
            ready = stage.ensure_setup()
            _MODELS[key] = ready
    return ready


@dataclass
class StageCounts:
    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    removed: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class ShardTask:
    """Everything a worker needs for one shard of one group (small and picklable)."""

    group: Group
    shard: Shard
    input: InputSpec
    root: str  # the run's output folder
    storage_options: dict
    previous_output: str | None  # relative path of this shard's input after a barrier
    # the input was read (counted, its bad records quarantined) by an earlier group: read it
    # again without counting; and whether this group writes its kept documents at all
    input_counted: bool = False
    keep_output: bool = True


def _count_lengths(into: dict[str, int], table: pa.Table) -> None:
    if TEXT in table.schema.names:
        add_counts(into, length_counts(table.column(TEXT)))


def text_bytes(table: pa.Table) -> int:
    if table.num_rows == 0 or TEXT not in table.schema.names:
        return 0
    return int(pc.sum(pc.binary_length(table.column(TEXT))).as_py() or 0)


def _input_batches(task: ShardTask, fs: fsspec.AbstractFileSystem) -> Iterator[ReadBatch]:
    if task.previous_output is None:
        yield from read_shard(task.shard, task.input)
        return
    empty_q = QUARANTINE_SCHEMA.empty_table()
    with fs.open(f"{task.root}/{task.previous_output}", "rb") as f:
        pf = pq.ParquetFile(f)
        yield ReadBatch(pf.schema_arrow.empty_table(), empty_q)
        for rb in pf.iter_batches(batch_size=task.input.batch_size):
            yield ReadBatch(pa.Table.from_batches([rb]), empty_q)


def run_shard(task: ShardTask, state: Any = None) -> dict[str, Any]:
    """Process one shard; return its receipt (see the module docstring)."""
    fs, _, _ = fsspec.get_fs_token_paths(task.root, storage_options=task.storage_options)
    group, shard = task.group, task.shard
    stages = [prepared(s) for s in group.stages]
    if group.barrier is not None:
        state = stages[0].shard_state(state, shard.name)
    counts = [StageCounts() for _ in stages]
    reader = {"inputs": 0, "docs": 0, "bytes": 0, "seconds": 0.0, "quarantined": {}}
    lengths: dict[str, dict[str, int]] = {"kept": {}, "removed": {}}  # of what lands in data/ and removed/
    kept = ParquetShardWriter(fs, task.root, group.output_path(shard)) if task.keep_output else None
    counts_input = task.previous_output is None and not task.input_counted
    removed = {i: ParquetShardWriter(fs, task.root, group.removed_path(group.first + i, shard), always=False)
               for i in range(len(stages))}
    quarantine = ParquetShardWriter(fs, task.root, f"{QUARANTINE}/{shard.name}.parquet", QUARANTINE_SCHEMA, always=False)
    summary_rel = group.summary_path(shard)
    summary = ParquetShardWriter(fs, task.root, summary_rel, state_file=True) if summary_rel else None
    writers = [kept, quarantine, summary, *removed.values()]
    sinks = {i: sink for i, stage in enumerate(stages) if (sink := stage.open_sink(fs, task.root, shard.name)) is not None}
    try:
        t_read = time.perf_counter()
        for batch in _input_batches(task, fs):
            reader["seconds"] += time.perf_counter() - t_read
            docs = batch.docs
            check_documents(docs, f"shard {shard.name}")
            docs_bytes = text_bytes(docs)
            if counts_input:
                n_bad = batch.quarantine.num_rows
                reader["inputs"] += docs.num_rows + n_bad
                reader["docs"] += docs.num_rows
                reader["bytes"] += docs_bytes
                if n_bad:
                    for reason in batch.quarantine.column("reason").to_pylist():
                        reader["quarantined"][reason] = reader["quarantined"].get(reason, 0) + 1
                    quarantine.write(batch.quarantine)
            for i, stage in enumerate(stages):
                c = counts[i]
                c.docs_in += docs.num_rows
                c.bytes_in += docs_bytes
                t0 = time.perf_counter()
                out = stage.apply(docs, state) if stage.barrier else stage.process(docs)
                c.seconds += time.perf_counter() - t0
                if out.removed is not None and out.removed.num_rows:
                    for row in pc.value_counts(out.removed.column("reason")).to_pylist():
                        c.removed[row["values"]] = c.removed.get(row["values"], 0) + row["counts"]
                    stage_col = pa.repeat(pa.scalar(stage.stage_name(), pa.string()), out.removed.num_rows)
                    removed[i].write(set_columns(out.removed, {"stage": stage_col}))
                    _count_lengths(lengths["removed"], out.removed)
                for k, v in out.counters.items():
                    c.counters[k] = c.counters.get(k, 0) + int(v)
                if i in sinks:
                    sinks[i].write(out)
                docs = out.kept
                docs_bytes = text_bytes(docs)
                c.docs_out += docs.num_rows
                c.bytes_out += docs_bytes
                if c.docs_in != c.docs_out + sum(c.removed.values()):
                    raise RuntimeError(f"stage {stage.stage_name()} lost documents in shard {shard.name}: "
                                       f"{c.docs_in} in, {c.docs_out} kept, {sum(c.removed.values())} removed")
            if kept is not None:
                kept.write(docs)
                if group.is_last:
                    _count_lengths(lengths["kept"], docs)
            if summary is not None:
                part = prepared(group.next_barrier).summarize(docs)
                summary.write(set_columns(part, {"shard": pa.repeat(pa.scalar(shard.name, pa.string()), part.num_rows)}))
            t_read = time.perf_counter()
        files = [w.close() for w in writers if w is not None]
        files += [f for sink in sinks.values() for f in sink.close()]
    except BaseException:
        for w in [*writers, *sinks.values()]:
            if w is not None:
                w.abort()
        raise
    written = [f for f in files if f is not None]
    receipt = {
        "group": group.index,
        "shard": shard.name,
        "reader": reader if counts_input else None,
        "lengths": lengths,
        "stages": {str(group.first + i): c.__dict__ for i, c in enumerate(counts)},
        "outputs": [f.to_json() for f in written],
    }
    write_bytes_atomic(fs, f"{task.root}/{group.receipt_path(shard)}",
                       json.dumps(receipt, sort_keys=True, indent=1).encode())
    return receipt


def combine_summaries(barrier: GlobalTransform, root: str, storage_options: dict, paths: list[str],
                      shards: list[str], workdir: str, inputs: list[str]) -> Any:
    """Runs on a worker: combine every shard's summary for ``barrier`` into its state."""
    summaries = Summaries(paths=[f"{root}/{p}" for p in paths], shards=shards, storage_options=storage_options,
                          workdir=f"{root}/{workdir}", inputs=[f"{root}/{p}" for p in inputs])
    return prepared(barrier).combine(summaries)


def hash_inputs(paths: list[str], storage_options: dict) -> list[tuple[str, int, str]]:
    """(path, size, sha256) of input files, for manifest.json; runs on a worker."""
    from dataprep.io.writer import sha256_of

    out = []
    for path in paths:
        fs, _, (p,) = fsspec.get_fs_token_paths(path, storage_options=storage_options)
        out.append((path, fs.size(p), sha256_of(fs, p)))
    return out
