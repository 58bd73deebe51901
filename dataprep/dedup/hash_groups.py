"""Rows grouped by a 128-bit hash (columns ``h1``, ``h2``): what exact and paragraph dedup
decide on within one partition of their exchange."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass
class HashGroups:
    rows: pa.Table  # sorted by (h1, h2, then the tie-breaking columns)
    first: np.ndarray  # bool: the row is the first of its group
    group: np.ndarray  # int64: the group of each row, 0, 1, ... in sorted order

    def sizes(self) -> np.ndarray:
        """The size of each row's group."""
        return np.bincount(self.group)[self.group]


def hash_groups(table: pa.Table, then: list[str]) -> HashGroups:
    """``table`` sorted by ``h1``, ``h2`` and then ``then`` (ascending), with its groups of equal hashes."""
    # one chunk first: Arrow sorts a table of many chunks (one per shard summary) about 25% slower
    rows = table.combine_chunks().sort_by([("h1", "ascending"), ("h2", "ascending"), *((c, "ascending") for c in then)])
    h1, h2 = rows.column("h1").to_numpy(), rows.column("h2").to_numpy()
    first = np.concatenate([[True], (h1[1:] != h1[:-1]) | (h2[1:] != h2[:-1])]) if len(h1) else np.zeros(0, bool)
    return HashGroups(rows, first, np.cumsum(first) - 1)


def repeated_hash_groups(table: pa.Table, then: list[str]) -> HashGroups:
    """:func:`hash_groups` of only the rows whose ``h1`` another row shares: every group of two
    rows or more, the same rows in the same order as there, without the rows alone in their
    ``h1`` (a row that shares only ``h1`` stays, as a group of one).

    What a dedup decides on: a row alone in its group is never a duplicate.  Most rows of a
    partition are alone, and NumPy's sort of ``h1`` (SIMD, one key) finds them several times
    faster than Arrow's sort of every row by all the keys; only the shared rows are sorted
    that way."""
    h1 = table.column("h1").to_numpy()
    order = np.argsort(h1)
    same = h1[order[1:]] == h1[order[:-1]]
    shared = np.zeros(len(h1), dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    # in the table's order, as hash_groups's sort is stable: rows equal in every key stay as they were
    return hash_groups(table.take(pa.array(np.sort(order[shared]))), then)
