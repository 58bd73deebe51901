"""The simulator reproduces the closed forms of the pipeline papers, for equal and unequal op costs."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch.distributed.pipelining.schedules import _Action, _ComputationType

from dataprep.train.gantt import draw_gantt
from dataprep.train.memory_schedules import ScheduleInfeasible
from dataprep.train.schedules import get_schedule, rank_actions, zb_auto_actions
from dataprep.train.simulate import OpCosts, ScheduleDeadlock, simulate

SHAPES = [(2, 4), (2, 8), (3, 6), (4, 8), (4, 16)]
COSTS = [OpCosts(1, 1, 1), OpCosts(1.0, 1.5, 0.7), OpCosts(1.2, 1.0, 0.8), OpCosts(1.0, 2.0, 0.5)]


def run(name: str, p: int, m: int, costs: OpCosts, sync: bool = True):
    spec = get_schedule(name)
    v = spec.default_stages_per_rank
    chunk = OpCosts(costs.f / v, costs.b / v, costs.w / v, costs.comm)  # v chunks split one rank's work
    return simulate(rank_actions(name, p, m), spec.stage_to_rank(p), p * v, chunk, sync=sync)


@pytest.mark.parametrize("p,m", SHAPES)
@pytest.mark.parametrize("c", COSTS, ids=str)
def test_gpipe_and_1f1b_idle_is_p_minus_1_full_steps(p: int, m: int, c: OpCosts) -> None:
    for name in ("gpipe", "1f1b"):
        r = run(name, p, m, c)
        for idle in r.idle:
            assert idle == pytest.approx((p - 1) * (c.f + c.b + c.w))
        assert r.step_time == pytest.approx((m + p - 1) * (c.f + c.b + c.w))
    if c == COSTS[0]:
        assert run("1f1b", p, m, c).mean_bubble == pytest.approx((p - 1) / (m + p - 1))


@pytest.mark.parametrize("p,m", SHAPES)
def test_peak_in_flight_microbatches(p: int, m: int) -> None:
    assert run("gpipe", p, m, COSTS[0]).peak_inflight == [m] * p
    assert run("1f1b", p, m, COSTS[0]).peak_inflight == list(range(p, 0, -1))
    assert max(run("zb-h1", p, m, COSTS[0]).peak_inflight) == p
    assert max(run("zb-h2", p, m, COSTS[0]).peak_inflight) == min(2 * p - 1, m)


@pytest.mark.parametrize("p,m", SHAPES)
@pytest.mark.parametrize("c", COSTS, ids=str)
def test_zero_bubble_h1_and_h2(p: int, m: int, c: OpCosts) -> None:
    for idle in run("zb-h1", p, m, c).idle:
        assert idle == pytest.approx((p - 1) * (c.f + c.b - c.w))
    if m >= 2 * p - 1:  # H2 needs 2p-1 microbatches to fill its warm-up; it assumes no optimizer barrier
        for idle in run("zb-h2", p, m, c, sync=False).idle:
            assert idle == pytest.approx((p - 1) * (c.f + c.b - 2 * c.w), abs=1e-9)


@pytest.mark.parametrize("p,m", [(2, 4), (2, 8), (4, 8), (4, 16)])
def test_interleaving_divides_the_bubble_by_v(p: int, m: int) -> None:
    one = run("1f1b", p, m, COSTS[0]).idle[0]
    for name in ("interleaved-1f1b", "looped-bfs"):
        assert run(name, p, m, COSTS[0]).idle[0] == pytest.approx(one / 2)


@pytest.mark.parametrize("p,m", [(2, 4), (2, 8), (4, 8), (4, 16)])
def test_zb_v_is_about_zero(p: int, m: int) -> None:
    assert run("zb-v", p, m, COSTS[0], sync=False).mean_bubble == pytest.approx(0, abs=1e-9)
    # with an optimizer barrier every step, what is left is under a fifth of 1F1B's bubble
    assert run("zb-v", p, m, COSTS[0]).mean_bubble < run("1f1b", p, m, COSTS[0]).mean_bubble / 5 + 0.02


def test_communication_time_adds_to_the_critical_path() -> None:
    for p, m in SHAPES:  # GPipe: the forward wave and the backward wave each cross p-1 links
        base = run("gpipe", p, m, OpCosts(1, 1, 1)).step_time
        assert run("gpipe", p, m, OpCosts(1, 1, 1, comm=0.5)).step_time == pytest.approx(base + 2 * (p - 1) * 0.5)
        assert run("1f1b", p, m, OpCosts(1, 1, 1, comm=0.5)).step_time > base


def test_a_schedule_that_cannot_proceed_is_reported() -> None:
    F, B = _ComputationType.FORWARD, _ComputationType.FULL_BACKWARD
    bad = {0: [_Action(0, B, 0), _Action(0, F, 0)], 1: [_Action(1, F, 0), _Action(1, B, 0)]}
    with pytest.raises(ScheduleDeadlock, match="0B0"):
        simulate(bad, lambda s: s, 2, OpCosts())


def test_gantt_png(tmp_path: Path) -> None:
    sim = run("zb-h1", 4, 8, COSTS[1])
    path = draw_gantt(tmp_path / "zb.png", sim.spans, 4, "zb-h1", measured=sim.spans)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_simulate_command(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    result = run_cli("simulate", "--schedule", "zb-h2", "--stages", "4", "--microbatches", "8", "--no-sync",
                     "--plot", str(tmp_path / "zb.png"))
    assert result.returncode == 0, result.stderr
    assert "bubble 0.0%" in result.stdout and (tmp_path / "zb.png").stat().st_size > 10_000
    # the rest in this process (the command's own code; the subprocess above covers the entry point)
    from click.testing import CliRunner

    from dataprep.cli.main import main

    result = CliRunner().invoke(main, ["simulate", "--schedule", "1f1b", "--stages", "4", "--microbatches", "12"])
    assert "step time 45.000" in result.output and "bubble 20.0%" in result.output  # (p-1)/(m+p-1) = 3/15
    bad = CliRunner().invoke(main, ["simulate", "--schedule", "zb-v", "--stages", "2", "--microbatches", "4",
                                    "--stages-per-rank", "3"])
    assert bad.exit_code == 2 and "exactly 2 stages per rank" in bad.output


# --- schedules built for a memory budget (zb-auto, V-Half, V-Min) and the memory they hold ---

# The Zero Bubble paper's profiled settings (its ICLR version's appendix: p, m, T_F, T_B, T_W, T_comm, as
# the authors' repository lists them, with h and a of the model) and its bubble rates of ZB-2p and ZB-1p.
PAPER_SETTINGS = [  # model, p, m, f, b, w, comm, hidden, heads, ZB-2p, ZB-1p (= ZB-H1)
    ("1.5B", 8, 24, 18522, 18086, 9337, 601, 2304, 24, 0.0433, 0.1585),
    ("1.5B", 8, 32, 18513, 18086, 9331, 626, 2304, 24, 0.0039, 0.1242),
    ("6.2B", 8, 24, 29718, 29444, 19927, 527, 4096, 32, 0.0029, 0.1323),
]


def paper_costs(f: float, b: float, w: float, comm: float, hidden: int, heads: int) -> OpCosts:
    seq = 1024  # the paper's M_B = 34h + 5as and M_W = 32h per token (the sequence length multiplies both)
    return OpCosts(f, b, w, comm, m_b=34 * hidden + 5 * heads * seq, m_w=32 * hidden)


@pytest.mark.parametrize("setting", PAPER_SETTINGS, ids=lambda s: f"{s[0]}-m{s[2]}")
def test_zb_auto_reproduces_the_papers_zb_2p_bubble_rates(setting) -> None:
    _, p, m, f, b, w, comm, h, a, zb2p, _ = setting
    costs = paper_costs(f, b, w, comm, h, a)
    order = zb_auto_actions(p, m, costs, 2 * p * costs.memory(0)[0], metric="span")
    result = simulate(order, lambda s: s, p, costs)
    assert abs(result.span_bubble - zb2p) < 0.01
    assert max(result.peak_memory) <= 2 * p * costs.memory(0)[0]


@pytest.mark.parametrize("p,m", SHAPES)
@pytest.mark.parametrize("c", COSTS, ids=str)
def test_zb_auto_at_p_microbatches_is_zb_h1(p: int, m: int, c: OpCosts) -> None:
    h1 = simulate(rank_actions("zb-h1", p, m), lambda s: s, p, c)
    auto = simulate(rank_actions("zb-auto", p, m, costs=c, limit=p), lambda s: s, p, c)
    assert max(auto.peak_microbatches) <= p
    assert auto.step_time <= h1.step_time + 1e-9
    if c == COSTS[0]:
        assert auto.step_time == pytest.approx(h1.step_time)
        for idle in auto.idle:
            assert idle == pytest.approx((p - 1) * (c.f + c.b - c.w))


def test_zb_auto_refuses_a_limit_below_one_microbatch() -> None:
    with pytest.raises(ScheduleInfeasible, match="no order fits 0.5"):
        rank_actions("zb-auto", 4, 8, limit=0.5)


@pytest.mark.parametrize("name,memory,rate", [("v-half", lambda p: (p + 2) // 2, lambda p, m: p / (2 * m)),
                                              ("v-min", lambda p: (p + 4) // 3, lambda p, m: 2 * p / (3 * m))])
@pytest.mark.parametrize("p,m", [(2, 8), (3, 12), (4, 8), (4, 16), (6, 24), (8, 32)])
def test_v_half_and_v_min_hold_the_papers_memory_at_a_bubble_below_1f1b(name, memory, rate, p: int, m: int) -> None:
    unit = OpCosts(1, 1, 1)  # per rank: two chunks of half the work each
    v = run(name, p, m, unit)
    one_f_one_b = run("1f1b", p, m, unit)
    assert max(v.peak_inflight) / 2 == memory(p)  # two chunks per microbatch and rank
    assert v.span_bubble <= rate(p, m) + 1e-9  # the paper's ~p/2m and ~2p/3m
    assert v.span_bubble < one_f_one_b.span_bubble
    assert one_f_one_b.span_bubble == pytest.approx((p - 1) / (m + p - 1))


# bubble (largest rank span) of the authors' V-Half / V-Min scheduler at unit costs, computed with
# their public code (sail-sg/zero-bubble-pipeline-parallelism) at m = 4p
AUTHORS_V = {("v-half", 2): 0.0204, ("v-half", 3): 0.0649, ("v-half", 4): 0.0495, ("v-half", 6): 0.0710,
             ("v-min", 2): 0.0588, ("v-min", 3): 0.0649, ("v-min", 4): 0.1028, ("v-min", 6): 0.1056}


@pytest.mark.parametrize(("name", "p"), sorted(AUTHORS_V))
def test_v_schedules_squeezed_reach_the_authors_bubble(name: str, p: int) -> None:
    v = run(name, p, 4 * p, OpCosts(1, 1, 1))
    authors = AUTHORS_V[(name, p)]
    if name == "v-half" or p == 6:
        assert v.span_bubble == pytest.approx(authors, abs=1e-4)
    else:  # V-Min: the same or smaller
        assert v.span_bubble <= authors + 1e-4


def test_memory_follows_the_zero_bubble_papers_accounting() -> None:
    # 1F1B frees a microbatch at its (full) backward: rank 0 holds p of them; ZB-H1 keeps M_W until W
    p, m = 4, 8
    c = OpCosts(1, 1, 1, m_b=10.0, m_w=3.0)
    assert simulate(rank_actions("1f1b", p, m), lambda s: s, p, c).peak_memory == [40, 30, 20, 10]
    h1 = simulate(rank_actions("zb-h1", p, m), lambda s: s, p, c)
    assert h1.peak_memory[0] == 40 and h1.peak_microbatches[0] == 4
    assert h1.microbatch_memory == [10] * p


def test_a_measured_full_backward_keeps_its_own_cost_beside_split_ones() -> None:
    """DualPipe-V runs full backwards and, for its last microbatches, split ones on the same
    stages; a full backward is simulated at its measured cost, not as its parts' sum."""
    from dataprep.train.timeline import predict

    p, m = 2, 6
    costs = {f"{k}{s}": c for s in range(2 * p) for k, c in (("F", 1.0), ("I", 1.0), ("W", 1.0), ("B", 1.5))}
    doc = {"schedule": "dualpipe-v", "ranks": p, "stages_per_rank": 2, "microbatches": m, "op_costs_s": costs,
           "comm_s": 0.0}
    sim = predict(doc)
    kinds = [leaf.computation_type for acts in rank_actions("dualpipe-v", p, m).values() for a in acts if a
             for leaf in (a.sub_actions if a.computation_type == _ComputationType.OVERLAP_F_B else [a])]
    full = kinds.count(_ComputationType.FULL_BACKWARD)
    assert full and kinds.count(_ComputationType.BACKWARD_INPUT)  # both kinds ran
    expected = {_ComputationType.FORWARD: 1.0, _ComputationType.BACKWARD_INPUT: 1.0,
                _ComputationType.BACKWARD_WEIGHT: 1.0, _ComputationType.FULL_BACKWARD: 1.5}
    assert sum(sim.busy) == pytest.approx(sum(expected.get(k, 0.0) for k in kinds))
    assert sum(sim.busy) < sum(2.0 if k == _ComputationType.FULL_BACKWARD else expected.get(k, 0.0) for k in kinds)
