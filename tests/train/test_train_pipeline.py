"""Every schedule, run by the library's runtime on 2 gloo processes, equals the unsplit model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dataprep.train.model import GPTConfig, build_full, token_loss
from dataprep.train.partition import PartitionError, partition, uniform_partition
from dataprep.train.schedules import SCHEDULES, ScheduleError, get_schedule, rank_actions
from dataprep.train.simulate import OpCosts, simulate
from tests.helpers.gloo_workers import run_workers
from tests.helpers.pipeline_worker import CFG, MICROBATCHES, SEED, batch

ROOT = Path(__file__).resolve().parents[2]  # the repository (tests.helpers is imported from it)


@pytest.fixture(scope="module")
def pipeline_grads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pipeline-grads")
    run_workers("tests.helpers.pipeline_worker", 2, out, ",".join(SCHEDULES))
    return out


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_loss_and_gradients_equal_the_unsplit_model(pipeline_grads: Path, name: str) -> None:
    model = build_full(CFG, SEED)
    inputs, labels = batch()
    loss = token_loss(model(inputs), labels)
    loss.backward()
    reference = {n: p.grad for n, p in model.named_parameters()}

    grads: dict[str, torch.Tensor] = {}
    losses: list[float] = []
    for rank in range(2):
        saved = torch.load(pipeline_grads / f"{name}-rank{rank}.pt", weights_only=True)
        assert not set(saved["grads"]) & set(grads), "a parameter lives on two ranks"
        grads.update(saved["grads"])
        losses += saved["losses"]
    assert len(losses) == 4  # one loss per microbatch, on the rank holding the last stage
    assert sum(losses) == pytest.approx(loss.item(), rel=1e-5)
    assert set(grads) == set(reference)
    for n, g in reference.items():
        torch.testing.assert_close(grads[n], g, rtol=1e-4, atol=1e-5, msg=lambda m, n=n: f"{name} {n}: {m}")


def test_on_gloo_a_receive_is_posted_before_the_compute_that_precedes_it(pipeline_grads: Path) -> None:
    """The runs above (whose gradients equal the unsplit model's) ran the action lists with
    receives posted early (dataprep.train.recv_prefetch): looped BFS's second rank posts the
    second microbatch's receive before its first forward, where the library posts it after."""
    actions = torch.load(pipeline_grads / "looped-bfs-rank1.pt", weights_only=True)["actions"]
    assert actions.index("1RECV_F1") < actions.index("1F0") < actions.index("1SEND_F0")


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_a_checkpoint_continues_every_schedule_bit_for_bit(pipeline_grads: Path, name: str) -> None:
    """After an update, two steps straight on give the same losses, bit for bit, as the same two
    steps on the rank's stages built again from another seed and loaded from a checkpoint."""
    saved = [torch.load(pipeline_grads / f"{name}-rank{rank}.pt", weights_only=True) for rank in range(2)]
    assert sum(len(s["straight"]) for s in saved) == 2 * MICROBATCHES
    for rank, s in enumerate(saved):
        assert s["resumed"] == s["straight"], f"{name} rank {rank}"
    last = next(s for s in saved if s["straight"])  # the rank with the last stage
    assert last["unloaded"] != last["straight"][:MICROBATCHES]  # the checkpoint, not the seed, made them equal


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_the_simulated_peak_is_what_the_runtime_holds(pipeline_grads: Path, name: str) -> None:
    spec = get_schedule(name)
    sim = simulate(rank_actions(name, 2, MICROBATCHES), spec.stage_to_rank(2), 2 * spec.default_stages_per_rank,
                   OpCosts())
    for rank in range(2):
        saved = torch.load(pipeline_grads / f"{name}-rank{rank}.pt", weights_only=True)
        assert saved["live_after"] == 0
        assert saved["peak_live"] == sim.peak_inflight[rank], f"{name} rank {rank}"


def test_partition_balances_a_large_vocabulary_head() -> None:
    cfg = GPTConfig(vocab_size=50_000, seq_len=256, layers=8, d_model=256, heads=4)
    naive, balanced = uniform_partition(cfg, 4), partition(cfg, 4)
    assert naive.imbalance > 1.5  # the head makes the last stage the straggler
    assert balanced.imbalance < naive.imbalance
    blocks_last = balanced.bounds[-1][1] - balanced.bounds[-1][0] - 1
    assert blocks_last < 2  # the last stage gets fewer blocks than the others
    assert max(balanced.costs) == pytest.approx(min(max(p.costs) for p in [balanced, naive]))
    assert "head" in balanced.describe() and "slowest stage / mean" in balanced.describe()


def test_partition_explains_an_impossible_split() -> None:
    cfg = GPTConfig(vocab_size=100, seq_len=16, layers=2, d_model=16, heads=2)
    with pytest.raises(PartitionError, match=r"2 layers \+ embeddings \+ head = 4 pieces into 6 stages"):
        partition(cfg, 6)
    with pytest.raises(PartitionError, match="divisible"):
        uniform_partition(GPTConfig(vocab_size=100, seq_len=16, layers=5, d_model=16, heads=2), 2)


def test_schedule_errors_name_the_arithmetic() -> None:
    with pytest.raises(ScheduleError, match="unknown schedule 'zb-h3'.*zb-h2"):
        get_schedule("zb-h3")
    with pytest.raises(ScheduleError, match="exactly 2 stages per rank"):
        rank_actions("zb-v", 2, 4, 3)
    with pytest.raises(ScheduleError, match="at least as many microbatches as stages: 2 < 4"):
        rank_actions("dualpipe-v", 2, 2)
