"""What a training step costs: model FLOPs, MFU against the device's peak, peak memory per rank.

FLOPs come from the partitioner's cost model (:func:`dataprep.train.partition.piece_costs`,
forward FLOPs per sequence; a training step is forward + backward = 3x that).  The peak is
``peak_tflops`` from the config, else a table of dense bf16 / fp32 peaks of common data-centre
GPUs (vendor datasheets, without sparsity); on a CPU, or a GPU not in the table, MFU is not
reported unless ``peak_tflops`` is given.
"""

from __future__ import annotations

import resource
import sys

import torch

from dataprep.train.partition import piece_costs
from dataprep.train.shape import GPTConfig

# name fragment (as in torch.cuda.get_device_name) -> (bf16, fp32) dense peak TFLOP/s
GPU_PEAK_TFLOPS: dict[str, tuple[float, float]] = {
    "B200": (2250.0, 80.0),
    "H200": (989.0, 67.0),
    "H100 PCIe": (756.0, 51.0),
    "H100": (989.0, 67.0),
    "GH200": (989.0, 67.0),
    "A100": (312.0, 19.5),
    "L40S": (362.0, 91.6),
    "A10G": (70.0, 31.2),
    "A10": (125.0, 31.2),
    "L4": (121.0, 30.3),
    "MI300X": (1307.0, 163.4),
}


def parameter_count(cfg: GPTConfig) -> int:
    """Parameters of the whole model (embeddings, blocks, untied head)."""
    d, r = cfg.d_model, cfg.mlp_ratio
    block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (r * d * d + r * d) + (r * d * d + d)
    return cfg.vocab_size * d + cfg.seq_len * d + cfg.layers * block + 2 * d + d * cfg.vocab_size


def step_flops(cfg: GPTConfig, sequences: int) -> float:
    """Model FLOPs of one training step on ``sequences`` sequences (forward + backward)."""
    return 3.0 * float(piece_costs(cfg).sum()) * sequences


def peak_flops(device: torch.device, precision: str, override_tflops: float | None) -> float | None:
    """Peak FLOP/s of one device, or ``None`` when unknown (CPU without ``peak_tflops``)."""
    if override_tflops is not None:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for fragment, (bf16, fp32) in GPU_PEAK_TFLOPS.items():  # ordered: the more specific names first
        if fragment in name:
            return (bf16 if precision == "bf16" else fp32) * 1e12
    return None


def peak_memory_bytes(device: torch.device) -> int:
    """Peak memory of this rank so far: CUDA ``max_memory_allocated``, else the process's peak RSS."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux
