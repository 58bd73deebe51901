"""Rank every pipeline schedule for one model and one machine: predicted step time, bubble, memory.

For each schedule x stages per rank x microbatch count that the schedule accepts, the model is
split (``balance: cost``), every stage gets op costs -- predicted from FLOPs
(:func:`dataprep.train.partition.piece_costs`; the input- and weight-gradient passes each cost
about one forward) or measured per piece by :func:`measure_piece_costs` -- and the activation
bytes of :mod:`dataprep.train.memory_model`; the simulator runs the schedule's real action
lists.  A row *fits* when every rank's model state plus its peak activations stays under the
memory per device.  ``zb-auto`` is given what memory leaves for activations as its limit.
Rows are sorted: fitting rows by step time first.

Every schedule that can take them is also tried with **vocabulary parallelism**
(:mod:`dataprep.train.vocab_parallel`): the stages' costs and memory leave out the vocabulary
layers, every rank gets its ``S`` and ``T`` passes (a ``1/P`` share of the output layer's
forward and backward) placed as the trainer places them, and its rows of the two matrices and
the logits its passes hold.  A row also reports the spread of per-rank compute (busiest over
least busy rank), which is what vocabulary parallelism evens out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dataprep.config.errors import ConfigError, Problem
from dataprep.train.config import TrainConfig
from dataprep.train.memory_model import gib, stage_memory, vocab_shard_memory
from dataprep.train.memory_schedules import ScheduleInfeasible
from dataprep.train.partition import PartitionError, piece_costs, split_model, vocab_cost
from dataprep.train.preflight import gpt_config, run_vocabulary
from dataprep.train.schedules import SCHEDULES, ScheduleError, get_schedule, rank_actions
from dataprep.train.shape import GPTConfig
from dataprep.train.simulate import OpCosts, SimResult, simulate
from dataprep.train.vocab_schedule import vocab_parallel_actions


class NothingFits(ValueError):
    """No schedule fits the memory; the message gives the smallest need found."""


@dataclass(frozen=True)
class Row:
    schedule: str
    stages_per_rank: int
    microbatches: int
    step_time: float
    bubble: float
    peak_bytes: tuple[float, ...]  # per rank: model state + peak activations
    state_bytes: tuple[float, ...]
    fits: bool
    note: str = ""
    vocab_parallel: bool = False
    busy_spread: float = 1.0  # busiest rank's compute over the least busy rank's

    @property
    def peak(self) -> float:
        return max(self.peak_bytes)


def measure_piece_costs(cfg: GPTConfig, micro_batch: int, repeats: int = 3) -> list[tuple[float, float]]:
    """Seconds of forward and of full backward for each piece on this process's CPU, on one microbatch
    (the median of ``repeats`` after a warm-up run)."""
    import torch

    from dataprep.train.model import build_piece

    torch.manual_seed(0)
    x = torch.randint(0, cfg.vocab_size, (micro_batch, cfg.seq_len))
    out = []
    for i in range(cfg.pieces):
        piece = build_piece(cfg, i, 0)
        fwd, bwd = [], []
        for rep in range(repeats + 1):
            inp = x if i == 0 else torch.randn(micro_batch, cfg.seq_len, cfg.d_model, requires_grad=True)
            t0 = time.perf_counter()
            y = piece(inp)
            t1 = time.perf_counter()
            y.float().square().mean().backward()
            t2 = time.perf_counter()
            if rep:
                fwd.append(t1 - t0)
                bwd.append(t2 - t1)
        out.append((sorted(fwd)[len(fwd) // 2], sorted(bwd)[len(bwd) // 2]))
    return out


def stage_costs(cfg: GPTConfig, bounds: tuple[tuple[int, int], ...], micro_batch: int,
                measured: Sequence[tuple[float, float]] | None, flops_per_s: float,
                vocab_parallel: bool = False) -> tuple[list[float], ...]:
    """``(f, b, w)`` per stage in seconds: measured per piece, or FLOPs over ``flops_per_s``.  With
    ``vocab_parallel`` the stages' measured embeddings and head are scaled to what they keep
    (the partitioner's share of them)."""
    if measured is not None:
        keep = np.ones(cfg.pieces)
        if vocab_parallel:
            keep = piece_costs(cfg, True) / piece_costs(cfg)
        f = [sum(keep[i] * measured[i][0] for i in range(a, b)) for a, b in bounds]
        back = [sum(keep[i] * measured[i][1] for i in range(a, b)) for a, b in bounds]
        return f, [x / 2 for x in back], [x / 2 for x in back]
    flops = piece_costs(cfg, vocab_parallel) * micro_batch
    f = [float(flops[a:b].sum()) / flops_per_s for a, b in bounds]
    return f, list(f), list(f)


def vocab_pass_costs(cfg: GPTConfig, ranks: int, micro_batch: int, measured: Sequence[tuple[float, float]] | None,
                     flops_per_s: float) -> tuple[float, float]:
    """Seconds of one rank's ``S`` and ``T`` passes for one microbatch: a ``1/ranks`` share of the
    vocabulary layers' forward and backward."""
    if measured is not None:
        head = measured[cfg.layers + 1]
        lookup = measured[0]
        return (head[0] + lookup[0]) / ranks, (head[1] + lookup[1]) / ranks
    forward = vocab_cost(cfg) * micro_batch / flops_per_s / ranks
    return forward, 2 * forward


def search(cfg: GPTConfig, ranks: int, batch: int, memory_per_rank: float, *, precision: str = "fp32", dp: int = 1,
           microbatch_options: Sequence[int] | None = None, schedules: Sequence[str] | None = None,
           measured: Sequence[tuple[float, float]] | None = None, flops_per_s: float = 1e12,
           comm: float = 0.0, vocab_options: Sequence[bool] | None = None) -> list[Row]:
    """Every combination (``vocab_options``: with and without vocabulary parallelism by default), sorted:
    fitting rows by predicted step time, then the rest by memory."""
    options = microbatch_options or [m for m in (1, 2, 4, 8, 16, 32, 64) if batch % m == 0 and m <= batch]
    rows: list[Row] = []
    for name in schedules or SCHEDULES:
        for v in range(1, 5):
            for m in options:
                for vocab in (False, True) if vocab_options is None else vocab_options:
                    try:
                        rows.append(evaluate(cfg, name, ranks, v, m, batch, memory_per_rank, precision=precision,
                                             dp=dp, measured=measured, flops_per_s=flops_per_s, comm=comm,
                                             vocab_parallel=vocab)[0])
                    except (ScheduleError, PartitionError):
                        continue
    rows.sort(key=lambda r: (not r.fits, float(f"{r.step_time:.9g}") if r.fits else r.peak, r.peak, r.schedule,
                             r.stages_per_rank, r.vocab_parallel))
    return rows


def evaluate(cfg: GPTConfig, name: str, ranks: int, stages_per_rank: int, microbatches: int, batch: int,
             memory_per_rank: float, *, precision: str = "fp32", dp: int = 1,
             measured: Sequence[tuple[float, float]] | None = None, flops_per_s: float = 1e12,
             comm: float = 0.0, vocab_parallel: bool = False, balance: str = "cost") -> tuple[Row, SimResult | None]:
    """One schedule on one shape: its row and simulation (None when zb-auto finds no order that fits).
    :class:`ScheduleError` / :class:`PartitionError` when the schedule or the split refuses the shape
    (``vocab_parallel`` with one rank or with overlapped pairs included)."""
    spec, v, m = get_schedule(name), stages_per_rank, microbatches
    spec.check(ranks, v, m)
    if vocab_parallel and ranks < 2:
        raise ScheduleError("vocabulary parallelism needs at least 2 ranks")
    part = split_model(cfg, ranks * v, balance, vocab_parallel)
    where = spec.stage_to_rank(ranks)
    micro = batch // m
    mem = stage_memory(cfg, part.bounds, micro, precision, dp, vocab_parallel)
    f, b, w = stage_costs(cfg, part.bounds, micro, measured, flops_per_s, vocab_parallel)
    s_cost = t_cost = m_v = shard_bytes = 0.0
    if vocab_parallel:
        s_cost, t_cost = vocab_pass_costs(cfg, ranks, micro, measured, flops_per_s)
        shard_bytes, m_v = vocab_shard_memory(cfg, micro, ranks)
    costs = OpCosts(f, b, w, comm, m_b=mem.m_b, m_w=mem.m_w, s=s_cost, t=t_cost, m_v=m_v)
    state = tuple(shard_bytes + sum(mem.state_bytes[s] for s in range(ranks * v) if where(s) == r)
                  for r in range(ranks))
    try:
        actions = rank_actions(name, ranks, m, v, costs=costs, limit=max(1.0, memory_per_rank - max(state)))
    except ScheduleInfeasible as exc:
        return Row(name, v, m, float("inf"), 1.0, (float("inf"),) * ranks, state, False, str(exc),
                   vocab_parallel), None
    if vocab_parallel:
        actions = vocab_parallel_actions(name, actions, where, ranks * v, m, costs)
    sim = simulate(actions, where, ranks * v, costs)
    peak = tuple(s + a for s, a in zip(state, sim.peak_memory))
    spread = max(sim.busy) / min(sim.busy) if min(sim.busy) > 0 else float("inf")
    return Row(name, v, m, sim.step_time, sim.mean_bubble, peak, state, max(peak) <= memory_per_rank, "",
               vocab_parallel, spread), sim


def best(rows: Sequence[Row], memory_per_rank: float) -> Row:
    """The fastest fitting row; :class:`NothingFits` (naming the smallest need) if there is none."""
    fitting = [r for r in rows if r.fits]
    if not fitting:
        least = min((r for r in rows if r.peak != float("inf")), key=lambda r: r.peak, default=None)
        if least is None:
            raise NothingFits("no schedule accepts this shape (ranks, stages per rank, microbatches)")
        raise NothingFits(f"nothing fits in {gib(memory_per_rank)} per rank: the smallest need is {gib(least.peak)} "
                          f"({least.schedule}, {least.stages_per_rank} stage(s) per rank, {least.microbatches} "
                          f"microbatches); add ranks, use more microbatches or bf16, or a smaller model")
    return fitting[0]


def format_table(rows: Sequence[Row], limit: int | None = None) -> str:
    lines = [f"{'':2}{'schedule':<17}{'v':>2}{'mb':>4}{'vocab':>7}{'step':>12}{'bubble':>8}{'busy max/min':>13}"
             f"{'peak/rank':>12}{'state':>11}  fits"]
    for i, r in enumerate(rows[:limit] if limit else rows):
        step = f"{r.step_time:12.4g}" if r.fits or r.step_time != float("inf") else f"{'-':>12}"
        peak = gib(r.peak) if r.peak != float("inf") else "-"
        mark, fits = ("*" if i == 0 and r.fits else " "), ("yes" if r.fits else "no")
        spread = f"{r.busy_spread:12.2f}x" if r.step_time != float("inf") else f"{'-':>13}"
        lines.append(f"{mark:2}{r.schedule:<17}{r.stages_per_rank:>2}{r.microbatches:>4}"
                     f"{'split' if r.vocab_parallel else '-':>7}{step}{100 * r.bubble:7.1f}%{spread}"
                     f"{peak:>12}{gib(max(r.state_bytes)):>11}  {fits}")
    return "\n".join(lines)


def choose_schedule(cfg: GPTConfig, ranks: int, batch: int, microbatches: int, memory_per_rank: float, *,
                    precision: str = "fp32", dp: int = 1) -> tuple[Row, list[Row], str]:
    """``pipeline.schedule: auto``: the fastest fitting schedule and stages per rank for the config's
    microbatches, every row, and a sentence saying why it won."""
    rows = search(cfg, ranks, batch, memory_per_rank, precision=precision, dp=dp, microbatch_options=[microbatches])
    win = best(rows, memory_per_rank)
    runner_up = next((r for r in rows[1:] if r.fits), None)
    vocab = ", vocabulary parallel," if win.vocab_parallel else ""
    why = (f"schedule auto: {win.schedule} with {win.stages_per_rank} stage(s) per rank{vocab} has the shortest "
           f"predicted step of the {sum(r.fits for r in rows)} that fit {gib(memory_per_rank)} per rank "
           f"(bubble {100 * win.bubble:.1f}%, peak {gib(win.peak)})")
    if runner_up is not None:
        why += (f"; next: {runner_up.schedule} x{runner_up.stages_per_rank}"
                f"{' vocabulary parallel' if runner_up.vocab_parallel else ''}, "
                f"{100 * (runner_up.step_time / win.step_time - 1):.1f}% slower")
    return win, rows, why


def default_memory_per_rank(cuda: bool, world: int) -> float:
    """Bytes a rank may use: the first GPU's memory, or on CPU this machine's RAM over the ranks."""
    if cuda:
        import torch

        return float(torch.cuda.get_device_properties(0).total_memory)
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / world


def resolve_auto(cfg: TrainConfig, world: int, file: str) -> tuple[list[str], str]:
    """``pipeline.schedule: auto``: the ``--set`` overrides that pick the winner, and why it won."""
    try:
        pp, dp = cfg.layout(world)
    except ValueError as exc:
        raise ConfigError(file, [Problem("parallel", str(exc))]) from None
    memory = (cfg.pipeline.memory_per_rank * 2 ** 30 if cfg.pipeline.memory_per_rank
              else default_memory_per_rank(cfg.uses_cuda, world))
    try:
        win, _, why = choose_schedule(gpt_config(cfg, run_vocabulary(cfg, file)), pp, cfg.data.batch_size // dp,
                                      cfg.data.microbatches, memory, precision=cfg.precision, dp=dp)
    except NothingFits as exc:
        raise ConfigError(file, [Problem("pipeline.schedule", str(exc))]) from None
    return [f"pipeline.schedule={win.schedule}", f"pipeline.stages_per_rank={win.stages_per_rank}",
            f"pipeline.vocab_parallel={'true' if win.vocab_parallel else 'false'}"], why
