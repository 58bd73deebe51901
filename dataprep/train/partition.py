"""Split the model's pieces into pipeline stages of balanced cost.

Cost model (forward FLOPs per sequence of ``s`` tokens; backward is about twice that, so the
proportions are the same for a whole training step):

* embeddings: ``2 s d`` -- a lookup and an add, almost free to compute;
* a block: ``2 s (4 + 2r) d^2`` for the projections and MLP (``r`` = MLP ratio) plus
  ``4 s^2 d`` for attention scores and the weighted sum;
* the head: ``2 s d V`` for the output projection plus ``4 s V`` for softmax and the loss.

With a large vocabulary the head alone can cost several blocks, which makes a naive "equal
blocks per stage" split leave the last stage as the straggler (the observation behind
vocabulary parallelism).  :func:`partition` therefore places stage boundaries to minimise the
most expensive stage (an exact dynamic programme over contiguous splits: the model has tens of
pieces, so O(S n^2) is instant), and :func:`uniform_partition` gives the naive split for
comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataprep.train.shape import GPTConfig


class PartitionError(ValueError):
    """A split that cannot be made; the message explains the arithmetic."""


def piece_costs(cfg: GPTConfig, vocab_parallel: bool = False) -> np.ndarray:
    """Forward FLOPs per sequence of each piece: embeddings, blocks, head.  With ``vocab_parallel``
    the stages keep only the position embedding and the final LayerNorm (``s d`` and ``5 s d``); the
    vocabulary's share is :func:`vocab_cost`, spread over every rank."""
    s, d, v, r = cfg.seq_len, cfg.d_model, cfg.vocab_size, cfg.mlp_ratio
    block = 2 * s * (4 + 2 * r) * d * d + 4 * s * s * d
    if vocab_parallel:
        return np.array([s * d] + [block] * cfg.layers + [5 * s * d], dtype=np.float64)
    return np.array([2 * s * d] + [block] * cfg.layers + [2 * s * d * v + 4 * s * v], dtype=np.float64)


def vocab_cost(cfg: GPTConfig) -> float:
    """Forward FLOPs per sequence of the vocabulary layers (token lookup, output projection, softmax)."""
    s, d, v = cfg.seq_len, cfg.d_model, cfg.vocab_size
    return float(s * d + 2 * s * d * v + 4 * s * v)


def piece_name(cfg: GPTConfig, i: int) -> str:
    return "embeddings" if i == 0 else "head" if i == cfg.layers + 1 else f"block {i}"


@dataclass(frozen=True)
class Partition:
    """Stage ``k`` holds pieces ``bounds[k][0] .. bounds[k][1]-1``; ``costs[k]`` its predicted FLOPs."""
    bounds: tuple[tuple[int, int], ...]
    costs: tuple[float, ...]
    cfg: GPTConfig

    @property
    def imbalance(self) -> float:
        """Most expensive stage over the mean stage (1.0 = perfect balance)."""
        return max(self.costs) / (sum(self.costs) / len(self.costs))

    def describe(self) -> str:
        total = sum(self.costs)
        lines = []
        for k, ((a, b), c) in enumerate(zip(self.bounds, self.costs)):
            names = [piece_name(self.cfg, i) for i in range(a, b)]
            blocks = [n for n in names if n.startswith("block")]
            parts = [n for n in names if not n.startswith("block")]
            if blocks:
                parts.insert(1 if names[0] == "embeddings" else 0,
                             blocks[0] if len(blocks) == 1 else f"blocks {blocks[0][6:]}-{blocks[-1][6:]}")
            lines.append(f"stage {k}: {' + '.join(parts):<32} {c / 1e6:10.2f} MFLOP/seq  {100 * c / total:5.1f}%")
        lines.append(f"slowest stage / mean: {self.imbalance:.2f}")
        return "\n".join(lines)


def _check(cfg: GPTConfig, stages: int) -> None:
    if stages < 1:
        raise PartitionError(f"need at least one stage, got {stages}")
    if cfg.pieces < stages:
        raise PartitionError(
            f"cannot split {cfg.layers} layers + embeddings + head = {cfg.pieces} pieces into {stages} stages: "
            f"every stage needs at least one piece. Use at least {stages - 2} layers, or fewer stages "
            f"(stages = pipeline ranks x stages per rank)")


def partition(cfg: GPTConfig, stages: int, vocab_parallel: bool = False) -> Partition:
    """The contiguous split into ``stages`` non-empty stages whose most expensive stage is cheapest."""
    _check(cfg, stages)
    cost = piece_costs(cfg, vocab_parallel)
    n = len(cost)
    prefix = np.concatenate([[0.0], np.cumsum(cost)])
    # best[k][i]: the smallest possible max-stage cost putting pieces 0..i-1 into k stages
    best = np.full((stages + 1, n + 1), np.inf)
    cut = np.zeros((stages + 1, n + 1), dtype=np.int64)
    best[0][0] = 0.0
    for k in range(1, stages + 1):
        for i in range(k, n - (stages - k) + 1):
            j = np.arange(k - 1, i)  # the previous stage ends at piece j
            candidates = np.maximum(best[k - 1][j], prefix[i] - prefix[j])
            pick = int(np.argmin(candidates))  # first minimum: deterministic
            best[k][i], cut[k][i] = candidates[pick], j[pick]
    bounds = []
    i = n
    for k in range(stages, 0, -1):
        j = int(cut[k][i])
        bounds.append((j, i))
        i = j
    bounds.reverse()
    return Partition(tuple(bounds), tuple(float(prefix[b] - prefix[a]) for a, b in bounds), cfg)


def split_model(cfg: GPTConfig, stages: int, balance: str = "cost", vocab_parallel: bool = False) -> Partition:
    """The split a config asks for: ``cost`` (:func:`partition`) or ``uniform`` (:func:`uniform_partition`);
    with ``vocab_parallel`` the stages' costs leave out the vocabulary layers (see :func:`piece_costs`)."""
    if balance == "cost":
        return partition(cfg, stages, vocab_parallel)
    return uniform_partition(cfg, stages, vocab_parallel)


def uniform_partition(cfg: GPTConfig, stages: int, vocab_parallel: bool = False) -> Partition:
    """Equal numbers of blocks per stage; embeddings join the first stage, the head the last."""
    _check(cfg, stages)
    if cfg.layers < stages:
        raise PartitionError(f"a uniform split needs at least one block per stage: "
                             f"{cfg.layers} layers < {stages} stages")
    if cfg.layers % stages:
        raise PartitionError(f"a uniform split needs layers divisible by stages: {cfg.layers} layers, {stages} stages "
                             f"({cfg.layers} = {stages} x {cfg.layers // stages} + {cfg.layers % stages})")
    per = cfg.layers // stages
    cost = piece_costs(cfg, vocab_parallel)
    prefix = np.concatenate([[0.0], np.cumsum(cost)])
    bounds = [(0 if k == 0 else 1 + k * per, 1 + (k + 1) * per if k < stages - 1 else cfg.pieces)
              for k in range(stages)]
    return Partition(tuple(bounds), tuple(float(prefix[b] - prefix[a]) for a, b in bounds), cfg)
