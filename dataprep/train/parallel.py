"""Data x pipeline parallel layout: the 2-D DeviceMesh, FSDP2 over the data-parallel axis,
bf16 mixed precision, and the global gradient norm.

**The mesh.** ``pp x dp`` processes form a DeviceMesh with dimensions ``("dp", "pp")``: rank
``r`` is pipeline rank ``r % pp`` of replica ``r // pp``.  Each replica's ``pp`` group runs the
pipeline schedule; each stage's ``dp`` group holds the same stage of every replica.

**Why FSDP2 (``fully_shard``) rather than DDP.** ``torch.distributed.pipelining`` runs each
stage's backward itself, one microbatch at a time and, for the zero-bubble schedules, split
into an input-gradient and a weight-gradient pass; there is no single ``loss.backward()`` for
DDP's reducer hooks to follow, and the pipeline re-arms DDP only for a last *full* backward,
which a split (I/W) backward never is.  For FSDP2 stages every schedule ends with an explicit
reduce action (``PipelineStage.perform_reduce_grad``), so gradients are reduce-scattered once,
after the last microbatch, whatever the schedule -- zb-v included.  FSDP2 also shards each
stage's parameters, gradients and AdamW state over ``dp`` (ZeRO-3), and its
``MixedPrecisionPolicy`` is the bf16 path: compute in bfloat16 from fp32 master weights,
gradients reduced in fp32.

With ``dp == 1`` and fp32 a stage is left as a plain module: there is nothing to reduce, and
the single-process trainer then runs the same kernels as a plain PyTorch loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor


@dataclass(frozen=True)
class Layout:
    """This process's place in the ``dp x pp`` mesh."""
    pp: int
    dp: int
    pp_rank: int
    dp_rank: int
    mesh: DeviceMesh

    @property
    def pp_group(self) -> dist.ProcessGroup:
        return self.mesh["pp"].get_group()

    @property
    def dp_mesh(self) -> DeviceMesh:
        return self.mesh["dp"]


def build_layout(device_type: str, pp: int, dp: int) -> Layout:
    """The 2-D mesh over the initialised default process group (``pp x dp`` ranks)."""
    world = dist.get_world_size()
    if pp * dp != world:
        raise ValueError(f"{world} processes are not pp {pp} x dp {dp}")
    mesh = init_device_mesh(device_type, (dp, pp), mesh_dim_names=("dp", "pp"))
    return Layout(pp, dp, mesh["pp"].get_local_rank(), mesh["dp"].get_local_rank(), mesh)


def shard_stage(module: torch.nn.Module, layout: Layout, precision: str) -> torch.nn.Module:
    """Apply FSDP2 over the ``dp`` axis (with a bf16 policy for ``precision: bf16``); a plain
    module is returned unchanged for dp 1 in fp32.  Gradients are averaged over ``dp``."""
    if layout.dp == 1 and precision == "fp32":
        return module
    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16 if precision == "bf16" else None,
                                  reduce_dtype=torch.float32)
    # parameters stay gathered between a stage's forward and backward: with many microbatches in
    # flight, resharding after every forward would all-gather once per microbatch.  One group per
    # stage: per-block groups (torchtitan's choice on GPUs) measured 15% slower here, gloo's
    # latency per collective outweighing the overlap on models this size
    fully_shard(module, mesh=layout.dp_mesh, reshard_after_forward=False, mp_policy=policy)
    return module


def local_tensor(t: torch.Tensor) -> torch.Tensor:
    """This rank's shard of a DTensor, or the tensor itself."""
    return t.to_local() if isinstance(t, DTensor) else t


def clip_global_norm(params: list[torch.nn.Parameter], max_norm: float | None, extra: torch.Tensor,
                     device: torch.device, replicated: tuple[torch.nn.Parameter, ...] = (),
                     count_replicated: bool = True) -> tuple[float, torch.Tensor]:
    """The L2 norm of every gradient of the whole model, over all stages and replicas, and clip
    to ``max_norm``.  Each rank adds the squares of the gradient elements it holds (its stages;
    its FSDP shard of them), one all-reduce over all ranks sums them; ``extra`` (a float64
    vector) rides in the same all-reduce and comes back summed.  ``replicated`` parameters (among
    ``params``: the same on every replica, such as the vocabulary shards) are counted only where
    ``count_replicated`` (one replica), and clipped everywhere."""
    zero = torch.zeros((), dtype=torch.float64, device=device)
    skip = set() if count_replicated else {id(p) for p in replicated}
    squares = [local_tensor(p.grad).double().pow(2).sum() for p in params if p.grad is not None and id(p) not in skip]
    packed = torch.cat([torch.stack(squares).sum().reshape(1) if squares else zero.reshape(1),
                        extra.to(device=device, dtype=torch.float64).reshape(-1)])
    dist.all_reduce(packed)
    norm = math.sqrt(float(packed[0]))
    if max_norm is not None and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for p in params:
            if p.grad is not None:
                p.grad.mul_(scale)
    return norm, packed[1:]
