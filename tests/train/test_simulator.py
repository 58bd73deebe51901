"""The simulator reproduces the closed forms of the pipeline papers, for equal and unequal op costs."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch.distributed.pipelining.schedules import _Action, _ComputationType

from dataprep.train.gantt import draw_gantt
from dataprep.train.schedules import get_schedule, rank_actions
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
