"""`dataprep simulate --search`: every schedule that fits, ranked by predicted step time; the memory model."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataprep.train.memory_model import piece_parameters, stage_memory
from dataprep.train.model import GPTConfig, build_piece
from dataprep.train.schedule_search import NothingFits, best, search
from tests.conftest import REPO, run_cli

CFG = GPTConfig(vocab_size=4096, seq_len=64, layers=8, d_model=64, heads=4)


def test_parameter_counts_are_the_models() -> None:
    for cfg in (CFG, GPTConfig(vocab_size=97, seq_len=12, layers=2, d_model=16, heads=2, mlp_ratio=2)):
        real = [sum(p.numel() for p in build_piece(cfg, i, 0).parameters()) for i in range(cfg.pieces)]
        assert piece_parameters(cfg) == real


def test_state_and_activation_bytes() -> None:
    mem = stage_memory(CFG, ((0, 5), (5, 10)), micro_batch=2, precision="fp32", dp=1)
    assert mem.state_bytes == tuple(16.0 * n for n in mem.parameters)  # fp32 weights, grads, two AdamW moments
    assert sum(mem.parameters) == sum(piece_parameters(CFG))
    sharded = stage_memory(CFG, ((0, 5), (5, 10)), micro_batch=2, precision="bf16", dp=4)
    assert sharded.state_bytes[0] == pytest.approx(mem.parameters[0] * (16 / 4 + 2))
    assert sharded.m_b[0] == pytest.approx(mem.m_b[0] / 2)  # 16-bit activations
    assert mem.m_b[1] > mem.m_b[0]  # the head's fp32 logits: 4 s b V bytes
    s, b, h = CFG.seq_len, 2, CFG.d_model
    assert mem.m_w[0] == pytest.approx(2 * 4 * 32 * s * b * h)  # the embeddings keep nothing for W


def test_the_best_row_is_the_fastest_that_fits() -> None:
    memory = 64 * 2 ** 20
    rows = search(CFG, 2, 16, memory)
    names = {r.schedule for r in rows}
    assert {"1f1b", "zb-h1", "zb-auto", "v-half", "v-min", "zb-v"} <= names
    fitting = [r for r in rows if r.fits]
    assert fitting and all(not r.fits for r in rows[len(fitting):])  # fitting rows first
    win = best(rows, memory)
    assert win.step_time == min(r.step_time for r in fitting)
    assert all(r.peak <= memory for r in fitting)
    # a tighter budget drops the memory-hungry rows (GPipe holds every microbatch), never the winner's rank
    tight = search(CFG, 2, 16, sorted(r.peak for r in fitting)[len(fitting) // 2])
    assert sum(r.fits for r in tight) < len(fitting)


def test_nothing_fits_is_refused_with_the_smallest_need() -> None:
    rows = search(CFG, 2, 16, 2 ** 20)
    with pytest.raises(NothingFits, match=r"nothing fits in 1.0 MiB per rank: the smallest need is .* MiB"):
        best(rows, 2 ** 20)


def test_the_search_command(tmp_path: Path) -> None:
    config = REPO / "recipes" / "train_tiny.yaml"
    ok = run_cli("simulate", "--search", "--config", str(config), "--stages", "2", "--memory", "0.2",
                 "--vocab", "4096", "--top", "5", "--microbatches", "4")
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("schedule"))
    assert lines[header + 1].startswith("*")  # the winner, marked, on the first row
    assert "best:" in lines[-1] and "pipeline.schedule:" in lines[-1]
    refused = run_cli("simulate", "--search", "--config", str(config), "--stages", "2", "--memory", "0.0001",
                      "--vocab", "4096")
    assert refused.returncode == 2
    assert "nothing fits in 0.1 MiB per rank" in refused.stderr


def test_simulate_a_config_shows_bytes_per_rank(tmp_path: Path) -> None:
    config = REPO / "recipes" / "train_tiny.yaml"
    result = run_cli("simulate", "--schedule", "1f1b", "--config", str(config), "--stages", "2", "--vocab", "32000",
                     "--memory", "0.1", "--plot", str(tmp_path / "g.png"))
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("  ") and line.split()[0].isdigit()]
    assert [r[0] for r in rows] == ["0", "1"]
    assert rows[0][-3] == "2.00" and rows[1][-3] == "1.00"  # 1F1B: rank 0 holds p microbatches, the last 1
    assert "fits in 0.1 GiB per rank" in result.stdout and (tmp_path / "g.png").stat().st_size > 0
