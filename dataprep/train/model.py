"""A GPT-style decoder that is built piece by piece, so any contiguous slice of it is a stage.

The model is a list of *pieces*: the token and position embeddings, ``layers`` transformer
blocks (pre-LayerNorm, causal self-attention, a 4x GELU MLP), and the head (final LayerNorm and
an untied output projection to the vocabulary).  :class:`StageModule` holds a contiguous range
of pieces; the first stage holds the embeddings, the last the head.

Every piece draws its initial weights from its own generator, seeded by ``(seed, piece index)``,
so a stage built alone on its rank has exactly the weights of the same pieces in the unsplit
model (:func:`build_full`): the pipeline and the reference start from the same point without
broadcasting weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GPTConfig:
    """Shape of the model.  ``vocab_size`` comes from the tokenized run's tokenizer."""
    vocab_size: int
    seq_len: int
    layers: int = 4
    d_model: int = 64
    heads: int = 4
    mlp_ratio: int = 4

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of heads ({self.heads})")

    @property
    def pieces(self) -> int:
        """Embeddings + blocks + head."""
        return self.layers + 2


class Embeddings(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.positions = nn.Embedding(cfg.seq_len, cfg.d_model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.tokens(ids) + self.positions(positions)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.up = nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model)
        self.down = nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, t, d))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class Head(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.ln(x))


def build_piece(cfg: GPTConfig, index: int, seed: int) -> nn.Module:
    """Piece ``index`` (0 = embeddings, 1..layers = blocks, layers+1 = head), seeded."""
    if index == 0:
        piece: nn.Module = Embeddings(cfg)
    elif index <= cfg.layers:
        piece = Block(cfg)
    elif index == cfg.layers + 1:
        piece = Head(cfg)
    else:
        raise IndexError(f"piece {index} does not exist (the model has {cfg.pieces})")
    generator = torch.Generator().manual_seed(seed * 100_003 + index)
    with torch.no_grad():
        for name, p in piece.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif p.dim() == 1:  # LayerNorm weight
                p.fill_(1.0)
            else:
                std = 0.02 / (2 * cfg.layers) ** 0.5 if name.endswith(("proj.weight", "down.weight")) else 0.02
                p.copy_(torch.randn(p.shape, generator=generator) * std)
    return piece


class StageModule(nn.Module):
    """Pieces ``start .. stop-1`` of the model, applied in order."""

    def __init__(self, cfg: GPTConfig, start: int, stop: int, seed: int) -> None:
        super().__init__()
        if not 0 <= start < stop <= cfg.pieces:
            raise ValueError(f"pieces {start}..{stop - 1} are not a slice of the model's {cfg.pieces} pieces")
        self.start, self.stop = start, stop
        self.pieces = nn.ModuleList(build_piece(cfg, i, seed) for i in range(start, stop))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for piece in self.pieces:
            x = piece(x)
        return x

    def reference_names(self) -> dict[str, str]:
        """This stage's parameter names -> the same parameters' names in :func:`build_full`."""
        out = {}
        for name, _ in self.named_parameters():
            _, i, rest = name.split(".", 2)
            out[name] = f"pieces.{self.start + int(i)}.{rest}"
        return out


def build_full(cfg: GPTConfig, seed: int) -> StageModule:
    """The unsplit model: one stage holding every piece."""
    return StageModule(cfg, 0, cfg.pieces, seed)


def token_loss(logits: torch.Tensor, labels: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Cross-entropy summed over every token, times ``scale`` (1 / tokens per step gives the mean)."""
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), reduction="sum")
    return loss * scale if scale != 1.0 else loss
