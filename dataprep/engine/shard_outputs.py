"""Everything one shard task writes: kept documents, removed documents per stage,
quarantined inputs, the next barrier's summary, and the stages' own sinks (token shards).

:class:`ShardOutputs` opens them for a task, takes what the task produces batch by batch, and
either closes them all (returning the :class:`~dataprep.io.checksums.WrittenFile` s for the
receipt) or aborts them all, so a failed task leaves no file behind under its final name.  It
also counts the lengths of the documents that land in data/ and removed/ (for stats.json).
"""

from __future__ import annotations

from typing import Any

import fsspec
import pyarrow as pa

from dataprep.engine.counts import LengthCounts
from dataprep.engine.plan import Group
from dataprep.io.checksums import WrittenFile
from dataprep.io.inputs import Shard
from dataprep.io.writer import ParquetShardWriter
from dataprep.schema import QUARANTINE_SCHEMA
from dataprep.transform import ShardSink, StageOutput, Transform, set_columns


class ShardOutputs:
    """The writers and sinks of one shard of one group (see the module docstring)."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, group: Group, shard: Shard, stages: list[Transform],
                 state: Any = None) -> None:
        self.group, self.shard = group, shard
        self.lengths = LengthCounts()
        self.kept = ParquetShardWriter(fs, root, group.output_path(shard)) if group.writes_output else None
        self.removed = [ParquetShardWriter(fs, root, group.removed_path(group.first + i, shard), always=False)
                        for i in range(len(stages))]
        self.quarantined = ParquetShardWriter(fs, root, group.quarantine_path(shard), QUARANTINE_SCHEMA, always=False)
        summary = group.summary_path(shard)
        self.summary = ParquetShardWriter(fs, root, summary, state_file=True) if summary else None
        self._stage_names = [pa.scalar(s.stage_name(), pa.string()) for s in stages]
        self._shard_name = pa.scalar(shard.name, pa.string())
        self.sinks: dict[int, ShardSink] = {}
        try:
            for i, stage in enumerate(stages):
                sink = stage.open_sink(fs, root, shard.name, state if stage.barrier else None)
                if sink is not None:
                    self.sinks[i] = sink
        except BaseException:
            self.abort()
            raise

    def _writers(self) -> list[ParquetShardWriter]:
        return [w for w in (self.kept, self.quarantined, self.summary, *self.removed) if w is not None]

    def quarantine(self, rows: pa.Table) -> None:
        if rows.num_rows:
            self.quarantined.write(rows)

    def stage_output(self, i: int, out: StageOutput) -> None:
        """What stage ``i`` (of the group) removed, with its ``stage`` column, and its sink's share."""
        if out.removed is not None and out.removed.num_rows:
            stage = pa.repeat(self._stage_names[i], out.removed.num_rows)
            self.removed[i].write(set_columns(out.removed, {"stage": stage}))
            self.lengths.add_removed(out.removed)
        if i in self.sinks:
            self.sinks[i].write(out)

    def keep(self, docs: pa.Table) -> None:
        """Documents that passed every stage of the group."""
        if self.kept is not None:
            self.kept.write(docs)
            if self.group.is_last:
                self.lengths.add_kept(docs)

    def summarize(self, part: pa.Table) -> None:
        """The next barrier's summary of a batch (a ``shard`` column is added)."""
        assert self.summary is not None
        self.summary.write(set_columns(part, {"shard": pa.repeat(self._shard_name, part.num_rows)}))

    def close(self) -> list[WrittenFile]:
        files = [w.close() for w in self._writers()]
        files += [f for sink in self.sinks.values() for f in sink.close()]
        return [f for f in files if f is not None]

    def abort(self) -> None:
        for w in [*self._writers(), *self.sinks.values()]:
            w.abort()
