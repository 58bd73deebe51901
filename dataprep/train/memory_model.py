"""Bytes per pipeline rank, predicted from the model's shape and its split: model state and activations.

**Model state** per parameter: fp32 weights, fp32 gradients and AdamW's two fp32 moments --
16 bytes -- sharded over the ``dp`` replicas by FSDP2; with dp > 1 (or bf16) each rank also holds
the unsharded compute copy of its stages (4 bytes fp32, 2 bf16), kept between forward and
backward (``reshard_after_forward=False``).

**Activations** of one microbatch (``b`` sequences of ``s`` tokens, width ``h``, ``a`` heads),
after Korthikanti et al. (2022) as the Zero Bubble paper uses them: a transformer block keeps
``M_B = s b (34 h + 5 a s)`` bytes with 16-bit activations, of which ``M_W = 32 s b h`` (the
inputs of its matrix products) wait for the weight-gradient pass; fp32 doubles both.  The
embeddings keep their output (``s b h``); the head keeps its input and the fp32 logits
(``4 s b V``, the softmax's), so a large vocabulary makes the last stage the memory straggler too.

With vocabulary parallelism the stages keep neither the vocabulary matrices nor the logits;
each rank holds its rows of both matrices and, per microbatch between its two vocabulary
passes, its slice of the logits (:func:`vocab_shard_memory`).

These are estimates for planning (the simulator, ``dataprep simulate --search``): allocator
slack, the loader and communication buffers are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataprep.train.shape import GPTConfig


def piece_parameters(cfg: GPTConfig, vocab_parallel: bool = False) -> list[int]:
    """Parameters of each piece (embeddings, blocks, head), as :mod:`dataprep.train.model` builds them;
    with ``vocab_parallel`` without the token embedding and output projection (:func:`vocab_shard_memory`)."""
    h, r, v = cfg.d_model, cfg.mlp_ratio, 0 if vocab_parallel else cfg.vocab_size
    block = 2 * 2 * h + (3 * h * h + 3 * h) + (h * h + h) + (r * h * h + r * h) + (r * h * h + h)
    return [v * h + cfg.seq_len * h] + [block] * cfg.layers + [2 * h + h * v]


def piece_activations(cfg: GPTConfig, micro_batch: int, precision: str = "fp32",
                      vocab_parallel: bool = False) -> list[tuple[float, float]]:
    """``(M_B, M_W)`` bytes of one microbatch per piece (``vocab_parallel``: the head without its logits)."""
    s, b, h, a, v = cfg.seq_len, micro_batch, cfg.d_model, cfg.heads, cfg.vocab_size
    scale = 1.0 if precision == "bf16" else 2.0  # the formula counts 2-byte activations
    block = (scale * s * b * (34 * h + 5 * a * s), scale * 32 * s * b * h)
    head_in = scale * s * b * h
    logits = 0.0 if vocab_parallel else 4.0 * s * b * v
    return [(head_in, 0.0)] + [block] * cfg.layers + [(head_in + logits, head_in)]


def vocab_shard_memory(cfg: GPTConfig, micro_batch: int, ranks: int) -> tuple[float, float]:
    """Vocabulary parallelism, per rank: the model-state bytes of its rows of the token embedding and
    output projection (fp32 weights, gradients, two AdamW moments; replicated over ``dp``), and the
    bytes one microbatch's passes hold from ``S`` to ``T`` (its fp32 logits and last-stage output)."""
    rows = -(-cfg.vocab_size // ranks)
    s, b, h = cfg.seq_len, micro_batch, cfg.d_model
    return 16.0 * 2 * rows * h, 4.0 * s * b * (rows + h)


@dataclass(frozen=True)
class StageMemory:
    """Per stage: parameters, model-state bytes on its rank, and one microbatch's ``(M_B, M_W)``."""
    parameters: tuple[int, ...]
    state_bytes: tuple[float, ...]
    m_b: tuple[float, ...]
    m_w: tuple[float, ...]


def stage_memory(cfg: GPTConfig, bounds: tuple[tuple[int, int], ...], micro_batch: int, precision: str = "fp32",
                 dp: int = 1, vocab_parallel: bool = False) -> StageMemory:
    """Sum the pieces of each stage (``bounds`` as in :class:`dataprep.train.partition.Partition`)."""
    params = piece_parameters(cfg, vocab_parallel)
    acts = piece_activations(cfg, micro_batch, precision, vocab_parallel)
    copy = (2.0 if precision == "bf16" else 4.0) if (dp > 1 or precision == "bf16") else 0.0
    n = tuple(sum(params[a:b]) for a, b in bounds)
    return StageMemory(n, tuple(p * (16.0 / dp + copy) for p in n),
                       tuple(sum(x[0] for x in acts[a:b]) for a, b in bounds),
                       tuple(sum(x[1] for x in acts[a:b]) for a, b in bounds))


def gib(n: float) -> str:
    return f"{n / 2 ** 30:.2f} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:.1f} MiB"
