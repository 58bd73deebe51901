"""The simulator with op times that spread: the faster rank waits for the slower at every meeting."""

from __future__ import annotations

import itertools
import statistics

import pytest
from torch.distributed.pipelining.schedules import _Action, _ComputationType

from dataprep.train.simulate import VOCAB_S, VOCAB_T, F, OpCosts, simulate, vocab_action
from dataprep.train.timeline import op_spread, predict, predict_with_spread
from dataprep.train.vocab_schedule import add_vocab_passes, vocab_1f1b


@pytest.mark.parametrize("m", [2, 4, 8])
def test_at_each_meeting_the_faster_rank_waits_for_the_slower(m: int) -> None:
    """One pipeline stage on rank 0 and the vocabulary passes on ranks 0 and 1: each microbatch's
    ``T`` needs both ranks' ``S``, and the next forward waits for the backward, which needs both
    ``T``.  With the ``S`` times 0.5 on one rank and 1.5 on the other (mean 1), each meeting
    lasts 1.5: the step is ``1.5 m`` and each rank is idle a third of it, where mean costs give
    ``m`` and no idle at all (``m`` even: each rank draws 0.5 and 1.5 in turn)."""
    full = _ComputationType.FULL_BACKWARD
    actions = {0: [a for mb in range(m) for a in (_Action(0, F, mb), vocab_action(VOCAB_S, mb),
                                                  vocab_action(VOCAB_T, mb), _Action(0, full, mb))],
               1: [a for mb in range(m) for a in (vocab_action(VOCAB_S, mb), vocab_action(VOCAB_T, mb))]}
    costs = OpCosts(0.0, 0.0, 0.0, s=1.0, t=0.0)
    mean = simulate(actions, lambda s: 0, 1, costs)
    assert mean.step_time == pytest.approx(m) and mean.bubble == pytest.approx([0.0, 0.0])

    factors = itertools.cycle([0.5, 1.5, 1.5, 0.5])  # the S passes run rank 0, rank 1, rank 0, ...
    calls: list[tuple[str, int, int]] = []

    def jitter(kind: str, stage: int, rank: int) -> float:
        calls.append((kind, stage, rank))
        return next(factors) if kind == "S" else 1.0

    spread = simulate(actions, lambda s: 0, 1, costs, jitter=jitter)
    assert spread.step_time == pytest.approx(1.5 * m)
    assert spread.busy == pytest.approx([m, m])  # each rank's own work is unchanged on average
    assert spread.bubble == pytest.approx([1 / 3, 1 / 3])
    assert len(calls) == sum(len(a) for a in actions.values())  # one draw per op run
    assert calls.count(("S", -1, 0)) == calls.count(("S", -1, 1)) == m


def _vocab_doc(s_times: list[float], ranks: int = 2, m: int = 8) -> dict:
    """A timeline of a vocabulary-parallel 1F1B step whose recorded ``S`` passes take ``s_times`` in
    turn (every other op its mean)."""
    costs = OpCosts(0.01, 0.02, 0.0, s=0.1, t=0.1)
    order = add_vocab_passes(vocab_1f1b(ranks, m), lambda x: x, ranks, m, costs)
    step = simulate(order, lambda x: x, ranks, costs)
    s_cycle = itertools.cycle(s_times)
    spans, t = [], 0.0
    for span in step.spans:
        duration = next(s_cycle) if span.kind == "S" else span.end - span.start
        spans.append([span.rank, span.kind, span.stage, span.microbatch, t, t + duration])
        t += duration
    op_costs = {"S-1": 0.1, "T-1": 0.1, **{f"F{s}": 0.01 for s in range(ranks)},
                **{f"B{s}": 0.02 for s in range(ranks)}}
    return {"schedule": "1f1b", "ranks": ranks, "stages_per_rank": 1, "microbatches": m, "op_costs_s": op_costs,
            "comm_s": 0.0, "spans": spans, "order": {str(r): [str(a) for a in acts] for r, acts in order.items()}}


def test_a_step_with_no_spread_predicts_what_mean_costs_predict() -> None:
    doc = _vocab_doc([0.1])
    assert all(f == pytest.approx(1.0) for factors in op_spread(doc).values() for f in factors)
    spread = predict_with_spread(doc, trials=20)
    assert spread.mean_bubble == pytest.approx(predict(doc).mean_bubble)
    assert spread.bubble_sd == pytest.approx(0.0, abs=1e-12) and spread.trials == 20


def test_recorded_spread_adds_the_waits_that_mean_costs_leave_out() -> None:
    doc = _vocab_doc([0.05, 0.15, 0.12, 0.08])
    factors = op_spread(doc)[("S", -1, 0)] + op_spread(doc)[("S", -1, 1)]
    assert len(factors) == 2 * 8 and statistics.fmean(factors) == pytest.approx(1.0)
    assert sorted({round(f, 6) for f in factors}) == [0.5, 0.8, 1.2, 1.5]
    mean = predict(doc)
    spread = predict_with_spread(doc, trials=100, seed=3)
    assert spread == predict_with_spread(doc, trials=100, seed=3)  # seeded
    assert spread.mean_bubble > mean.mean_bubble + 0.03 and spread.step_time > mean.step_time
    wider = predict_with_spread(_vocab_doc([0.02, 0.18]), trials=100, seed=3)
    assert wider.mean_bubble > spread.mean_bubble  # more spread, more waiting


def test_ops_the_step_did_not_record_cost_their_mean() -> None:
    doc = _vocab_doc([0.05, 0.15])
    doc["spans"] = [s for s in doc["spans"] if s[1] != "S"]
    assert not [key for key in op_spread(doc) if key[0] == "S"]
    assert predict_with_spread(doc, trials=10).mean_bubble == pytest.approx(predict(doc).mean_bubble)


def test_a_rank_whose_passes_run_slower_keeps_its_own_factors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank 1's ``S`` passes take 0.15 and rank 0's 0.05 (mean 0.1): at every meeting rank 0
    waits 0.1.  Per-rank factors (1.5 and 0.5) predict that wait at each meeting; factors pooled
    over the ranks would pair a slow pass with a slow one half the time and predict less."""
    from dataprep.train import timeline

    doc = _vocab_doc([0.1])
    for span in doc["spans"]:
        if span[1] == "S":
            span[5] = span[4] + (0.05 if span[0] == 0 else 0.15)
    spread = op_spread(doc)
    assert spread[("S", -1, 0)] == pytest.approx([0.5] * 8) and spread[("S", -1, 1)] == pytest.approx([1.5] * 8)
    per_rank = predict_with_spread(doc, trials=50, seed=1)
    assert per_rank.bubble_sd == pytest.approx(0.0, abs=1e-12)  # no chance left: every draw is the rank's own
    both = spread[("S", -1, 0)] + spread[("S", -1, 1)]
    monkeypatch.setattr(timeline, "op_spread", lambda d: {**spread, ("S", -1, 0): both, ("S", -1, 1): both})
    pooled = predict_with_spread(doc, trials=200, seed=1)
    assert per_rank.step_time > pooled.step_time + 0.1 and per_rank.mean_bubble > pooled.mean_bubble
