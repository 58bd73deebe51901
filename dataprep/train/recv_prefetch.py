"""Receives posted one compute action early, on gloo: the transfer overlaps the compute before it.

``torch.distributed.pipelining`` lowers a compute-only schedule to one with sends and receives
(``_add_send_recv``), and a rank's receive often lands right before the compute that consumes it:
looped BFS's second rank runs ``RECV_F k, F k, SEND_F k, RECV_F k+1, F k+1`` ...  The runtime
posts a receive (an ``irecv``) when it meets the action and waits for it at the compute, so there
the whole transfer is exposed.  On gloo over a loaded 2-core machine that cost about 5 ms per
microbatch (measured: the gaps between the second rank's forwards in a looped-BFS step), which
is a few points of bubble that the simulator, charging the idle transfer time (0.1 ms), does not
predict; where the lowering had already posted a receive early, the gap was 0.4 ms.

:func:`prefetch_recvs` moves every receive before the compute action preceding it on its rank
(past the sends and other actions in between), keeping all of a rank's receives in their order,
so each peer's messages match the same receives as before (gloo matches a source's messages in
the order they are posted).  Nothing waits earlier: posting an ``irecv`` does not block, and its
buffer (one per stage and microbatch, set up before the step) is not in use.

It is applied on gloo only.  On NCCL the point-to-point operations of a pair of ranks run in
order on one stream, so a receive moved ahead of a send to the same peer could wait on that
peer's own receive (the deadlock the library's rank-parity ordering avoids); there the
library's order is kept.
"""

from __future__ import annotations

from typing import Any

from torch.distributed.pipelining.schedules import _Action, _ComputationType, _PipelineScheduleRuntime

RECEIVES = (_ComputationType.RECV_F, _ComputationType.RECV_B)
COMPUTE = (_ComputationType.FORWARD, _ComputationType.FULL_BACKWARD, _ComputationType.BACKWARD_INPUT,
           _ComputationType.BACKWARD_WEIGHT, _ComputationType.OVERLAP_F_B)


def prefetch_recvs(actions: list[_Action]) -> list[_Action]:
    """One rank's lowered action list with every receive moved before the compute action that
    precedes it (not before an earlier receive, nor before the list's start); the rest keeps its order."""
    out: list[_Action] = []
    compute_at = 0  # index of the latest compute action written: a receive goes before it
    after_receive = 0  # index just after the latest receive written: the next one goes no earlier
    for action in actions:
        if action.computation_type in RECEIVES:
            at = max(compute_at, after_receive)
            out.insert(at, action)
            after_receive = at + 1
            if at == compute_at:  # that compute action moved one place on
                compute_at += 1
        else:
            out.append(action)
            if action.computation_type in COMPUTE:
                compute_at = len(out) - 1
    return out


def post_receives_early(schedule: Any) -> None:
    """Apply :func:`prefetch_recvs` to every rank's lowered list of an action-list schedule (the
    library's multi-stage schedules, ours, vocabulary parallelism's); the single-stage schedules
    (GPipe, 1F1B) run their own loop and are left as they are."""
    if isinstance(schedule, _PipelineScheduleRuntime):
        schedule.pipeline_order_with_comms = {rank: prefetch_recvs(actions)
                                              for rank, actions in schedule.pipeline_order_with_comms.items()}
