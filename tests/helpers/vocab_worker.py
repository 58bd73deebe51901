"""Run in each of the test's gloo processes: schedules with vocabulary parallelism on one batch,
gradients saved by the unsplit model's names (a shard's rows with their offset); then, per
schedule, two AdamW steps straight on and the same two from a checkpoint (the shards saved as
row-sharded DTensors, so the checkpoint holds the unsplit matrices)."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh

from dataprep.train import checkpoint
from dataprep.train.pipeline import build_rank_pipeline
from dataprep.train.schedules import SCHEDULES
from tests.helpers.pipeline_worker import CFG, MICROBATCHES, SEED, LiveMicrobatches, batch, two_steps


class Scaled:
    """The trainer's loss: summed token cross-entropy over the tokens of the batch."""
    scale = 1.0 / (8 * CFG.seq_len)

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:  # pragma: no cover - unused
        raise AssertionError("with vocabulary parallelism the loss is computed by the vocabulary passes")


def build(name: str, rank: int, world: int, seed: int):
    spec = SCHEDULES[name]
    return build_rank_pipeline(CFG, spec, rank=rank, ranks=world, stages_per_rank=spec.default_stages_per_rank,
                               microbatches=MICROBATCHES, seed=seed, loss_fn=Scaled(), device=torch.device("cpu"),
                               vocab_parallel=True)


def main(rank: int, world: int, init: str, out: str, names: list[str]) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    mesh = init_device_mesh("cpu", (world,))
    inputs, labels = batch()
    for name in names:
        pipe = build(name, rank, world, SEED)
        live = LiveMicrobatches(pipe.stages)
        losses = pipe.step(inputs, labels)
        grads = {pname: p.grad.detach().clone() for module in pipe.modules.values()
                 for pname, p in module.named_parameters()}
        shard = pipe.vocab.shard
        for local, full in shard.full_names.items():
            grads[f"{full}[{shard.lo}:{shard.hi}]"] = getattr(shard, local).grad.detach().clone()
        records = pipe.timer.take()
        peak = live.peak
        evaluated = [float(x) for x in pipe.evaluate(inputs, labels, None, tuple(inputs.shape))]

        optimizer = torch.optim.AdamW(pipe.parameters(), lr=1e-2, foreach=True)
        optimizer.step()
        folder = Path(out) / f"checkpoint-{name}"
        state = checkpoint.training_state(list(pipe.modules.values()), optimizer, vocab=pipe.vocab.shard, mesh=mesh)
        checkpoint.save(folder, state, {"step": 1, "model": asdict(CFG)}, None, rank)
        straight = two_steps(pipe, optimizer)
        fresh = build(name, rank, world, SEED + 1)
        unloaded = [float(x.detach()) for x in fresh.step(*batch(12))]
        optimizer = torch.optim.AdamW(fresh.parameters(), lr=1e-2, foreach=True)
        checkpoint.load(folder, checkpoint.training_state(list(fresh.modules.values()), optimizer,
                                                          vocab=fresh.vocab.shard, mesh=mesh))
        resumed = two_steps(fresh, optimizer)
        torch.save({"grads": grads, "losses": [float(x.detach()) for x in losses], "peak_live": peak,
                    "evaluated": evaluated,
                    "passes": sorted((k, mb) for k, s, mb, *_ in records if s == -1),
                    "straight": straight, "unloaded": unloaded, "resumed": resumed},
                   Path(out) / f"{name}-rank{rank}.pt")
        dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), sys.argv[1], sys.argv[2], sys.argv[3].split(","))
