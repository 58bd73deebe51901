"""Run in each of the test's gloo processes: every schedule on the same batch, grads saved to disk;
then, per schedule, two AdamW steps straight on and the same two steps from a checkpoint."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from dataprep.train import checkpoint
from dataprep.train.model import GPTConfig, token_loss
from dataprep.train.pipeline import build_rank_pipeline
from dataprep.train.schedules import SCHEDULES

CFG = GPTConfig(vocab_size=97, seq_len=12, layers=4, d_model=16, heads=2)
MICROBATCHES = 4
BATCH = 8
SEED = 3


def batch(seed: int = 11) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, CFG.vocab_size, (BATCH, CFG.seq_len + 1), generator=g)
    return tokens[:, :-1], tokens[:, 1:]


class LiveMicrobatches:
    """Counts the microbatches whose activations this rank's stages hold: one more at each forward, one
    fewer at a full backward or a weight-gradient backward (the input-gradient part keeps them for W)."""

    def __init__(self, stages: list) -> None:
        self.live = self.peak = 0
        for stage in stages:
            self._wrap(stage)

    def _wrap(self, stage) -> None:
        forward, backward, weight = stage.forward_one_chunk, stage.backward_one_chunk, stage.backward_weight_one_chunk

        def counted_forward(*args, **kwargs):
            self.live += 1
            self.peak = max(self.peak, self.live)
            return forward(*args, **kwargs)

        def counted_backward(*args, full_backward: bool = True, **kwargs):
            out = backward(*args, full_backward=full_backward, **kwargs)
            self.live -= int(full_backward)
            return out

        def counted_weight(*args, **kwargs):
            out = weight(*args, **kwargs)
            self.live -= 1
            return out

        stage.forward_one_chunk, stage.backward_one_chunk = counted_forward, counted_backward
        stage.backward_weight_one_chunk = counted_weight


def two_steps(pipe, optimizer: torch.optim.Optimizer) -> list[float]:
    """Two AdamW steps on new batches: this rank's microbatch losses (none off the last stage)."""
    losses = []
    for seed in (12, 13):
        optimizer.zero_grad(set_to_none=True)
        losses += [float(x.detach()) for x in pipe.step(*batch(seed))]
        optimizer.step()
    return losses


def straight_and_resumed(pipe, spec, rank: int, world: int, folder: Path) -> dict[str, list[float]]:
    """Update with the gradients ``pipe`` holds, checkpoint, take two more steps (``straight``); then
    build the rank's stages again from another seed (``unloaded``: its losses on the first of those
    batches), load the checkpoint and take the same two steps (``resumed``)."""
    optimizer = torch.optim.AdamW(pipe.parameters(), lr=1e-2, foreach=True)
    optimizer.step()
    checkpoint.save(folder, checkpoint.training_state(list(pipe.modules.values()), optimizer), {"step": 1}, None,
                    rank)
    straight = two_steps(pipe, optimizer)
    fresh = build_rank_pipeline(CFG, spec, rank=rank, ranks=world, stages_per_rank=spec.default_stages_per_rank,
                                microbatches=MICROBATCHES, seed=SEED + 1, loss_fn=token_loss,
                                device=torch.device("cpu"))
    unloaded = [float(x.detach()) for x in fresh.step(*batch(12))]
    optimizer = torch.optim.AdamW(fresh.parameters(), lr=1e-2, foreach=True)
    checkpoint.load(folder, checkpoint.training_state(list(fresh.modules.values()), optimizer))
    return {"straight": straight, "unloaded": unloaded, "resumed": two_steps(fresh, optimizer)}


def main(rank: int, world: int, init: str, out: str, names: list[str]) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    inputs, labels = batch()
    for name in names:
        spec = SCHEDULES[name]
        pipe = build_rank_pipeline(CFG, spec, rank=rank, ranks=world, stages_per_rank=spec.default_stages_per_rank,
                                   microbatches=MICROBATCHES, seed=SEED, loss_fn=token_loss, device=torch.device("cpu"))
        live = LiveMicrobatches(pipe.stages)
        losses = pipe.step(inputs, labels)
        grads = {}
        for module in pipe.modules.values():  # parameter names are the unsplit model's
            for pname, p in module.named_parameters():
                grads[pname] = p.grad.detach().clone()
        peak, live_after = live.peak, live.live
        continued = straight_and_resumed(pipe, spec, rank, world, Path(out) / f"checkpoint-{name}")
        lowered = getattr(pipe.schedule, "pipeline_order_with_comms", {}).get(rank)  # action-list schedules only
        torch.save({"grads": grads, "losses": [float(x.detach()) for x in losses],
                    "actions": [str(a) for a in lowered] if lowered is not None else None,
                    "bounds": list(pipe.partition.bounds), "peak_live": peak, "live_after": live_after,
                    **continued}, Path(out) / f"{name}-rank{rank}.pt")
        dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), sys.argv[1], sys.argv[2], sys.argv[3].split(","))
