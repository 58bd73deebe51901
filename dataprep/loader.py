"""``dataprep.loader``: the documented import path of the token loader, which lives beside the
trainer in :mod:`dataprep.train.loader`."""

from dataprep.train.loader import PackedRun, TokenLoader

__all__ = ["PackedRun", "TokenLoader"]
