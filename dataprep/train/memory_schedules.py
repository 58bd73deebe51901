"""Schedules built for a memory budget: the zero-bubble auto-scheduler, V-Half and V-Min.

Neither paper's schedules are in ``torch.distributed.pipelining``; this module derives their
per-rank op orders (``F``, ``I``, ``W`` :class:`_Action` lists, run by the library's
``_PipelineScheduleRuntime``) from the papers' descriptions.

**List scheduling under a limit** (:func:`list_schedule`; the Zero Bubble paper's heuristic,
Qi et al. 2023, section 3).  Time advances from event to event.  A free rank picks, among the
ops whose inputs have arrived: an input-gradient backward ``I`` (the critical path; oldest
microbatch first), else a forward ``F`` if the rank's activation memory stays under the limit,
else a weight-gradient backward ``W``.  Memory follows the paper's accounting (``F`` adds
``M_B``, ``I`` frees ``M_B - M_W``, ``W`` the rest).  A lower bound of when the next ``I`` can
arrive (every downstream rank doing it as soon as it is free) decides whether a forward would
delay it.  :class:`Knobs` are the heuristic's binary choices, and :func:`best_list_schedule`
tries them all through the simulator and keeps the fastest (the paper's grid search).  On a V
placement a microbatch is admitted to a rank only if the memory of its second leg is still
free, so no limit that fits one microbatch can deadlock.

**V-Half and V-Min** ("Pipeline Parallelism with Controllable Memory", Qi et al. 2024): stages
``r`` and ``2P-1-r`` on rank ``r``, and one *building block* per microbatch -- the slot of each
of its four passes on every rank, repeated every 6 slots (each rank runs ``F`` and ``I`` of two
chunks and two ``W`` per microbatch).  The block's lifespans set the memory: every pass
follows its input at once, except that consecutive ranks' first-leg forwards (and second-leg
input backwards) are ``spacing`` slots apart -- 1 for V-Min (activations about 1/3 of 1F1B's),
2 for V-Half (about 1/2).  A pass whose slot modulo 6 is taken on its rank moves to the next
free one; ``W`` takes the first free slot after its ``I``.  The repeated block leaves the
warm-up and cool-down sparse, so (as the paper's authors do) their passes are then moved
forward (:func:`squeeze_slots`): in slot order, each to the earliest free slot after its inputs
where the rank's peak memory stays within the block's; once with the ``W`` passes in slots of
their own, which move too, then again with ``W`` filling the free slots.  The order of the
slots is the rank's order; the runtime runs it as soon as possible, which is what
:func:`dataprep.train.simulate.simulate` predicts.  Last, a ``W`` placed right before an ``I``
swaps with it where the simulated step gets shorter at the same peak
(:func:`input_backwards_first`: the zero-bubble rule that the critical path goes first).  At
unit costs this gives the authors' scheduler's bubble for V-Half at p = 2, 3, 4, 6, 8
(m = 4p), and for V-Min its bubble or a smaller one.  The list scheduler at the same limit is
tried too, and the faster order that fits is used.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

from torch.distributed.pipelining.schedules import _Action, _ComputationType

from dataprep.train.simulate import OpCosts, SimResult, simulate

F, I, W = _ComputationType.FORWARD, _ComputationType.BACKWARD_INPUT, _ComputationType.BACKWARD_WEIGHT  # noqa: E741
Order = dict[int, list[_Action]]
_EPS = 1e-9


class ScheduleInfeasible(ValueError):
    """No order fits the memory limit; the message says what one microbatch needs."""


@dataclass(frozen=True)
class Knobs:
    """The heuristic's choices (see the module docstring)."""
    w_fill: str = "eager"  # eager: a W fills any idle moment; fit: only if it ends before the next I or F arrives
    warmup_over_i: bool = False  # before a rank's first I: start a forward even if that I arrives before it ends
    f_over_i: bool = True  # after it: likewise
    alternate: bool = False  # after an I, a ready forward goes first (1F1B's rhythm)


KNOBS: tuple[Knobs, ...] = tuple(Knobs(*k) for k in itertools.product(("eager", "fit"), (False, True),
                                                                     (False, True), (False, True)))


def list_schedule(ranks: int, microbatches: int, stage_to_rank: Callable[[int], int], num_stages: int,
                  costs: OpCosts, limit: float, knobs: Knobs = Knobs()) -> Order:
    """One order per rank for ``microbatches`` with at most ``limit`` activation memory per rank
    (``costs.m_b``/``m_w`` units); :class:`ScheduleInfeasible` if one microbatch does not fit."""
    S, m = num_stages, microbatches
    own = {r: [s for s in range(S) if stage_to_rank(s) == r] for r in range(ranks)}
    m_b = [costs.memory(s)[0] for s in range(S)]
    m_w = [costs.memory(s)[1] for s in range(S)]
    for r, stages in own.items():
        need = sum(m_b[s] for s in stages)
        if need > limit + _EPS * max(1.0, limit):
            raise ScheduleInfeasible(f"rank {r} holds {need:g} of activations for one microbatch on its stages "
                                     f"{stages}, over the limit {limit:g}")
    first = {r: min(st) for r, st in own.items()}  # where a microbatch enters the rank
    promise = {r: sum(m_b[s] for s in st if s != first[r]) for r, st in own.items()}
    comm = {s: costs.comm if s > 0 and stage_to_rank(s - 1) != stage_to_rank(s) else 0.0 for s in range(S)}
    nxt = {(k, s): 0 for k in (F, I, W) for s in range(S)}
    end: dict[tuple[_ComputationType, int, int], float] = {}
    free, mem, reserved = [0.0] * ranks, [0.0] * ranks, [0.0] * ranks
    started_i = [False] * ranks
    last: list[_ComputationType | None] = [None] * ranks
    waiting = [0.0] * ranks
    order: Order = {r: [] for r in range(ranks)}

    def arrival(kind: _ComputationType, s: int, mb: int) -> float | None:
        if kind == F:
            if s == 0:
                return 0.0
            t = end.get((F, s - 1, mb))
            return None if t is None else t + comm[s]
        if kind == I:
            t = end.get((F, s, mb))
            if t is None or s == S - 1:
                return t
            u = end.get((I, s + 1, mb))
            return None if u is None else max(t, u + comm[s + 1])
        return end.get((I, s, mb))

    def f_end_lb(s: int, mb: int) -> float:
        known = end.get((F, s, mb))
        if known is not None:
            return known
        before = 0.0 if s == 0 else f_end_lb(s - 1, mb) + comm[s]
        return max(before, free[stage_to_rank(s)]) + costs.of(F, s)

    def i_end_lb(s: int, mb: int) -> float:
        known = end.get((I, s, mb))
        if known is not None:
            return known
        after = f_end_lb(s, mb) if s == S - 1 else max(f_end_lb(s, mb), i_end_lb(s + 1, mb) + comm[s + 1])
        return max(after, free[stage_to_rank(s)]) + costs.of(I, s)

    def i_eta(r: int, t: float) -> float:
        """A lower bound of when the next pending I of rank ``r`` arrives after ``t`` (inf: none pending)."""
        etas = []
        for s in own[r]:
            mb = nxt[(I, s)]
            if mb < m and (F, s, mb) in end:
                a = end[(F, s, mb)] if s == S - 1 else i_end_lb(s + 1, mb) + comm[s + 1]
                if a > t:
                    etas.append(a)
        return min(etas, default=math.inf)

    def fits(r: int, s: int) -> bool:
        extra = m_b[s] + promise[r] if s == first[r] else 0.0  # a later leg spends what its admission reserved
        return mem[r] + reserved[r] + extra <= limit + _EPS * max(1.0, limit)

    def candidates(r: int) -> list[tuple[_ComputationType, int, int, float | None]]:
        return [(k, s, nxt[(k, s)], arrival(k, s, nxt[(k, s)])) for s in own[r] for k in (F, I, W) if nxt[(k, s)] < m]

    def actionable(r: int, t: float | None = None) -> list[float]:
        return [max(free[r], a) for k, s, _, a in candidates(r)
                if a is not None and (t is None or a > t) and (k != F or fits(r, s))]

    def pick(r: int, t: float) -> tuple[_ComputationType, int, int] | None:
        cands = candidates(r)
        ready = [(k, s, mb) for k, s, mb, a in cands if a is not None and a <= t]
        ins = sorted((mb, -s) for k, s, mb in ready if k == I)
        fs = sorted((s == first[r], mb, s) for k, s, mb in ready if k == F and fits(r, s))
        if ins and not (knobs.alternate and fs and last[r] == I):
            return I, -ins[0][1], ins[0][0]
        eta = t if ins else i_eta(r, t)
        if fs:  # a later leg first: it finishes an admitted microbatch
            _, mb, s = fs[0]
            if t + costs.of(F, s) <= eta or (knobs.f_over_i if started_i[r] else knobs.warmup_over_i):
                return F, s, mb
        if ins:
            return I, -ins[0][1], ins[0][0]
        ws = sorted((mb, s) for k, s, mb in ready if k == W)
        if ws:
            mb, s = ws[0]
            memory_bound = any(k == F and not fits(r, s2) for k, s2, _ in ready)
            if memory_bound or knobs.w_fill == "eager" or t + costs.of(W, s) <= eta:
                return W, s, mb
        waiting[r] = min(actionable(r, t) + [eta])
        return None

    for _ in range(3 * S * m):
        while True:
            t, r = min((max(min(actionable(q), default=math.inf), waiting[q]), q) for q in range(ranks))
            if math.isinf(t):
                raise ScheduleInfeasible(f"no rank can go on under the activation limit {limit:g}")
            op = pick(r, t)
            if op is not None:
                break
        kind, s, mb = op
        start = max(t, free[r])
        end[(kind, s, mb)] = free[r] = start + costs.of(kind, s)
        nxt[(kind, s)] += 1
        order[r].append(_Action(s, kind, mb))
        if kind == F:
            mem[r] += m_b[s]
            reserved[r] += promise[r] if s == first[r] else -m_b[s]
        elif kind == I:
            mem[r] -= m_b[s] - m_w[s]
            started_i[r] = True
        else:
            mem[r] -= m_w[s]
        if kind != W:
            last[r] = kind
        waiting = [0.0] * ranks  # a new arrival may end any wait
    return order


def fits_memory(result: SimResult, limit: float) -> bool:
    return max(result.peak_memory) <= limit + _EPS * max(1.0, limit)


def objective(result: SimResult, metric: str) -> float:
    """``makespan``: one synchronised step (what the trainer runs); ``span``: the largest rank span
    (the Zero Bubble paper's tables, with the optimizer step taken off the critical path)."""
    return result.step_time if metric == "makespan" else max(result.rank_spans)


def best_list_schedule(ranks: int, microbatches: int, stage_to_rank: Callable[[int], int], num_stages: int,
                       costs: OpCosts, limit: float, metric: str = "makespan",
                       knobs: tuple[Knobs, ...] = KNOBS) -> tuple[Order, SimResult, Knobs]:
    """The fastest of :func:`list_schedule`'s orders over ``knobs``, with its simulation."""
    best: tuple[float, Order, SimResult, Knobs] | None = None
    problem: ScheduleInfeasible | None = None
    for k in knobs:
        try:
            order = list_schedule(ranks, microbatches, stage_to_rank, num_stages, costs, limit, k)
        except ScheduleInfeasible as e:
            problem = e
            continue
        result = simulate(order, stage_to_rank, num_stages, costs)
        score = objective(result, metric)
        if best is None or score < best[0] - _EPS * abs(score):
            best = (score, order, result, k)
    if best is None:
        raise problem or ScheduleInfeasible("no order found")
    return best[1], best[2], best[3]


def v_stage_to_rank(ranks: int) -> Callable[[int], int]:
    return lambda s: s if s < ranks else 2 * ranks - 1 - s


def v_block_offsets(ranks: int, spacing: int, gap: int = 0) -> list[list[int]]:
    """Per rank, the slots of one microbatch's first-leg F, second-leg F, second-leg I, first-leg I."""
    p = ranks
    used: list[set[int]] = [set() for _ in range(p)]
    off = [[0] * 4 for _ in range(p)]

    def place(r: int, k: int, earliest: int) -> None:
        t = earliest
        while t % 6 in used[r]:
            t += 1
        used[r].add(t % 6)
        off[r][k] = t

    for r in range(p):
        place(r, 0, 0 if r == 0 else off[r - 1][0] + spacing)
    for r in reversed(range(p)):
        place(r, 1, off[r][0] + 1 if r == p - 1 else off[r + 1][1] + 1)
    for r in range(p):
        place(r, 2, off[r][1] + 1 + gap if r == 0 else max(off[r - 1][2] + spacing, off[r][1] + 1))
    for r in reversed(range(p)):
        place(r, 3, off[r][2] + 1 if r == p - 1 else max(off[r + 1][3] + 1, off[r][2] + 1))
    return off


#: one rank's slots: for each of the block's four passes (see :func:`v_block_offsets`), the slot of
#: every microbatch's pass; optionally a fifth list, the slots of its ``W`` passes in order
Slots = list[list[int]]


def v_block_slots(ranks: int, microbatches: int, spacing: int, gap: int = 0) -> list[Slots]:
    """The building block repeated every 6 slots: per rank, the slot of every pass."""
    off = v_block_offsets(ranks, spacing, gap)
    return [[[off[r][k] + 6 * mb for mb in range(microbatches)] for k in range(4)] for r in range(ranks)]


def _w_in_free_slots(rank: Slots) -> tuple[dict[int, tuple[int, int]], list[tuple[int, int, int]]]:
    """(slot -> (pass, microbatch)) of the four passes, and ``(slot, pass, microbatch)`` of each ``W``:
    in the first free slot after its ``I``, oldest ``I`` first."""
    taken = {t: (k, mb) for k in range(4) for mb, t in enumerate(rank[k])}
    ws: list[tuple[int, int, int]] = []
    pending: list[tuple[int, int]] = []
    end, t = max(taken), 0
    while t <= end or pending:
        if t in taken:
            if taken[t][0] >= 2:
                pending.append(taken[t])
        elif pending:
            ws.append((t, *pending.pop(0)))
        t += 1
    return taken, ws


def _peak(rank: Slots) -> int:
    """Activations held at most (forwards less weight backwards), ``W`` at its slots (the fifth list)
    or, without one, in the free slots."""
    w_slots = rank[4] if len(rank) > 4 else [t for t, _, _ in _w_in_free_slots(rank)[1]]
    events = sorted([(t, 1) for k in (0, 1) for t in rank[k]] + [(t, -1) for t in w_slots])
    held = peak = 0
    for _, change in events:
        held += change
        peak = max(peak, held)
    return peak


def _earliest(slots: list[Slots], r: int, k: int, mb: int) -> int:
    """The first slot a pass may take: after its input (the pass before it on the neighbouring rank,
    or on this rank where the V turns), its own previous pass and the same pass of the previous
    microbatch."""
    last = len(slots) - 1
    after = -1
    if k == 0 and r > 0:
        after = slots[r - 1][0][mb]
    elif k == 1:
        after = slots[r + 1][1][mb] if r < last else slots[r][0][mb]
    elif k == 2:
        after = slots[r - 1][2][mb] if r > 0 else slots[r][1][mb]
    elif k == 3:
        after = slots[r + 1][3][mb] if r < last else slots[r][2][mb]
    elif k == 4:  # the mb-th W follows the mb-th input backward of the rank, and the W before it
        after = max(sorted(slots[r][2] + slots[r][3])[mb], slots[r][4][mb - 1] if mb else -1)
    if 0 < k < 4:
        after = max(after, slots[r][k - 1][mb])
    if mb and k < 4:
        after = max(after, slots[r][k][mb - 1])
    return after + 1


def _copied(slots: list[Slots]) -> list[Slots]:
    return [[list(kind) for kind in rank] for rank in slots]


def squeeze_slots(slots: list[Slots], microbatches: int, explicit_w: bool) -> list[Slots]:
    """Move each pass of the warm-up and the cool-down (not of the steady phase, from rank 0's first
    first-leg ``I`` to its last first-leg ``F``) to the earliest free slot its inputs allow, if the
    rank's peak stays within the block's; passes in slot order, so every move sees its inputs'
    final slots.  ``explicit_w``: the ``W`` passes get slots of their own first (in the free slots)
    and move too; otherwise they fill the free slots as they are left.  Moves the passes in ``slots``'
    own lists; returns the four passes of each rank."""
    if explicit_w:
        slots = [rank[:4] + [[t for t, _, _ in _w_in_free_slots(rank)[1]]] for rank in slots]
    limit = max(_peak(rank) for rank in slots)
    steady = (slots[0][3][0], slots[0][0][microbatches - 1])
    passes = sorted((slots[r][k][j], r, k, j) for r, rank in enumerate(slots) for k in range(len(rank))
                    for j in range(len(rank[k])))
    occupied = [{t for kind in rank for t in kind} for rank in slots]
    for start, r, k, j in passes:
        if steady[0] <= start <= steady[1]:
            continue
        for slot in range(_earliest(slots, r, k, j), start):
            if slot in occupied[r]:
                continue
            slots[r][k][j] = slot
            if _peak(slots[r]) <= limit:
                occupied[r].discard(start)
                occupied[r].add(slot)
                break
            slots[r][k][j] = start
    return [rank[:4] for rank in slots]


def v_slot_order(slots: list[Slots]) -> Order:
    """Each rank's passes in slot order, ``W`` in the free slots (oldest ``I`` first)."""
    p = len(slots)
    order: Order = {}
    for r in range(p):
        stages, kinds = (r, 2 * p - 1 - r, 2 * p - 1 - r, r), (F, F, I, I)
        taken, ws = _w_in_free_slots(slots[r])
        timed = [(t, _Action(stages[k], kinds[k], mb)) for t, (k, mb) in taken.items()]
        timed += [(t, _Action(stages[k], W, mb)) for t, k, mb in ws]
        order[r] = [a for _, a in sorted(timed, key=lambda x: x[0])]
    return order


def input_backwards_first(order: Order, where: Callable[[int], int], num_stages: int, costs: OpCosts, limit: float,
                          step: float) -> tuple[Order, float]:
    """``order`` after a local search: a ``W`` right before an ``I`` on a rank swaps with it (the
    ``I`` is on the critical path) wherever that shortens the simulated step and keeps every
    rank's peak within ``limit``, until no swap does; returns the order and its step time."""
    order = {r: list(actions) for r, actions in order.items()}
    improved = True
    while improved:
        improved = False
        for actions in order.values():
            for i in range(len(actions) - 1):
                if actions[i].computation_type != W or actions[i + 1].computation_type != I:
                    continue
                actions[i], actions[i + 1] = actions[i + 1], actions[i]
                result = simulate(order, where, num_stages, costs)
                if max(result.peak_memory) <= limit + _EPS and result.step_time < step - _EPS * step:
                    step, improved = result.step_time, True
                else:
                    actions[i], actions[i + 1] = actions[i + 1], actions[i]
    return order, step


V_SPACING = {"v-min": 1, "v-half": 2}


def v_limit(name: str, ranks: int) -> int:
    """The paper's activation memory of V-Min and V-Half, in microbatches of one rank's activations."""
    return (ranks + 4) // 3 if name == "v-min" else (ranks + 2) // 2


def v_schedule(name: str, ranks: int, microbatches: int, costs: OpCosts | None = None) -> Order:
    """V-Min or V-Half for ``ranks`` (two stages each): the fastest order (under ``costs``, default
    unit costs) among the building block's and the list scheduler's at the same memory."""
    S = 2 * ranks
    where = v_stage_to_rank(ranks)
    costs = costs or OpCosts(1.0, 1.0, 1.0, m_b=0.5)  # a chunk holds half a rank's activations
    per_rank = max(sum(costs.memory(s)[0] for s in range(S) if where(s) == r) for r in range(ranks))
    options = []
    for gap in range(6):
        block = v_block_slots(ranks, microbatches, V_SPACING[name], gap)
        variants = [block, squeeze_slots(_copied(block), microbatches, explicit_w=False),
                    # W moved first, then the rest squeezed again around the free slots
                    squeeze_slots(squeeze_slots(_copied(block), microbatches, explicit_w=True), microbatches,
                                  explicit_w=False)]
        for n, slots in enumerate(variants):
            order = v_slot_order(slots)
            result = simulate(order, where, S, costs)
            options.append((max(result.peak_memory), result.step_time, gap, n, order))
    peak, step, _, _, block = min(options, key=lambda o: o[:4])
    block, step = input_backwards_first(block, where, S, costs, peak, step)
    limit = max(peak, v_limit(name, ranks) * per_rank)
    best = (step, block)
    try:
        order, result, _ = best_list_schedule(ranks, microbatches, where, S, costs, limit)
        if fits_memory(result, limit) and result.step_time < best[0] - _EPS * best[0]:
            best = (result.step_time, order)
    except ScheduleInfeasible:
        pass
    return best[1]
