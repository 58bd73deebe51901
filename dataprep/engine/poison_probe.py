"""The child process of the poison search (:mod:`dataprep.engine.poison`): runs a shard's
documents through its group's stages, a unit at a time, and writes what it is about to do to a
report file before doing it, so that when it dies the parent knows on what.

    python -m dataprep.engine.poison_probe JOB REPORT

``JOB`` is a pickle: the :class:`~dataprep.engine.shard_task.ShardTask`, the barrier's state,
``start``/``stop`` (document positions in the shard's read order), ``unit`` (documents per
step) and ``skip`` (ids already known to crash).  Report lines: ``unit A B`` before documents
``A..B-1``, and with ``unit`` 1 ``doc POS ID`` and ``stage I`` before each stage; ``done B``
after them; ``end N`` at the end.  A stage that raises is no crash: the probe goes on (the real
run reports the error).
"""

from __future__ import annotations

import pickle
import sys

import fsspec
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.engine.shard_task import shard_batches
from dataprep.engine.worker_cache import prepared
from dataprep.schema import ID


def probe(job: dict, report) -> None:  # noqa: ANN001 - a text file, line-buffered
    task = job["task"]
    group = task.group
    fs, _, _ = fsspec.get_fs_token_paths(task.root, storage_options=task.storage_options)
    stages = [prepared(s) for s in group.stages]
    state = stages[0].shard_state(job["state"], task.shard.name) if group.barrier is not None else job["state"]
    start, stop, unit, skip = job["start"], job["stop"], job["unit"], job["skip"]
    skip_ids = pa.array(sorted(skip), pa.string())
    pos = 0
    for batch in shard_batches(task, fs):
        docs = batch.docs
        n = docs.num_rows
        lo, hi = max(start - pos, 0), n if stop is None else min(stop - pos, n)
        for a in range(lo, hi, unit):
            b = min(a + unit, hi)
            part = docs.slice(a, b - a)
            if len(skip_ids):
                part = part.filter(pc.invert(pc.is_in(part.column(ID), value_set=skip_ids)))
            report.write(f"unit {pos + a} {pos + b}\n")
            if unit == 1 and part.num_rows:
                report.write(f"doc {pos + a} {part.column(ID)[0].as_py()}\n")
            for i, stage in enumerate(stages):
                if not part.num_rows:
                    break
                if unit == 1:
                    report.write(f"stage {i}\n")
                try:
                    out = stage.apply(part, state) if stage.barrier else stage.process(part)
                except Exception:  # noqa: BLE001 - an error, not a crash: the real run reports it
                    break
                part = out.kept
            report.write(f"done {pos + b}\n")
        pos += n
        if stop is not None and pos >= stop:
            break
    report.write(f"end {pos}\n")


def main() -> None:
    job_path, report_path = sys.argv[1], sys.argv[2]
    with open(job_path, "rb") as f:
        job = pickle.load(f)  # written by the parent a moment ago, for this process only
    with open(report_path, "a", buffering=1) as report:
        probe(job, report)


if __name__ == "__main__":
    main()
