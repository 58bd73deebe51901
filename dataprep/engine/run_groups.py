"""The run's task waves on Dask: for every group, rebuild its barrier's state (if work is left),
then one task per shard not yet done; gather only receipts.

A task that keeps killing its workers has the documents that crash them isolated and
quarantined (:mod:`dataprep.engine.poison`); the shard then completes without them.  A shard
whose receipt is valid (:meth:`~dataprep.engine.receipt.Receipt.load_valid`) is skipped
on resume.  A barrier's state is combined on a worker from the summaries (never unpickled from
disk), and only when some shard of its group is left to do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import fsspec

from dataprep.engine.errors import RunError, StageError, stage_error
from dataprep.engine.plan import Group, Source, barrier_inputs
from dataprep.engine.poison import find_crashes
from dataprep.engine.progress import Progress
from dataprep.engine.receipt import Receipt
from dataprep.engine.shard_task import ShardTask, run_shard
from dataprep.engine.summaries import combine_summaries
from dataprep.engine.worker_logs import write_worker_logs
from dataprep.io.inputs import InputSpec, Shard
from dataprep.io.layout import STAGES, stage_folder
from dataprep.transform import Transform

MAX_SEARCHES = 3  # poison searches per shard before its KilledWorker fails the run


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


def _prepare_stages(client: Any, plan: RunPlan, group: Group) -> None:
    """Run the once-per-run preparation of the group's stages that have one, on workers."""
    for i, stage in enumerate(group.stages):
        if type(stage).prepare_run is Transform.prepare_run:
            continue
        workdir = f"{plan.root}/{STAGES}/{stage_folder(group.first + i, stage.slug())}/prepared"
        try:
            stage.run_state = client.submit(stage.prepare_run, workdir, plan.storage_options, pure=False).result()
        except Exception as exc:
            error = stage_error(group.first + i, stage.stage_name(), "preparing the run", exc)
            raise RunError(str(error), write_worker_logs(client, plan.fs, plan.root)) from exc


def run_groups(client: Any, plan: RunPlan, resume: bool, progress: Progress,
               verify: bool = False) -> tuple[list[Receipt], int, list[dict[str, Any]]]:
    """Run every group; return all receipts (in completion order), how many shards were resumed
    (``verify``: hash every finished file instead of trusting an unchanged size and mtime), and
    per group its stages, shards run and resumed, and wall seconds (resume check included)."""
    receipts: list[Receipt] = []
    skipped = 0
    walls: list[dict[str, Any]] = []
    for group in plan.groups:
        t0 = time.perf_counter()
        done = [r for r in (Receipt.load_valid(plan.fs, plan.root, group.receipt_path(s), verify)
                            for s in plan.shards) if r] if resume else []
        done_names = {r.shard for r in done}
        skipped += len(done)
        receipts += done
        todo = [s for s in plan.shards if s.name not in done_names]
        state = None
        if todo:  # before combine: a barrier's own preparation (e.g. a reference's summaries) feeds it
            _prepare_stages(client, plan, group)
        if group.barrier is not None and todo:
            previous = plan.groups[group.index - 1]
            state = client.submit(combine_summaries, group.barrier, group.first, plan.root, plan.storage_options,
                                  [previous.summary_path(s) for s in plan.shards], [s.name for s in plan.shards],
                                  group.state_folder, barrier_inputs(plan.groups, group, plan.shards), pure=False)
        paths = _input_paths(client, plan, group, state) if todo else {}
        progress.start(group.name, total=len(plan.shards), done=len(done))
        tasks = [ShardTask(group, s, plan.input, plan.root, plan.storage_options, paths[s.name]) for s in todo]
        for receipt in _run_tasks(client, plan, group, tasks, state):
            receipts.append(receipt)
            progress.advance(receipt.docs)
        walls.append({"group": group.name, "stages": [group.first + i for i in range(len(group.stages))],
                      "shards_run": len(todo), "shards_resumed": len(done),
                      "wall_seconds": round(time.perf_counter() - t0, 3)})
    progress.stop()
    return receipts, skipped, walls


def _run_tasks(client: Any, plan: RunPlan, group: Group, tasks: list[ShardTask], state: Any) -> Iterator[Receipt]:
    """The receipts of ``tasks`` as they complete.  A task that killed its workers too often
    (``KilledWorker``) gets its crashing documents searched for (:mod:`dataprep.engine.poison`)
    and runs again with them quarantined.  A worker's death also counts against the other tasks
    it held, so a search may find nothing (that shard was a bystander): it runs again as it was,
    up to :data:`MAX_SEARCHES` searches.  Everything else that fails fails the run."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    running = {client.submit(run_shard, t, state, pure=False): ("shard", t, 0) for t in tasks}
    pending = as_completed(list(running))
    try:
        for future in pending:
            kind, task, searches = running.pop(future)
            try:
                result = future.result()
            except KilledWorker as exc:
                if kind != "shard" or searches >= MAX_SEARCHES:
                    what = ("the search for its crashing documents" if kind != "shard"
                            else f"with {len(task.crashes or {})} crashing documents set aside, it")
                    raise RunError(f"group '{group.name}': shard {task.shard.name} kills its workers; {what} "
                                   f"still kills them ({exc})", write_worker_logs(client, plan.fs, plan.root)) from exc
                search = client.submit(find_crashes, task, state, pure=False)
                running[search] = ("search", task, searches + 1)
                pending.add(search)
                continue
            if kind == "search":
                again = replace(task, crashes={**(task.crashes or {}), **result})
                rerun = client.submit(run_shard, again, state, pure=False)
                running[rerun] = ("shard", again, searches)
                pending.add(rerun)
                continue
            yield result
    except RunError:
        client.cancel(list(running))
        raise
    except Exception as exc:
        client.cancel(list(running))
        raise _failure(f"group '{group.name}'", exc, write_worker_logs(client, plan.fs, plan.root)) from exc
    except BaseException:  # interrupted: a remote cluster must not go on with our tasks
        client.cancel(list(running))
        raise
