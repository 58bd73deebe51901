"""sorted_unique equals np.unique on integer arrays of every kind (empty, one item, repeats,
extremes) and hands other kinds to np.unique."""

from __future__ import annotations

import numpy as np

from dataprep.sorted_unique import sorted_unique


def test_sorted_unique_equals_np_unique_on_integers() -> None:
    rng = np.random.default_rng(0)
    for dtype in (np.uint64, np.int64, np.uint32, np.int32, np.int8, np.bool_):
        info = np.iinfo(dtype) if dtype is not np.bool_ else None
        for n in (0, 1, 2, 7, 1000, 50_000):
            high = 2 if info is None else min(int(info.max), 1 << 62)
            low = 0 if info is None else max(int(info.min), -(1 << 62))
            for cardinality in (1, 3, n + 1):
                pool = rng.integers(low, high, cardinality, endpoint=True).astype(dtype)
                values = pool[rng.integers(0, len(pool), n)]
                got, want = sorted_unique(values), np.unique(values)
                assert got.dtype == want.dtype and np.array_equal(got, want), (dtype, n, cardinality)
    extremes = np.array([np.iinfo(np.uint64).max, 0, np.iinfo(np.uint64).max, 1], dtype=np.uint64)
    assert sorted_unique(extremes).tolist() == [0, 1, np.iinfo(np.uint64).max]


def test_other_kinds_are_left_to_np_unique() -> None:
    floats = np.array([2.0, np.nan, 1.0, np.nan, 2.0])
    assert np.array_equal(sorted_unique(floats), np.unique(floats), equal_nan=True)
    assert sorted_unique(np.array(["b", "a", "b"])).tolist() == ["a", "b"]
    grid = np.array([[3, 1], [1, 3]])
    assert sorted_unique(grid).tolist() == [1, 3]  # not 1-D: flattened, as np.unique does
    values = np.array([5, 3, 5], dtype=np.int64)
    sorted_unique(values)
    assert values.tolist() == [5, 3, 5]  # the input is not sorted in place
