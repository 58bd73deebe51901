"""Pipeline schedules by name: what each accepts (ranks, stages per rank, microbatches) and
where it places stages -- without importing torch, so the CLI checks a training config before
starting any rank.  The classes that run them are in :mod:`dataprep.train.schedules`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class ScheduleError(ValueError):
    """A schedule that cannot run with the asked shape; the message says why and what works."""


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    runtime: str  # the class that runs it (:func:`dataprep.train.schedules.runtime_class`)
    multi: bool  # whether the runtime takes a list of stages (all but GPipe and 1F1B)
    default_stages_per_rank: int
    allowed_stages_per_rank: Callable[[int], bool]
    placement: str  # "loop" or "v"
    about: str

    def check(self, ranks: int, stages_per_rank: int, microbatches: int) -> None:
        if not self.allowed_stages_per_rank(stages_per_rank):
            raise ScheduleError(f"{self.name} cannot run {stages_per_rank} stages per rank ({self.about})")
        if ranks < 2 and self.name != "gpipe" and self.name != "1f1b":
            raise ScheduleError(f"{self.name} needs at least 2 pipeline ranks, got {ranks}")
        stages = ranks * stages_per_rank
        if self.name == "dualpipe-v" and microbatches < stages:
            raise ScheduleError(f"dualpipe-v needs at least as many microbatches as stages: {microbatches} < "
                                f"{stages} ({ranks} ranks x 2)")
        if self.name in ("interleaved-1f1b", "zb-h1") and stages_per_rank > 1:
            rounds = max(1, microbatches // ranks)
            if microbatches % rounds:
                raise ScheduleError(f"{self.name} needs microbatches to be a multiple of max(1, microbatches // ranks) "
                                    f"= {rounds}; got {microbatches} with {ranks} ranks. Try {rounds * ranks}.")

    def stage_to_rank(self, ranks: int) -> Callable[[int], int]:
        if self.placement == "v":
            return lambda s: s if s < ranks else 2 * ranks - 1 - s
        return lambda s: s % ranks

    def stages_of(self, rank: int, ranks: int, stages_per_rank: int) -> list[int]:
        """The stage indices rank ``rank`` holds, in increasing order."""
        where = self.stage_to_rank(ranks)
        return [s for s in range(ranks * stages_per_rank) if where(s) == rank]


def _one(v: int) -> bool:
    return v == 1


SCHEDULES: dict[str, ScheduleSpec] = {s.name: s for s in [
    ScheduleSpec("gpipe", "ScheduleGPipe", False, 1, _one, "loop",
                 "all forwards, then all backwards; one stage per rank"),
    ScheduleSpec("1f1b", "Schedule1F1B", False, 1, _one, "loop", "one forward, one backward; one stage per rank"),
    ScheduleSpec("interleaved-1f1b", "ScheduleInterleaved1F1B", True, 2, lambda v: v >= 2, "loop",
                 "1F1B over v >= 2 stage chunks per rank"),
    ScheduleSpec("looped-bfs", "ScheduleLoopedBFS", True, 2, lambda v: v >= 2, "loop",
                 "breadth-first over v >= 2 stage chunks per rank"),
    ScheduleSpec("zb-h1", "ScheduleInterleavedZeroBubble", True, 1, lambda v: v >= 1, "loop",
                 "zero bubble H1: backward split into input and weight parts"),
    ScheduleSpec("zb-h2", "ScheduleZBH2", True, 1, _one, "loop",
                 "zero bubble H2: more warm-up forwards; one stage per rank"),
    ScheduleSpec("zb-auto", "ScheduleFromActions", True, 1, _one, "loop",
                 "zero bubble auto-scheduler: the fastest order for the predicted costs under an activation "
                 "limit (pipeline.activation_limit); one stage per rank"),
    ScheduleSpec("zb-v", "ScheduleZBVZeroBubble", True, 2, lambda v: v == 2, "v",
                 "V-shaped zero bubble: exactly 2 stages per rank"),
    ScheduleSpec("v-half", "ScheduleFromActions", True, 2, lambda v: v == 2, "v",
                 "V-Half: about half 1F1B's activation memory; exactly 2 stages per rank"),
    ScheduleSpec("v-min", "ScheduleFromActions", True, 2, lambda v: v == 2, "v",
                 "V-Min: about a third of 1F1B's activation memory; exactly 2 stages per rank"),
    ScheduleSpec("dualpipe-v", "ScheduleDualPipeV", True, 2, lambda v: v == 2, "v",
                 "DualPipe-V: exactly 2 stages per rank"),
]}


def get_schedule(name: str) -> ScheduleSpec:
    try:
        return SCHEDULES[name]
    except KeyError:
        raise ScheduleError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}") from None
