"""`dataprep simulate --search`: every schedule that fits, ranked by predicted step time; the memory model."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataprep.train.memory_model import piece_parameters, stage_memory, vocab_shard_memory
from dataprep.train.model import GPTConfig, build_piece
from dataprep.train.schedule_search import NothingFits, best, search
from dataprep.train.vocab_parallel import VocabShard
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
                      "--vocab", "4096", "--microbatches", "4")
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


def test_vocab_parallel_moves_the_vocabulary_out_of_the_stages() -> None:
    ranks = 4
    shards = [VocabShard(CFG, 0, r, ranks) for r in range(ranks)]
    in_shards = sum(p.numel() for shard in shards for p in shard.parameters())
    assert sum(piece_parameters(CFG, vocab_parallel=True)) + in_shards == sum(piece_parameters(CFG))
    state, held = vocab_shard_memory(CFG, micro_batch=2, ranks=ranks)
    assert state == 16.0 * sum(p.numel() for p in shards[0].parameters())
    assert held == 4.0 * CFG.seq_len * 2 * (CFG.vocab_size // ranks + CFG.d_model)  # fp32 logits slice + h
    plain = stage_memory(CFG, ((0, 5), (5, 10)), micro_batch=2)
    split = stage_memory(CFG, ((0, 5), (5, 10)), micro_batch=2, vocab_parallel=True)
    assert plain.m_b[1] - split.m_b[1] == pytest.approx(4.0 * CFG.seq_len * 2 * CFG.vocab_size)  # no logits


def test_the_search_tries_vocabulary_parallelism_and_it_wins_a_large_vocabulary() -> None:
    big = GPTConfig(vocab_size=65536, seq_len=64, layers=4, d_model=64, heads=4)
    rows = search(big, 2, 16, 2 ** 33, schedules=["1f1b", "v-half", "dualpipe-v"], microbatch_options=[8])
    assert {(r.schedule, r.vocab_parallel) for r in rows} == {("1f1b", False), ("1f1b", True), ("v-half", False),
                                                              ("v-half", True), ("dualpipe-v", False)}
    win = best(rows, 2 ** 33)
    assert win.vocab_parallel
    for name in ("1f1b", "v-half"):
        plain, split = (next(r for r in rows if r.schedule == name and r.vocab_parallel == vp) for vp in (False, True))
        assert split.step_time < plain.step_time and split.busy_spread < plain.busy_spread


def test_simulate_compares_three_splits_of_a_large_vocabulary() -> None:
    config = REPO / "recipes" / "train_tiny.yaml"
    result = run_cli("simulate", "--schedule", "1f1b", "--config", str(config), "--stages", "4", "--vocab", "65536")
    assert result.returncode == 0, result.stderr
    table = {}
    for label in ("naive (balance: uniform)", "balance: cost", "vocabulary parallel"):
        line = next(x for x in result.stdout.splitlines() if x.strip().startswith(label))
        step, bubble, spread = line.strip()[len(label):].split()[:3]
        table[label] = (float(step), float(spread.rstrip("x")))
    naive, cost, vocab = table.values()
    assert vocab[0] < cost[0] <= naive[0]  # step time
    assert vocab[1] < cost[1] <= naive[1]  # busiest over least busy rank
    assert vocab[1] < 1.1
