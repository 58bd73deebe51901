"""prefetch_recvs: every receive of a lowered action list moves before the compute action that
preceded it, receives keep their order (so each peer's messages match the same receives), and
nothing else moves; on every action-list schedule's lowering, a receive still comes before the
compute that consumes it."""

from __future__ import annotations

import pytest
from torch.distributed.pipelining.schedules import _Action, _add_send_recv, _ComputationType

from dataprep.train.recv_prefetch import COMPUTE, RECEIVES, post_receives_early, prefetch_recvs
from dataprep.train.schedules import SCHEDULES, get_schedule, rank_actions

RECV_F, RECV_B = _ComputationType.RECV_F, _ComputationType.RECV_B
CONSUMER = {RECV_F: (_ComputationType.FORWARD, _ComputationType.OVERLAP_F_B),
            RECV_B: (_ComputationType.FULL_BACKWARD, _ComputationType.BACKWARD_INPUT, _ComputationType.OVERLAP_F_B)}


def _actions(text: str) -> list[_Action]:
    return [_Action.from_str(a) for a in text.split()]


def test_a_receive_moves_before_the_compute_before_it_and_past_the_sends() -> None:
    lowered = _actions("1RECV_F0 1F0 1SEND_F0 1RECV_F1 1F1 1SEND_F1 3RECV_F0 3F0 3B0 3SEND_B0 1RECV_B0 1B0")
    expected = "1RECV_F0 1RECV_F1 1F0 1SEND_F0 3RECV_F0 1F1 1SEND_F1 3F0 1RECV_B0 3B0 3SEND_B0 1B0"
    assert [str(a) for a in prefetch_recvs(lowered)] == expected.split()
    # two receives in a row: the second stays after the first
    two = prefetch_recvs(_actions("0F0 0RECV_B0 0RECV_B1 0B0"))
    assert [str(a) for a in two] == ["0RECV_B0", "0RECV_B1", "0F0", "0B0"]
    assert prefetch_recvs([]) == []


def _consumes(compute: _Action, receive: _Action) -> bool:
    """Whether ``compute`` (or one of an overlapped pair's parts) uses what ``receive`` brings."""
    return any(a.computation_type in CONSUMER[receive.computation_type] and a.stage_index == receive.stage_index
               and a.microbatch_index == receive.microbatch_index for a in (compute, *(compute.sub_actions or ())))


def _computes_before(actions: list[_Action], action: _Action) -> int:
    return sum(1 for a in actions[:actions.index(action)] if a.computation_type in COMPUTE)


def _lowered(name: str, ranks: int = 2, microbatches: int = 8) -> dict[int, list[_Action]]:
    spec = get_schedule(name)
    order = rank_actions(name, ranks, microbatches, spec.default_stages_per_rank)
    return _add_send_recv({r: [a for a in acts if a is not None] for r, acts in order.items()},
                          spec.stage_to_rank(ranks), ranks * spec.default_stages_per_rank)


@pytest.mark.parametrize("name", [n for n in SCHEDULES if get_schedule(n).multi or n in ("zb-h2", "zb-auto")])
def test_on_every_lowering_receives_keep_their_order_and_precede_their_compute(name: str) -> None:
    for rank, before in _lowered(name).items():
        after = prefetch_recvs(before)
        assert sorted(map(str, after)) == sorted(map(str, before))  # the same actions
        assert [a for a in after if a.computation_type in RECEIVES] == [a for a in before
                                                                        if a.computation_type in RECEIVES]
        assert [a for a in after if a.computation_type not in RECEIVES] == [a for a in before
                                                                            if a.computation_type not in RECEIVES]
        for i, action in enumerate(after):
            if action.computation_type in RECEIVES:  # before the compute that consumes it
                assert i < next(j for j, a in enumerate(after) if _consumes(a, action)), (name, rank, str(action))
        receives = [a for a in before if a.computation_type in RECEIVES]
        was = [_computes_before(before, r) for r in receives]
        now = [_computes_before(after, r) for r in receives]
        assert all(n <= w for n, w in zip(now, was)), (name, rank)  # never later than the library posts it
        assert not receives or sum(now) < sum(was), (name, rank)  # and some earlier


def test_post_receives_early_leaves_single_stage_schedules_alone() -> None:
    class Loop:  # a PipelineScheduleSingle runs its own loop: nothing to reorder
        pipeline_order_with_comms = {0: _actions("0F0 0SEND_F0 0RECV_B0 0B0")}

    schedule = Loop()
    post_receives_early(schedule)
    assert [str(a) for a in schedule.pipeline_order_with_comms[0]] == ["0F0", "0SEND_F0", "0RECV_B0", "0B0"]
