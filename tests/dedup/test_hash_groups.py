"""Grouping rows by 128-bit hash: the repeated-rows-only grouping the dedups decide on gives
exactly the groups of two rows or more of the full grouping, in its order."""

import numpy as np
import pyarrow as pa
import pytest

from dataprep.dedup.hash_groups import hash_groups, repeated_hash_groups


def _table(rng: np.random.Generator, n: int) -> pa.Table:
    h1 = rng.integers(0, n // 3, size=n, dtype=np.uint64)  # many repeats
    h2 = h1 * np.uint64(7)
    h2[rng.random(n) < 0.05] += np.uint64(1)  # same h1, another h2: a separate group
    ids = [f"doc{int(x):04d}" for x in rng.integers(0, n // 2, size=n)]  # ids repeat: ties on (h1, h2, id)
    return pa.table({"h1": pa.array(h1), "h2": pa.array(h2), "id": ids,
                     "unit": pa.array(rng.integers(0, 3, size=n), pa.int64()), "row": pa.array(np.arange(n))})


def _multi(groups) -> pa.Table:
    keep = groups.sizes() > 1
    return groups.rows.filter(pa.array(keep)).append_column("first", pa.array(groups.first[keep]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_repeated_groups_are_the_multi_row_groups_of_the_full_grouping(seed):
    table = _table(np.random.default_rng(seed), 3000)
    table = pa.concat_tables([table.slice(0, 1000), table.slice(1000)])  # two chunks, as shard summaries come
    full = hash_groups(table, ["id", "unit"])
    repeated = repeated_hash_groups(table, ["id", "unit"])
    # same rows, same order (ties included: "row" tells rows equal in every key apart), same firsts
    assert _multi(repeated).equals(_multi(full))
    # what it leaves out is alone in the full grouping; what it keeps alone shares only h1 with another row
    left_out = np.setdiff1d(np.arange(table.num_rows), repeated.rows.column("row").to_numpy())
    size_of_row = np.empty(table.num_rows, dtype=np.int64)
    size_of_row[full.rows.column("row").to_numpy()] = full.sizes()
    assert len(left_out) and (size_of_row[left_out] == 1).all()
    kept_h1 = repeated.rows.column("h1").to_numpy()
    lone = kept_h1[repeated.sizes() == 1]
    values, counts = np.unique(kept_h1, return_counts=True)
    assert len(lone) and (counts[np.searchsorted(values, lone)] > 1).all()


def test_no_repeats_and_empty_tables_give_no_groups():
    alone = pa.table({"h1": pa.array(np.arange(5, dtype=np.uint64)), "h2": pa.array(np.zeros(5, np.uint64)),
                      "id": list("abcde")})
    for table in (alone, alone.slice(0, 0)):
        groups = repeated_hash_groups(table, ["id"])
        assert groups.rows.num_rows == 0 and len(groups.first) == 0 and len(groups.sizes()) == 0
