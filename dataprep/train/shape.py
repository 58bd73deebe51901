"""The model's shape (:class:`GPTConfig`), importable without torch: the CLI checks a training
config against it before any rank starts (and before paying for importing torch)."""

from __future__ import annotations

from dataclasses import dataclass


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
