"""Run in each of the test's gloo processes: every schedule on the same batch, grads saved to disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from dataprep.train.model import GPTConfig, token_loss
from dataprep.train.pipeline import build_rank_pipeline
from dataprep.train.schedules import SCHEDULES

CFG = GPTConfig(vocab_size=97, seq_len=12, layers=4, d_model=16, heads=2)
MICROBATCHES = 4
BATCH = 8
SEED = 3


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(11)
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
        torch.save({"grads": grads, "losses": [float(x.detach()) for x in losses],
                    "bounds": list(pipe.partition.bounds),
                    "peak_live": live.peak, "live_after": live.live}, Path(out) / f"{name}-rank{rank}.pt")
        dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), sys.argv[1], sys.argv[2], sys.argv[3].split(","))
