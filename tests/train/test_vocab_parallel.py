"""Vocabulary parallelism: the embedding and the output layer split over the pipeline's ranks, on
real gloo processes, equal the unsplit model; the placement of its passes, simulated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from dataprep.train.export import load_full_model
from dataprep.train.memory_schedules import v_stage_to_rank
from dataprep.train.model import build_full, token_loss
from dataprep.train.partition import split_model
from dataprep.train.pipeline import vocab_parallel_order
from dataprep.train.schedule_specs import ScheduleError
from dataprep.train.schedules import get_schedule, rank_actions
from dataprep.train.simulate import OpCosts, simulate
from dataprep.train.vocab_parallel import vocab_range
from dataprep.train.vocab_schedule import add_vocab_passes, vocab_1f1b
from tests.helpers.gloo_workers import run_workers
from tests.helpers.pipeline_worker import CFG, MICROBATCHES, SEED, batch
from tests.helpers.vocab_worker import Scaled

RUNS = {2: ["1f1b", "v-half", "zb-h1"], 4: ["1f1b"]}
CASES = [(world, name) for world, names in RUNS.items() for name in names]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    out = {}
    for world, names in RUNS.items():
        out[world] = tmp_path_factory.mktemp(f"vocab-{world}")
        run_workers("tests.helpers.vocab_worker", world, out[world], ",".join(names))
    return out


def _saved(runs: dict[int, Path], world: int, name: str) -> list[dict]:
    return [torch.load(runs[world] / f"{name}-rank{r}.pt", weights_only=True) for r in range(world)]


def _unsplit_reference() -> tuple[float, dict[str, torch.Tensor]]:
    model = build_full(CFG, SEED)
    inputs, labels = batch()
    loss = token_loss(model(inputs), labels, Scaled.scale)
    loss.backward()
    return loss.item(), {n: p.grad for n, p in model.named_parameters()}


@pytest.mark.parametrize(("world", "name"), CASES)
def test_vocab_parallel_loss_and_gradients_equal_the_unsplit_model(runs: dict[int, Path], world: int,
                                                                   name: str) -> None:
    loss, reference = _unsplit_reference()
    saved = _saved(runs, world, name)
    losses = [x for s in saved for x in s["losses"]]
    assert len(losses) == MICROBATCHES  # on the last stage's rank only, as without vocabulary parallelism
    assert sum(losses) == pytest.approx(loss, rel=1e-5)
    assert sum(x for s in saved for x in s["evaluated"]) == pytest.approx(loss, rel=1e-5)  # forward only

    whole: dict[str, torch.Tensor] = {}
    rows: dict[str, list[tuple[int, int, torch.Tensor]]] = {}
    for s in saved:
        for key, grad in s["grads"].items():
            sliced = re.fullmatch(r"(.+)\[(\d+):(\d+)\]", key)
            if sliced:
                rows.setdefault(sliced[1], []).append((int(sliced[2]), int(sliced[3]), grad))
            else:
                assert key not in whole, f"{key} lives on two ranks"
                whole[key] = grad
    assert set(rows) == {"pieces.0.tokens.weight", f"pieces.{CFG.layers + 1}.out.weight"}
    for key, parts in rows.items():  # each rank holds its own rows, together all of them
        parts.sort(key=lambda p: p[0])
        assert [(lo, hi) for lo, hi, _ in parts] == [vocab_range(CFG.vocab_size, r, world) for r in range(world)]
        whole[key] = torch.cat([g for _, _, g in parts])
    assert set(whole) == set(reference)
    for n, g in reference.items():
        torch.testing.assert_close(whole[n], g, rtol=1e-4, atol=1e-6, msg=lambda m, n=n: f"{name} {n}: {m}")


@pytest.mark.parametrize(("world", "name"), CASES)
def test_vocab_parallel_checkpoint_continues_bit_for_bit_and_holds_the_unsplit_matrices(
        runs: dict[int, Path], world: int, name: str) -> None:
    saved = _saved(runs, world, name)
    for rank, s in enumerate(saved):
        assert s["resumed"] == s["straight"], f"{name} rank {rank}"
    last = next(s for s in saved if s["straight"])
    assert last["unloaded"] != last["straight"][:MICROBATCHES]
    # the checkpoint (after one update) holds whole matrices: the unsplit model loads it and computes
    # the loss the pipeline computed next, on the first batch after it
    model, _ = load_full_model(runs[world] / f"checkpoint-{name}")
    inputs, labels = batch(12)
    with torch.no_grad():
        expected = token_loss(model(inputs), labels, Scaled.scale).item()
    assert sum(last["straight"][:MICROBATCHES]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("world", "name"), CASES)
def test_every_rank_runs_both_vocabulary_passes_and_the_simulated_peak_is_held(
        runs: dict[int, Path], world: int, name: str) -> None:
    spec = get_schedule(name)
    v = spec.default_stages_per_rank
    part = split_model(CFG, world * v, "cost", vocab_parallel=True)
    order = vocab_parallel_order(CFG, spec, part, world, v, MICROBATCHES, 1, "fp32", None)
    sim = simulate(order, spec.stage_to_rank(world), world * v, OpCosts(part.costs, part.costs, part.costs))
    for rank, s in enumerate(_saved(runs, world, name)):
        assert s["passes"] == sorted([("S", mb) for mb in range(MICROBATCHES)] +
                                     [("T", mb) for mb in range(MICROBATCHES)])
        assert s["peak_live"] == sim.peak_inflight[rank], f"{name} rank {rank}"


@pytest.mark.parametrize("p", [2, 3, 4, 6])
@pytest.mark.parametrize("m_per_p", [1, 2, 3])
def test_vocabulary_passes_add_their_work_and_no_bubble_to_1f1b_and_v_half(p: int, m_per_p: int) -> None:
    """The paper's claim for its schedules: at unit costs the step grows by exactly the passes' own
    work, ``m (S + T)`` per rank; 1F1B with Vocab-1's two extra warm-up forwards holds ``p + 2``."""
    m = m_per_p * p + 1
    s = 0.2
    with_passes = OpCosts(1, 1, 1, s=s, t=2 * s)
    plain = simulate(rank_actions("1f1b", p, m), lambda x: x, p, OpCosts(1, 1, 1))
    vocab = simulate(add_vocab_passes(vocab_1f1b(p, m), lambda x: x, p, m, with_passes), lambda x: x, p, with_passes)
    assert vocab.step_time == pytest.approx(plain.step_time + m * 3 * s)
    assert vocab.peak_inflight[0] == min(m, p + 2)

    where, half = v_stage_to_rank(p), OpCosts(0.5, 0.5, 0.5)
    half_passes = OpCosts(0.5, 0.5, 0.5, s=s, t=2 * s)
    v_plain = simulate(rank_actions("v-half", p, m), where, 2 * p, half)
    v_vocab = simulate(add_vocab_passes(rank_actions("v-half", p, m), where, 2 * p, m, half_passes), where, 2 * p,
                       half_passes)
    assert v_vocab.step_time == pytest.approx(v_plain.step_time + m * 3 * s)
    assert v_vocab.peak_inflight == v_plain.peak_inflight


def test_vocab_parallel_refuses_what_it_cannot_run() -> None:
    spec = get_schedule("dualpipe-v")
    part = split_model(CFG, 4, "cost", vocab_parallel=True)
    with pytest.raises(ScheduleError, match="dualpipe-v.*overlapped"):
        vocab_parallel_order(CFG, spec, part, 2, 2, 4, 1, "fp32", None)


@pytest.mark.parametrize(("vocab", "ranks"), [(97, 2), (97, 4), (100, 3), (8, 8)])
def test_vocab_ranges_are_torch_chunks_of_the_whole_vocabulary(vocab: int, ranks: int) -> None:
    chunks = torch.arange(vocab).chunk(ranks)
    ranges = [vocab_range(vocab, r, ranks) for r in range(ranks)]
    assert [(int(c[0]), int(c[-1]) + 1) for c in chunks] == [r for r in ranges if r[1] > r[0]]
    assert sum(hi - lo for lo, hi in ranges) == vocab
