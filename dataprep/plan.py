"""Execution plan: stages fused into groups, and where each group reads and writes.

Consecutive per-shard stages fuse into one *group*, run as one Dask task per shard.  A
barrier stage (:class:`~dataprep.transform.GlobalTransform`) starts a new group: the group
before it writes its shards to ``stages/<NN-stage>/`` and a summary per shard for the
barrier; the barrier's combined state is then applied, fused with the per-shard stages that
follow it.  The last group writes ``data/``.  The output layout is DESIGN §3.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataprep.io.inputs import Shard
from dataprep.transform import GlobalTransform, Transform

DATA = "data"
REMOVED = "removed"
QUARANTINE = "quarantine"
STAGES = "stages"
RUN_FILE = "_run.json"
STATS_FILE = "stats.json"
MANIFEST_FILE = "manifest.json"


def stage_folder(index: int, stage: Transform) -> str:
    """``NN-slug``: the stage's position (as in ``--set stages.NN``) and its name."""
    return f"{index:02d}-{stage.slug()}"


@dataclass
class Group:
    """Stages ``first .. first+len(stages)-1`` fused into one task per shard."""

    index: int
    first: int
    stages: list[Transform]
    is_last: bool
    next_barrier: GlobalTransform | None = None
    next_barrier_index: int | None = None

    @property
    def barrier(self) -> GlobalTransform | None:
        head = self.stages[0] if self.stages else None
        return head if head is not None and head.barrier else None  # type: ignore[return-value]

    @property
    def folder(self) -> str:
        """``stages/<NN-last stage>``: intermediate output and receipts of this group."""
        if not self.stages:
            return f"{STAGES}/input"
        return f"{STAGES}/{stage_folder(self.first + len(self.stages) - 1, self.stages[-1])}"

    def output_path(self, shard: Shard) -> str:
        return f"{DATA}/{shard.name}.parquet" if self.is_last else f"{self.folder}/{shard.name}.parquet"

    def receipt_path(self, shard: Shard) -> str:
        return f"{self.folder}/{shard.name}.receipt.json"

    def removed_path(self, stage_index: int, shard: Shard) -> str:
        return f"{REMOVED}/{stage_folder(stage_index, self.stages[stage_index - self.first])}/{shard.name}.parquet"

    def summary_path(self, shard: Shard) -> str | None:
        if self.next_barrier is None:
            return None
        return f"{STAGES}/{stage_folder(self.next_barrier_index, self.next_barrier)}/summary/{shard.name}.parquet"

    @property
    def name(self) -> str:
        if not self.stages:
            return "read"
        return " + ".join(s.stage_name() for s in self.stages)


def plan_groups(stages: list[Transform]) -> list[Group]:
    """Fuse ``stages`` into groups, cutting before every barrier stage."""
    bounds = [0] + [i for i, s in enumerate(stages) if s.barrier and i > 0] + [len(stages)]
    groups = []
    for g, (a, b) in enumerate(zip(bounds, bounds[1:])):
        groups.append(Group(index=g, first=a, stages=list(stages[a:b]), is_last=(b == len(stages))))
    if not groups:
        groups = [Group(index=0, first=0, stages=[], is_last=True)]
    for g in groups[:-1]:
        nxt = groups[g.index + 1]
        g.next_barrier = nxt.barrier
        g.next_barrier_index = nxt.first
    if groups[0].barrier is not None:  # the very first stage is a barrier: read input first
        groups = [Group(index=0, first=0, stages=[], is_last=False, next_barrier=groups[0].barrier, next_barrier_index=0)] + groups
        for i, g in enumerate(groups):
            g.index = i
    return groups
