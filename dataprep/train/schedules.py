"""Pipeline schedules by name: the library's, plus ZB-H2, zb-auto, V-Half and V-Min as per-rank action lists.

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
zb-auto            :class:`ScheduleFromActions` (ours)    1                 loop
zb-v               ``ScheduleZBVZeroBubble``              2                 v
v-half, v-min      :class:`ScheduleFromActions` (ours)    2                 v
dualpipe-v         ``ScheduleDualPipeV``                  2                 v
=================  =====================================  ================  ==========

``zb-auto``, ``v-half`` and ``v-min`` are built for a memory budget in
:mod:`dataprep.train.memory_schedules`.  ``zb-auto`` is the fastest, for the given op costs, of
the list scheduler's orders under the activation limit and of ZB-H1's and ZB-H2's orders when
they fit it (so it is never slower than a hand-made schedule that fits).

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

from typing import Any

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
    _Action,
    _ComputationType,
    _PipelineScheduleRuntime,
)

from dataprep.train.memory_schedules import (
    ScheduleInfeasible,
    best_list_schedule,
    fits_memory,
    objective,
    v_schedule,
)
from dataprep.train.schedule_specs import SCHEDULES, ScheduleError, ScheduleSpec, get_schedule
from dataprep.train.simulate import OpCosts, simulate

__all__ = ["SCHEDULES", "ScheduleError", "ScheduleSpec", "get_schedule", "rank_actions", "runtime_class"]

# the Zero Bubble paper's names of the four passes
F, B, I, W = (_ComputationType.FORWARD, _ComputationType.FULL_BACKWARD,  # noqa: E741 - I: the paper's name
              _ComputationType.BACKWARD_INPUT, _ComputationType.BACKWARD_WEIGHT)


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


class ScheduleFromActions(_PipelineScheduleRuntime):
    """A per-rank compute order (every rank's, as :func:`rank_actions` gives it) run by the library's
    action-list runtime, which adds the sends and receives."""

    def __init__(self, stages: list[Any], n_microbatches: int, *, order: dict[int, list[_Action]],
                 **kwargs: Any) -> None:
        super().__init__(stages=stages, n_microbatches=n_microbatches, **kwargs)
        self.compute_order = {r: list(order[r]) for r in range(self.pp_group_size)}
        self.pipeline_order = {r: list(acts) for r, acts in self.compute_order.items()}
        self._prepare_schedule_with_comms(self.pipeline_order)


def runtime_class(spec: ScheduleSpec) -> type:
    """The ``torch.distributed.pipelining`` class (or ours) that runs ``spec``."""
    return {"ScheduleFromActions": ScheduleFromActions,"ScheduleGPipe": ScheduleGPipe, "Schedule1F1B": Schedule1F1B,
            "ScheduleInterleaved1F1B": ScheduleInterleaved1F1B, "ScheduleLoopedBFS": ScheduleLoopedBFS,
            "ScheduleInterleavedZeroBubble": ScheduleInterleavedZeroBubble, "ScheduleZBH2": ScheduleZBH2,
            "ScheduleZBVZeroBubble": ScheduleZBVZeroBubble, "ScheduleDualPipeV": ScheduleDualPipeV}[spec.runtime]


def _shape_only_stages(spec: ScheduleSpec, ranks: int, stages_per_rank: int) -> list[Any]:
    """Stand-ins carrying only what a schedule class reads to plan (rank, sizes, stage index)."""
    out = []
    for s in spec.stages_of(0, ranks, stages_per_rank):
        stage = PipelineStage.__new__(PipelineStage)  # no __init__: no module, device or process group
        stage.__dict__.update(group_rank=0, group_size=ranks, submod=None, num_stages=ranks * stages_per_rank,
                              stage_index=s)
        out.append(stage)
    return out


def zb_auto_actions(ranks: int, microbatches: int, costs: OpCosts, limit: float,
                    metric: str = "makespan") -> dict[int, list[_Action]]:
    """``zb-auto``: the fastest order under ``limit`` activation memory per rank (``costs.m_b`` units).

    The list scheduler's orders compete with ZB-H1's and ZB-H2's where those fit the limit;
    ``metric`` is what is minimised (:func:`dataprep.train.memory_schedules.objective`)."""
    where = lambda s: s  # noqa: E731 - one stage per rank
    try:
        order, result, _ = best_list_schedule(ranks, microbatches, where, ranks, costs, limit, metric)
        best = (objective(result, metric), order)
    except ScheduleInfeasible:
        best = None
    for hand in ("zb-h1", "zb-h2"):
        order = rank_actions(hand, ranks, microbatches)
        result = simulate(order, where, ranks, costs)
        if fits_memory(result, limit) and (best is None or objective(result, metric) < best[0]):
            best = (objective(result, metric), order)
    if best is None:
        per_mb = costs.memory(0)[0]
        raise ScheduleInfeasible(f"zb-auto: no order fits {limit:g} of activations per rank "
                                 f"(one microbatch holds {per_mb:g} per stage); raise the limit")
    return best[1]


def one_f_one_b(ranks: int, microbatches: int, extra_warmup: int = 0) -> dict[int, list[_Action]]:
    """1F1B's compute actions: rank ``r`` warms up with ``ranks - r`` forwards (plus ``extra_warmup``,
    at most all microbatches), then alternates a backward and a forward."""
    out = {}
    for r in range(ranks):
        warm = min(microbatches, ranks - r + extra_warmup)
        ops = [_Action(r, F, i) for i in range(warm)]
        for i in range(microbatches):
            ops.append(_Action(r, B, i))
            if warm + i < microbatches:
                ops.append(_Action(r, F, warm + i))
        out[r] = ops
    return out


def rank_actions(name: str, ranks: int, microbatches: int, stages_per_rank: int | None = None, *,
                 costs: OpCosts | None = None, limit: float | None = None) -> dict[int, list[_Action]]:
    """The compute actions each rank runs, in order.

    ``costs`` and ``limit`` (activation memory per rank, in ``costs.m_b`` units) matter only to
    ``zb-auto``: by default unit costs, one unit per microbatch, and a limit of ``2 x ranks``
    (the paper's ZB-2p)."""
    spec = get_schedule(name)
    v = stages_per_rank or spec.default_stages_per_rank
    spec.check(ranks, v, microbatches)
    m = microbatches
    if name == "gpipe":
        return {r: [_Action(r, F, i) for i in range(m)] + [_Action(r, B, i) for i in range(m)] for r in range(ranks)}
    if name == "1f1b":
        return one_f_one_b(ranks, m)
    if name == "zb-h2":
        return _zb_h2_actions(ranks, m)
    if name == "zb-auto":
        return zb_auto_actions(ranks, m, costs or OpCosts(), 2.0 * ranks if limit is None else limit)
    if name in ("v-half", "v-min"):
        return v_schedule(name, ranks, m)
    schedule = runtime_class(spec)(_shape_only_stages(spec, ranks, v), m)
    return {r: [a for a in schedule.pipeline_order[r] if a is not None] for r in range(ranks)}
