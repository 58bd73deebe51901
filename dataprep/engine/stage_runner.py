"""One batch through a group's stages, with the counting next to the loop it counts.

For every stage: documents and bytes in, the time of its ``process`` (or ``apply`` with the
barrier's state), removals by reason, extra counters, documents and bytes out; then the
stage's ledger equation (in = kept + removed) is checked at once, so a stage that loses
documents is named in the shard where it happened.  An exception raised by a stage becomes a
:class:`~dataprep.engine.errors.StageError` that names the stage and the shard.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dataprep.engine import annotate
from dataprep.engine.counts import StageCounts, add_values, text_bytes
from dataprep.engine.crashes import WORKER_CRASH, Crash, crash_rows
from dataprep.engine.errors import StageError, stage_error
from dataprep.engine.shard_outputs import ShardOutputs
from dataprep.schema import ID
from dataprep.transform import Transform


class StageRunner:
    """Runs batches through ``stages`` (recipe indices from ``first``), keeping a
    :class:`StageCounts` per stage.  ``crashes`` (documents found to crash the worker, by id)
    are quarantined just before the stage they crashed in."""

    def __init__(self, stages: list[Transform], first: int, shard: str, state: Any = None,
                 crashes: dict[str, Crash] | None = None) -> None:
        self.stages, self.first, self.shard, self.state = stages, first, shard, state
        self.counts = [StageCounts() for _ in stages]
        self.crashes = crashes or {}
        self._crash_ids = {i: pa.array([d for d, c in self.crashes.items() if c.stage == first + i], pa.string())
                           for i in range(len(stages))}

    def _set_aside_crashes(self, i: int, docs: pa.Table, outputs: ShardOutputs) -> pa.Table:
        crashing = self._crash_ids[i]
        if not len(crashing) or not docs.num_rows:
            return docs
        hit = pc.is_in(docs.column(ID), value_set=crashing)
        if not pc.any(hit).as_py():
            return docs
        bad = docs.filter(hit)
        outputs.quarantine(crash_rows(bad, self.crashes, self.stages[i].stage_name()))
        c = self.counts[i]
        c.quarantined[WORKER_CRASH] = c.quarantined.get(WORKER_CRASH, 0) + bad.num_rows
        return docs.filter(pc.invert(hit))

    def run(self, docs: pa.Table, docs_bytes: int, outputs: ShardOutputs) -> pa.Table:
        """The documents of ``docs`` that every stage kept; removals and sink data go to ``outputs``."""
        for i, (stage, c) in enumerate(zip(self.stages, self.counts)):
            c.docs_in += docs.num_rows
            c.bytes_in += docs_bytes
            if self.crashes:
                docs = self._set_aside_crashes(i, docs, outputs)
            t0 = time.perf_counter()
            try:
                if stage.annotate:
                    docs = annotate.prepare(docs)
                out = stage.apply(docs, self.state) if stage.barrier else stage.process(docs)
                if stage.annotate:
                    out, would, first = annotate.fold(out, stage.stage_name())
                    if would is not None:
                        add_values(c.would_remove, would)
                        add_values(c.would_remove_first, first)
            except Exception as exc:
                raise stage_error(self.first + i, stage.stage_name(), f"on shard {self.shard}", exc) from exc
            c.seconds += time.perf_counter() - t0
            if out.removed is not None and out.removed.num_rows:
                add_values(c.removed, out.removed.column("reason"))
            for k, v in out.counters.items():
                c.counters[k] = c.counters.get(k, 0) + int(v)
            outputs.stage_output(i, out)
            docs = out.kept
            docs_bytes = text_bytes(docs)
            c.docs_out += docs.num_rows
            c.bytes_out += docs_bytes
            if not c.balanced():
                raise StageError(f"stage {self.first + i:02d} {stage.stage_name()} lost documents in shard "
                                 f"{self.shard}: {c.docs_in} in, {c.docs_out} kept, {sum(c.removed.values())} removed"
                                 + (f", {sum(c.quarantined.values())} quarantined" if c.quarantined else ""))
        return docs
