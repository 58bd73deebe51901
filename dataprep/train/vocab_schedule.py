"""Where the vocabulary passes go in a pipeline schedule (vocabulary parallelism).

With vocabulary parallelism ("Balancing Pipeline Parallelism with Vocabulary Parallelism",
Yeung et al. 2024) the output layer and its softmax cross-entropy are split over the vocabulary
across all pipeline ranks, so each microbatch gets two passes on *every* rank:

* ``S`` -- the rank's slice of the logits from the last stage's output (broadcast to all
  ranks), and its softmax statistics (max, sum of exponentials, the target's logit);
  an all-gather of the statistics follows;
* ``T`` -- from the global statistics, the rank's slice of the softmax gradient, its output
  weights' gradient and its part of the input gradient; a reduce of the input gradient to the
  last stage's rank follows, which that stage's backward waits for.

Those are the paper's two all-reduce barriers.  Both passes belong in each rank's op order, as
the paper's schedules place them: early enough that the last stage's backward is not held up,
without stalling the rank's own pipeline work.  :func:`add_vocab_passes` places them by list
scheduling at the given op costs: time advances op by op (always committing the op, over all
ranks, that can start soonest); a rank takes its next pass of the base schedule, its next
``S`` or its next ``T`` -- whichever can start first, vocabulary passes first on a tie, since
they are on the critical path to the last stage's backward.  Each rank runs ``S`` and ``T`` in
microbatch order, so the collectives meet in the same order everywhere.  Because the placement
is a run of the schedule that completes, the order cannot deadlock, whatever the real timings.

:func:`vocab_1f1b` is the base the paper uses for 1F1B: each rank's warm-up takes ``extra``
more forwards (Vocab-1 keeps ``p + 2`` microbatches in flight on the first rank), since the
backward of every microbatch now starts two barriers later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from torch.distributed.pipelining.schedules import _Action, _ComputationType

from dataprep.train.schedule_specs import ScheduleError
from dataprep.train.schedules import one_f_one_b
from dataprep.train.simulate import VOCAB_S, VOCAB_T, OpCosts, ScheduleDeadlock, is_vocab, vocab_action

F, B, I, W, OVERLAP = (_ComputationType.FORWARD, _ComputationType.FULL_BACKWARD,  # noqa: E741
                       _ComputationType.BACKWARD_INPUT, _ComputationType.BACKWARD_WEIGHT, _ComputationType.OVERLAP_F_B)
Order = dict[int, list[_Action]]


def vocab_1f1b(ranks: int, microbatches: int, extra: int = 2) -> Order:
    """1F1B with ``extra`` more warm-up forwards per rank (at most all microbatches)."""
    return one_f_one_b(ranks, microbatches, extra)


def vocab_parallel_actions(name: str, base: Mapping[int, Sequence[_Action]], stage_to_rank: Callable[[int], int],
                           num_stages: int, microbatches: int, costs: OpCosts) -> Order:
    """Schedule ``name``'s order ``base`` with the vocabulary passes placed: 1F1B takes Vocab-1's
    warm-up (:func:`vocab_1f1b`) instead of ``base``; :class:`ScheduleError` for a schedule of
    overlapped forward-backward pairs (DualPipe-V), which leave no place for the passes."""
    if name == "1f1b":
        base = vocab_1f1b(len(base), microbatches)
    if any(a.computation_type == OVERLAP for acts in base.values() for a in acts):
        raise ScheduleError(f"pipeline.vocab_parallel cannot run with {name}: its overlapped forward-backward "
                            "pairs leave no place for the vocabulary passes; use 1f1b, v-half or a zero-bubble one")
    return add_vocab_passes(base, stage_to_rank, num_stages, microbatches, costs)


def add_vocab_passes(base: Mapping[int, Sequence[_Action]], stage_to_rank: Callable[[int], int], num_stages: int,
                     microbatches: int, costs: OpCosts) -> Order:
    """``base`` (compute actions per rank) with every rank's ``S`` and ``T`` of every microbatch placed
    in it (see the module docstring); :class:`ScheduleDeadlock` if ``base`` itself cannot run."""
    ranks = sorted(base)
    lists = {r: [a for a in base[r] if a is not None and not is_vocab(a)] for r in ranks}
    for r in ranks:
        if any(a.computation_type == OVERLAP for a in lists[r]):
            raise ValueError("vocabulary passes cannot be placed in a schedule of overlapped forward-backward pairs")
    last, m = num_stages - 1, microbatches
    root = stage_to_rank(last)
    done: dict[tuple, float] = {}
    free = dict.fromkeys(ranks, 0.0)
    ptr = dict.fromkeys(ranks, 0)
    ns, nt = dict.fromkeys(ranks, 0), dict.fromkeys(ranks, 0)
    out: Order = {r: [] for r in ranks}

    def delay(src: int, dst: int) -> float:
        return costs.comm if src != dst else 0.0

    def need_all(kind: str, mb: int, r: int) -> float | None:
        times = [done.get((kind, q, mb)) for q in ranks]
        if any(t is None for t in times):
            return None
        return max(t + delay(q, r) for q, t in zip(ranks, times))  # type: ignore[operator]

    def base_ready(a: _Action, r: int) -> float | None:
        s, mb, kind = a.stage_index, a.microbatch_index, a.computation_type
        need: list[float | None] = []
        if kind == F and s > 0:
            t = done.get(("F", s - 1, mb))
            need.append(None if t is None else t + delay(stage_to_rank(s - 1), r))
        if kind in (B, I):
            need.append(done.get(("F", s, mb)))
            if s < last:
                t = done.get(("G", s + 1, mb))
                need.append(None if t is None else t + delay(stage_to_rank(s + 1), r))
            else:
                need.append(need_all("T", mb, r))
        if kind == W:
            need.append(done.get(("I", s, mb)))
        if any(t is None for t in need):
            return None
        return max(need, default=0.0)  # type: ignore[type-var]

    def candidates(r: int) -> list[tuple[float, int, _Action]]:
        out_: list[tuple[float, int, _Action]] = []
        if nt[r] < ns[r]:
            t = need_all("S", nt[r], r)
            if t is not None:
                out_.append((max(free[r], t), 0, vocab_action(VOCAB_T, nt[r])))
        if ns[r] < m and ("F", last, ns[r]) in done:
            out_.append((max(free[r], done[("F", last, ns[r])] + delay(root, r)), 1, vocab_action(VOCAB_S, ns[r])))
        if ptr[r] < len(lists[r]):
            t = base_ready(lists[r][ptr[r]], r)
            if t is not None:
                out_.append((max(free[r], t), 2, lists[r][ptr[r]]))
        return out_

    total = sum(len(v) + 2 * m for v in lists.values())
    for _ in range(total):
        options = [(start, prio, r, a) for r in ranks for start, prio, a in candidates(r)]
        if not options:
            stuck = {r: str(lists[r][ptr[r]]) for r in ranks if ptr[r] < len(lists[r])}
            raise ScheduleDeadlock(f"the schedule cannot proceed with vocabulary passes: {stuck}")
        start, _, r, a = min(options, key=lambda o: (o[0], o[1], o[2]))
        kind = a.computation_type
        end = start + costs.of(kind, a.stage_index)
        if is_vocab(a):
            done[(kind.value, r, a.microbatch_index)] = end
            (ns if kind == VOCAB_S else nt)[r] += 1
        else:
            done[(kind.value, a.stage_index, a.microbatch_index)] = end
            if kind in (B, I):
                done[("G", a.stage_index, a.microbatch_index)] = end
            ptr[r] += 1
        free[r] = end
        out[r].append(a)
    return out
