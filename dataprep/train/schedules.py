"""Pipeline schedules by name: the library's, plus ZB-H2 written here as per-rank action lists.

=================  =====================================  ================  ==========
name               runtime                                stages per rank   placement
=================  =====================================  ================  ==========
gpipe              ``ScheduleGPipe``                      1                 loop
1f1b               ``Schedule1F1B``                       1                 loop
interleaved-1f1b   ``ScheduleInterleaved1F1B``            2 or more         loop
looped-bfs         ``ScheduleLoopedBFS``                  2 or more         loop
zb-h1              ``ScheduleInterleavedZeroBubble``      1 (ZB-H1); more   loop
                                                          = interleaved ZB
zb-h2              :class:`ScheduleZBH2` (this module)    1                 loop
zb-v               ``ScheduleZBVZeroBubble``              2                 v
dualpipe-v         ``ScheduleDualPipeV``                  2                 v
=================  =====================================  ================  ==========

*Loop* placement puts stage ``s`` on rank ``s % P``; *v* puts stages ``r`` and ``2P-1-r`` on
rank ``r``.  :func:`rank_actions` gives the compute actions every rank runs, for the
simulator; for the library's multi-stage schedules they come from the library's own schedule
classes (built on shape-only stand-ins for the stages), so the simulator sees exactly what runs.

**ZB-H2** (Qi et al., *Zero Bubble Pipeline Parallelism*, 2023) is not in the library.  Every
rank may hold up to ``2P-1`` microbatches in flight (forward done, weight gradient not yet);
whenever it is free it runs, in this order of preference, an input-gradient backward (``I``, on
the critical path), a forward (while under the in-flight limit), or a deferred weight-gradient
backward (``W``).  Rank 0 therefore runs ``2P-1`` forwards before its first backward, enough to
stay busy until the first gradient returns, and the ``W`` passes fill what would be bubbles.
The per-rank order is derived once by list-scheduling with equal op costs, then run unchanged by
the library's ``_PipelineScheduleRuntime``.  Its bubble is ``(P-1)(T_F+T_B-2T_W)`` when iterations are not
separated by an optimizer barrier (see :mod:`dataprep.train.simulate`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

from torch.distributed.pipelining import (
    PipelineStage,
    Schedule1F1B,
    ScheduleDualPipeV,
    ScheduleGPipe,
    ScheduleInterleaved1F1B,
    ScheduleInterleavedZeroBubble,
    ScheduleLoopedBFS,
    ScheduleZBVZeroBubble,
)
from torch.distributed.pipelining.schedules import (
    PipelineScheduleMulti,
    _Action,
    _ComputationType,
    _PipelineScheduleRuntime,
)

# the Zero Bubble paper's names of the four passes
F, B, I, W = (_ComputationType.FORWARD, _ComputationType.FULL_BACKWARD,  # noqa: E741 - I: the paper's name
              _ComputationType.BACKWARD_INPUT, _ComputationType.BACKWARD_WEIGHT)


class ScheduleError(ValueError):
    """A schedule that cannot run with the asked shape; the message says why and what works."""


def _zb_h2_actions(p: int, m: int) -> dict[int, list[_Action]]:
    """ZB-H2 compute actions for ``p`` ranks (one stage each) and ``m`` microbatches."""
    limit = [2 * p - 1] * p
    f_done = [[None] * m for _ in range(p)]  # end times at unit cost
    g_done = [[None] * m for _ in range(p)]
    nf, ni, nw = [0] * p, [0] * p, [0] * p
    free = [0] * p
    order: dict[int, list[_Action]] = {r: [] for r in range(p)}
    t = 0
    while any(nw[r] < m for r in range(p)):
        for r in range(p):
            if free[r] > t:
                continue
            i_ready = ni[r] < nf[r] and f_done[r][ni[r]] <= t and (
                r == p - 1 or (g_done[r + 1][ni[r]] is not None and g_done[r + 1][ni[r]] <= t))
            f_ready = nf[r] < m and nf[r] - nw[r] < limit[r] and (
                r == 0 or (f_done[r - 1][nf[r]] is not None and f_done[r - 1][nf[r]] <= t))
            if i_ready:
                order[r].append(_Action(r, I, ni[r]))
                g_done[r][ni[r]] = t + 1
                ni[r] += 1
            elif f_ready:
                order[r].append(_Action(r, F, nf[r]))
                f_done[r][nf[r]] = t + 1
                nf[r] += 1
            elif nw[r] < ni[r]:
                order[r].append(_Action(r, W, nw[r]))
                nw[r] += 1
            else:
                continue
            free[r] = t + 1
        t += 1
    return order


class ScheduleZBH2(_PipelineScheduleRuntime):
    """ZB-H2 run by the library's action-list runtime (one stage per rank)."""

    def __init__(self, stages: list[Any], n_microbatches: int, **kwargs: Any) -> None:
        super().__init__(stages=stages, n_microbatches=n_microbatches, **kwargs)
        if len(stages) != 1:
            raise ScheduleError(f"zb-h2 runs one stage per rank, got {len(stages)}")
        self.pipeline_order = dict(_zb_h2_actions(self.pp_group_size, n_microbatches))
        self._prepare_schedule_with_comms(self.pipeline_order)


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    runtime: type
    default_stages_per_rank: int
    allowed_stages_per_rank: Callable[[int], bool]
    placement: str  # "loop" or "v"
    about: str

    @property
    def multi(self) -> bool:
        """Whether the runtime takes a list of stages (all but GPipe and 1F1B)."""
        return issubclass(self.runtime, PipelineScheduleMulti)

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
    ScheduleSpec("gpipe", ScheduleGPipe, 1, _one, "loop", "all forwards, then all backwards; one stage per rank"),
    ScheduleSpec("1f1b", Schedule1F1B, 1, _one, "loop", "one forward, one backward; one stage per rank"),
    ScheduleSpec("interleaved-1f1b", ScheduleInterleaved1F1B, 2, lambda v: v >= 2, "loop",
                 "1F1B over v >= 2 stage chunks per rank"),
    ScheduleSpec("looped-bfs", ScheduleLoopedBFS, 2, lambda v: v >= 2, "loop",
                 "breadth-first over v >= 2 stage chunks per rank"),
    ScheduleSpec("zb-h1", ScheduleInterleavedZeroBubble, 1, lambda v: v >= 1, "loop",
                 "zero bubble H1: backward split into input and weight parts"),
    ScheduleSpec("zb-h2", ScheduleZBH2, 1, _one, "loop", "zero bubble H2: more warm-up forwards; one stage per rank"),
    ScheduleSpec("zb-v", ScheduleZBVZeroBubble, 2, lambda v: v == 2, "v",
                 "V-shaped zero bubble: exactly 2 stages per rank"),
    ScheduleSpec("dualpipe-v", ScheduleDualPipeV, 2, lambda v: v == 2, "v", "DualPipe-V: exactly 2 stages per rank"),
]}


def get_schedule(name: str) -> ScheduleSpec:
    try:
        return SCHEDULES[name]
    except KeyError:
        raise ScheduleError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}") from None


def _shape_only_stages(spec: ScheduleSpec, ranks: int, stages_per_rank: int) -> list[Any]:
    """Stand-ins carrying only what a schedule class reads to plan (rank, sizes, stage index)."""
    out = []
    for s in spec.stages_of(0, ranks, stages_per_rank):
        stage = mock.create_autospec(PipelineStage, instance=True)
        stage.group_rank, stage.group_size, stage.submod = 0, ranks, None
        stage.num_stages, stage.stage_index = ranks * stages_per_rank, s
        out.append(stage)
    return out


def rank_actions(name: str, ranks: int, microbatches: int,
                 stages_per_rank: int | None = None) -> dict[int, list[_Action]]:
    """The compute actions each rank runs, in order."""
    spec = get_schedule(name)
    v = stages_per_rank or spec.default_stages_per_rank
    spec.check(ranks, v, microbatches)
    m = microbatches
    if name == "gpipe":
        return {r: [_Action(r, F, i) for i in range(m)] + [_Action(r, B, i) for i in range(m)] for r in range(ranks)}
    if name == "1f1b":
        out = {}
        for r in range(ranks):
            warm = min(m, ranks - r)
            ops = [_Action(r, F, i) for i in range(warm)]
            for i in range(m):
                ops.append(_Action(r, B, i))
                if warm + i < m:
                    ops.append(_Action(r, F, warm + i))
            out[r] = ops
        return out
    if name == "zb-h2":
        return _zb_h2_actions(ranks, m)
    schedule = spec.runtime(_shape_only_stages(spec, ranks, v), m)
    return {r: [a for a in schedule.pipeline_order[r] if a is not None] for r in range(ranks)}
