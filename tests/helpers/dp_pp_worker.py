"""Run in each of 4 gloo processes: a dp 2 x pp 2 mesh, FSDP2 stages, one step per schedule on
the global batch of :mod:`tests.helpers.pipeline_worker`; the full gradients are saved to disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from dataprep.train.model import token_loss
from dataprep.train.parallel import build_layout, local_tensor, shard_stage
from dataprep.train.pipeline import build_rank_pipeline
from dataprep.train.schedules import SCHEDULES
from tests.helpers.pipeline_worker import BATCH, CFG, MICROBATCHES, SEED, batch


def main(rank: int, world: int, init: str, out: str, names: list[str]) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    layout = build_layout("cpu", pp=2, dp=2)
    inputs, labels = batch()
    share = slice(layout.dp_rank, None, layout.dp)  # replica d reads rows d, d + dp, ... of the global batch
    tokens_per_replica = BATCH // layout.dp * CFG.seq_len
    for name in names:
        spec = SCHEDULES[name]
        pipe = build_rank_pipeline(
            CFG, spec, rank=layout.pp_rank, ranks=layout.pp, stages_per_rank=spec.default_stages_per_rank,
            microbatches=MICROBATCHES, seed=SEED, loss_fn=lambda o, t: token_loss(o, t, 1.0 / tokens_per_replica),
            device=torch.device("cpu"), group=layout.pp_group, wrap=lambda m: shard_stage(m, layout, "fp32"))
        losses = pipe.step(inputs[share], labels[share])
        grads, sharded = {}, []
        for module in pipe.modules.values():
            for pname, p in module.named_parameters():
                sharded.append(local_tensor(p).numel() < p.numel())
                grads[pname] = p.grad.full_tensor().detach().clone()  # collective over the dp group
        # forward only, same weights: the same loss; the rank holding neither end gets no tensors
        first, last = pipe.has_first, pipe.has_last
        evaluated = pipe.evaluate(inputs[share] if first else None, labels[share] if last else None, None,
                                  (BATCH // layout.dp, CFG.seq_len))
        torch.save({"grads": grads, "losses": [float(x.detach()) for x in losses], "sharded": sharded,
                    "eval_losses": [float(x) for x in evaluated],
                    "dp_rank": layout.dp_rank, "pp_rank": layout.pp_rank},
                   Path(out) / f"{name}-rank{rank}.pt")
        dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), sys.argv[1], sys.argv[2], sys.argv[3].split(","))
