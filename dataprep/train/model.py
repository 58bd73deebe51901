"""A GPT-style decoder that is built piece by piece, so any contiguous slice of it is a stage.

The model is a list of *pieces*: the token and position embeddings, ``layers`` transformer
blocks (pre-LayerNorm, causal self-attention, a 4x GELU MLP), and the head (final LayerNorm and
an untied output projection to the vocabulary).  :class:`StageModule` holds a contiguous range
of pieces; the first stage holds the embeddings, the last the head.

Every piece draws its initial weights from its own generator, seeded by ``(seed, piece index)``,
so a stage built alone on its rank has exactly the weights of the same pieces in the unsplit
model (:func:`build_full`): the pipeline and the reference start from the same point without
broadcasting weights.  A stage keeps its pieces under their index in the whole model
(``pieces.<i>.…``), so every parameter has the same fully qualified name however the model is
split: checkpoints and the Hugging Face export are keyed by those names.

**Document masking.** ``forward(x, doc_ids=…)`` takes, per token, the index of its document
inside the packed window (:func:`document_ids`).  Attention then stays inside each document
(causal within it) and positions restart at 0 where a document begins, so a document packed
after another is computed exactly as if it were alone.  Without ``doc_ids`` attention is
causal over the whole window.

**Vocabulary parallelism** (``StageModule(..., vocab_parallel=True)``): the first stage keeps
only the position embedding and takes the summed token embedding as its input, the last stage
ends with the final LayerNorm; the token embedding and the output projection are split over the
pipeline's ranks by :class:`dataprep.train.vocab_parallel.VocabShard`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dataprep.train.shape import GPTConfig

__all__ = ["GPTConfig", "StageModule", "build_full", "build_piece", "document_ids", "token_loss"]


class Embeddings(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.positions = nn.Embedding(cfg.seq_len, cfg.d_model)

    def forward(self, ids: torch.Tensor, doc_ids: torch.Tensor | None = None) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        if doc_ids is not None:
            positions = document_positions(doc_ids)
        tokens = self.tokens(ids) if hasattr(self, "tokens") else ids  # vocabulary parallel: looked up already
        return tokens + self.positions(positions)


def document_ids(input_ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """Per token, the index of its document in the window: a document ends with ``eos_id``
    (which belongs to it) and the next token starts the next one."""
    ends = (input_ids == eos_id).to(torch.int32)
    return (torch.cumsum(ends, dim=1, dtype=torch.int32) - ends).to(torch.int64)


def document_positions(doc_ids: torch.Tensor) -> torch.Tensor:
    """Each token's position inside its own document (0 where a document begins)."""
    index = torch.arange(doc_ids.shape[1], device=doc_ids.device).expand_as(doc_ids)
    starts = torch.ones_like(doc_ids, dtype=torch.bool)
    starts[:, 1:] = doc_ids[:, 1:] != doc_ids[:, :-1]
    return index - torch.cummax(torch.where(starts, index, 0), dim=1).values


def document_mask(doc_ids: torch.Tensor) -> torch.Tensor:
    """Boolean attention mask ``(batch, 1, t, t)``: causal, and only within the same document."""
    t = doc_ids.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=doc_ids.device).tril()
    return ((doc_ids[:, :, None] == doc_ids[:, None, :]) & causal)[:, None]


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

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        if mask is None:
            attn = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            attn = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(attn.transpose(1, 2).reshape(b, t, d))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class Head(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.ln(x)) if hasattr(self, "out") else self.ln(x)


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
    """Pieces ``start .. stop-1`` of the model, applied in order, named by their index in the
    whole model (``pieces.<i>``), so parameter names do not depend on the split."""

    def __init__(self, cfg: GPTConfig, start: int, stop: int, seed: int, vocab_parallel: bool = False) -> None:
        super().__init__()
        if not 0 <= start < stop <= cfg.pieces:
            raise ValueError(f"pieces {start}..{stop - 1} are not a slice of the model's {cfg.pieces} pieces")
        self.start, self.stop = start, stop
        self.pieces = nn.ModuleDict({str(i): build_piece(cfg, i, seed) for i in range(start, stop)})
        if vocab_parallel:  # the token embedding and output projection live in VocabShards
            if start == 0:
                del self.pieces["0"].tokens
            if stop == cfg.pieces:
                del self.pieces[str(cfg.layers + 1)].out

    def forward(self, x: torch.Tensor, doc_ids: torch.Tensor | None = None) -> torch.Tensor:
        mask = document_mask(doc_ids) if doc_ids is not None and self.stop > 1 else None
        for piece in self.pieces.values():
            if isinstance(piece, Embeddings):
                x = piece(x, doc_ids)
            elif isinstance(piece, Block):
                x = piece(x, mask)
            else:
                x = piece(x)
        return x


def build_full(cfg: GPTConfig, seed: int) -> StageModule:
    """The unsplit model: one stage holding every piece."""
    return StageModule(cfg, 0, cfg.pieces, seed)


def token_loss(logits: torch.Tensor, labels: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Cross-entropy summed over every token, times ``scale`` (1 / tokens per step gives the mean)."""
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), reduction="sum")
    return loss * scale if scale != 1.0 else loss
