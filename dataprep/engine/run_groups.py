"""The run's task waves on Dask: for every group, rebuild its barrier's state (if work is left),
then one task per shard not yet done; gather only receipts.

A shard whose receipt is valid (:meth:`~dataprep.engine.receipt.Receipt.load_valid`) is skipped
on resume.  A barrier's state is combined on a worker from the summaries (never unpickled from
disk), and only when some shard of its group is left to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fsspec

from dataprep.engine.errors import RunError, StageError
from dataprep.engine.plan import Group, Source, barrier_inputs
from dataprep.engine.progress import Progress
from dataprep.engine.receipt import Receipt
from dataprep.engine.shard_task import ShardTask, run_shard
from dataprep.engine.summaries import combine_summaries
from dataprep.engine.worker_logs import write_worker_logs
from dataprep.io.inputs import InputSpec, Shard


@dataclass
class RunPlan:
    """What :func:`run_groups` needs: the groups, the shards, the input and the output folder."""

    groups: list[Group]
    shards: list[Shard]
    input: InputSpec
    fs: fsspec.AbstractFileSystem
    root: str
    storage_options: dict


def _failure(what: str, exc: BaseException, log: str | None = None) -> RunError:
    if isinstance(exc, StageError):
        return RunError(str(exc), log)
    return RunError(f"{what} failed: {type(exc).__name__}: {exc}", log)


def _input_paths(client: Any, plan: RunPlan, group: Group, state: Any) -> dict[str, str | None]:
    """The shard file each task of ``group`` reads (relative to the run's folder), by shard name."""
    if group.reads_input:
        return {s.name: None for s in plan.shards}
    if group.source is Source.REPARTITIONED:  # the barrier's combine wrote new shards and named them
        try:
            moved = state.result()
        except Exception as exc:
            raise _failure(f"stage '{group.barrier.stage_name()}'", exc,
                           write_worker_logs(client, plan.fs, plan.root)) from exc
        return {s.name: path[len(plan.root) + 1:] for s, path in zip(plan.shards, moved)}
    previous = plan.groups[group.index - 1]
    return {s.name: previous.output_path(s) for s in plan.shards}


def run_groups(client: Any, plan: RunPlan, resume: bool, progress: Progress) -> tuple[list[Receipt], int]:
    """Run every group; return all receipts (in completion order) and how many shards were resumed."""
    from distributed import as_completed

    receipts: list[Receipt] = []
    skipped = 0
    for group in plan.groups:
        done = [r for r in (Receipt.load_valid(plan.fs, plan.root, group.receipt_path(s)) for s in plan.shards)
                if r] if resume else []
        done_names = {r.shard for r in done}
        skipped += len(done)
        receipts += done
        todo = [s for s in plan.shards if s.name not in done_names]
        state = None
        if group.barrier is not None and todo:
            previous = plan.groups[group.index - 1]
            state = client.submit(combine_summaries, group.barrier, group.first, plan.root, plan.storage_options,
                                  [previous.summary_path(s) for s in plan.shards], [s.name for s in plan.shards],
                                  group.state_folder, barrier_inputs(plan.groups, group, plan.shards), pure=False)
        paths = _input_paths(client, plan, group, state) if todo else {}
        progress.start(group.name, total=len(plan.shards), done=len(done))
        futures = [client.submit(run_shard, ShardTask(group, s, plan.input, plan.root, plan.storage_options,
                                                      paths[s.name]), state, pure=False) for s in todo]
        try:
            for future in as_completed(futures):
                receipt = future.result()
                receipts.append(receipt)
                progress.advance(receipt.docs)
        except Exception as exc:
            client.cancel(futures)
            raise _failure(f"group '{group.name}'", exc, write_worker_logs(client, plan.fs, plan.root)) from exc
    progress.stop()
    return receipts, skipped
