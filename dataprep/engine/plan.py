"""Execution plan: stages fused into groups, and where each group reads and writes.

Consecutive per-shard stages fuse into one *group*, run as one Dask task per shard.  A
barrier stage (:class:`~dataprep.transform.GlobalTransform`) starts a new group: the group
before it writes its shards to ``stages/<NN-stage>/`` and a summary per shard for the
barrier; the barrier's combined state is then applied, fused with the per-shard stages that
follow it.  The last group writes ``data/``.  The output layout is DESIGN §3.

Where each group's documents come from is decided here, once, as its :class:`Source`:

* the first group reads the recipe's input (and counts it, quarantining what cannot be read);
* a group after a barrier reads the shards the group before it wrote, or, after a
  repartitioning barrier (``shuffle``), the new shards its ``combine`` wrote;
* when the first stage is a barrier that needs only its summaries
  (``GlobalTransform.reads_documents()`` false) and the input is cheap to parse again (JSONL,
  Parquet, text), the read group writes only the summaries and the next group reads the input
  again, without counting it twice, instead of a copy under ``stages/input``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from dataprep.io.inputs import Shard
from dataprep.io.layout import DATA, QUARANTINE, REMOVED, STAGES, stage_folder
from dataprep.transform import GlobalTransform, Transform

REREAD_FORMATS = ("jsonl", "parquet", "text")  # cheap to parse again (HTML and WARC are not)


class Source(enum.Enum):
    """Where a group's documents come from."""

    INPUT = "input"  # the recipe's input, read and counted here
    INPUT_AGAIN = "input again"  # the recipe's input, read again (counted by the read group)
    PREVIOUS = "previous"  # the previous group's output shard
    REPARTITIONED = "repartitioned"  # the shard the barrier's combine wrote (its state names it)


@dataclass
class Group:
    """Stages ``first .. first+len(stages)-1`` fused into one task per shard."""

    index: int
    first: int
    stages: list[Transform]
    is_last: bool
    source: Source = Source.INPUT
    #: whether the group writes its kept documents (the read group of a re-read input does not)
    writes_output: bool = True
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
        last = self.first + len(self.stages) - 1
        return f"{STAGES}/{stage_folder(last, self.stages[-1].slug())}"

    @property
    def state_folder(self) -> str:
        """``stages/<NN-barrier>/state``: where the group's barrier writes its combined state."""
        assert self.barrier is not None
        return f"{STAGES}/{stage_folder(self.first, self.barrier.slug())}/state"

    def output_path(self, shard: Shard) -> str:
        return f"{DATA}/{shard.name}.parquet" if self.is_last else f"{self.folder}/{shard.name}.parquet"

    def receipt_path(self, shard: Shard) -> str:
        return f"{self.folder}/{shard.name}.receipt.json"

    def removed_path(self, stage_index: int, shard: Shard) -> str:
        stage = self.stages[stage_index - self.first]
        return f"{REMOVED}/{stage_folder(stage_index, stage.slug())}/{shard.name}.parquet"

    def quarantine_path(self, shard: Shard) -> str:
        """``quarantine/<shard>.parquet`` for the group that reads the input; a later group (whose
        documents can only be quarantined for crashing a worker) has a file of its own."""
        if self.index == 0:
            return f"{QUARANTINE}/{shard.name}.parquet"
        return f"{QUARANTINE}/{shard.name}-{self.first:02d}.parquet"

    def summary_path(self, shard: Shard) -> str | None:
        if self.next_barrier is None:
            return None
        barrier = stage_folder(self.next_barrier_index, self.next_barrier.slug())
        return f"{STAGES}/{barrier}/summary/{shard.name}.parquet"

    @property
    def reads_input(self) -> bool:
        return self.source in (Source.INPUT, Source.INPUT_AGAIN)

    @property
    def name(self) -> str:
        if not self.stages:
            return "read"
        return " + ".join(s.stage_name() for s in self.stages)


def plan_groups(stages: list[Transform], input_format: str | None = None) -> list[Group]:
    """Fuse ``stages`` into groups, cutting before every barrier stage, and decide each group's
    :class:`Source` (``input_format`` says whether a leading barrier may read the input twice)."""
    bounds = [0] + [i for i, s in enumerate(stages) if s.barrier and i > 0] + [len(stages)]
    groups = [Group(index=g, first=a, stages=list(stages[a:b]), is_last=(b == len(stages)))
              for g, (a, b) in enumerate(zip(bounds, bounds[1:]))]
    if not groups:
        groups = [Group(index=0, first=0, stages=[], is_last=True)]
    if groups[0].barrier is not None:  # the very first stage is a barrier: read the input first
        groups.insert(0, Group(index=0, first=0, stages=[], is_last=False))
    for i, g in enumerate(groups):
        g.index = i
        if i > 0:
            g.source = Source.REPARTITIONED if g.barrier is not None and g.barrier.repartition else Source.PREVIOUS
    for g, nxt in zip(groups, groups[1:]):
        g.next_barrier, g.next_barrier_index = nxt.barrier, nxt.first
    head = groups[0]
    if (not head.stages and len(groups) > 1 and input_format in REREAD_FORMATS
            and not groups[1].barrier.reads_documents() and not groups[1].barrier.repartition):
        head.writes_output = False
        groups[1].source = Source.INPUT_AGAIN
    return groups


def barrier_inputs(groups: list[Group], group: Group, shards: list[Shard]) -> list[str]:
    """The shard files ``group``'s barrier applies to (``Summaries.inputs``): the previous
    group's outputs, or none when the group reads the recipe's input again."""
    if group.source is Source.INPUT_AGAIN:
        return []
    previous = groups[group.index - 1]
    return [previous.output_path(s) for s in shards]
