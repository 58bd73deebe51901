"""The counters a shard task keeps: what it read, what each stage took in and let through, and
the lengths of the documents it wrote.  They travel back in the :class:`~dataprep.engine.receipt.Receipt`
and are summed into stats.json (:mod:`dataprep.engine.stats`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataprep.schema import TEXT

LENGTH_BINS_PER_DECADE = 8  # document lengths are counted in bins 10^(b/8) <= characters < 10^((b+1)/8)


def add_counts(into: dict[str, Any], part: dict[str, Any]) -> None:
    """Add the counts of ``part`` into ``into``, one level of nested dicts deep."""
    for k, v in part.items():
        if isinstance(v, dict):
            target = into.setdefault(k, {})
            for rk, rv in v.items():
                target[rk] = target.get(rk, 0) + rv
        else:
            into[k] = into.get(k, 0) + v


def add_values(into: dict[str, int], values: pa.Array | pa.ChunkedArray) -> None:
    """Count each distinct value of a string column into ``into``."""
    for row in pc.value_counts(values).to_pylist():
        into[row["values"]] = into.get(row["values"], 0) + row["counts"]


def length_counts(text: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """Documents per length bin: key ``b`` counts documents of ``10^(b/8)`` to ``10^((b+1)/8)``
    characters (:data:`LENGTH_BINS_PER_DECADE`); key ``-1`` counts empty documents."""
    chars = pc.utf8_length(text).to_numpy(zero_copy_only=False).astype(np.float64)
    if chars.size == 0:
        return {}
    with np.errstate(divide="ignore"):
        bins = np.where(chars > 0, np.floor(np.log10(chars) * LENGTH_BINS_PER_DECADE), -1).astype(np.int64)
    values, counts = np.unique(bins, return_counts=True)
    return {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist())}


def text_bytes(table: pa.Table) -> int:
    """UTF-8 bytes of the ``text`` column (0 for a table without one)."""
    if table.num_rows == 0 or TEXT not in table.schema.names:
        return 0
    return int(pc.sum(pc.binary_length(table.column(TEXT))).as_py() or 0)


@dataclass
class ReadCounts:
    """What the reader of a shard produced: records read = documents + quarantined."""

    inputs: int = 0
    docs: int = 0
    bytes: int = 0
    seconds: float = 0.0
    quarantined: dict[str, int] = field(default_factory=dict)

    def count(self, docs: pa.Table, quarantine: pa.Table, docs_bytes: int) -> None:
        self.inputs += docs.num_rows + quarantine.num_rows
        self.docs += docs.num_rows
        self.bytes += docs_bytes
        if quarantine.num_rows:
            add_values(self.quarantined, quarantine.column("reason"))


@dataclass
class StageCounts:
    """One stage in one shard: documents and bytes in and out, removals by reason, documents
    quarantined before it (a document that crashed the worker: ``worker_crash``), extra counters,
    and the seconds its ``process``/``apply`` took."""

    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    seconds: float = 0.0
    removed: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    #: annotating stages: what the stage would have removed, by reason -- of every document
    #: it saw (``would_remove``) and of those no earlier stage would have removed (``would_remove_first``)
    would_remove: dict[str, int] = field(default_factory=dict)
    would_remove_first: dict[str, int] = field(default_factory=dict)

    def balanced(self) -> bool:
        return self.docs_in == self.docs_out + sum(self.removed.values()) + sum(self.quarantined.values())


@dataclass
class LengthCounts:
    """Documents per length bin (:func:`length_counts`) of what a task wrote to data/ and removed/."""

    kept: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def _add(into: dict[str, int], table: pa.Table) -> None:
        if TEXT in table.schema.names:
            add_counts(into, length_counts(table.column(TEXT)))

    def add_kept(self, table: pa.Table) -> None:
        self._add(self.kept, table)

    def add_removed(self, table: pa.Table) -> None:
        self._add(self.removed, table)
