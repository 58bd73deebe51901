"""Per-shard removal lists: written partitioned by shard, loaded one shard at a time, applied to
a batch."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from dataprep.dedup import removals
from dataprep.io.state_files import reset_folder


def _batch(ids: list[str]) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.string()), "text": pa.array([f"t{i}" for i in ids], pa.large_string()),
                     "source": pa.array(ids, pa.string())})


def test_each_shard_loads_only_its_own_list(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    reset_folder(state)
    removals.write(pa.table({"id": ["a1", "b1", "a3"], "duplicate_of": ["a0", "a0", "b2"],
                             "shard": ["part-a", "part-b", "part-a"]}), state)
    removals.write(pa.table({"id": ["a5"], "duplicate_of": ["a4"], "shard": ["part-a"]}), state, part=1)
    a = removals.load(state, "part-a", ["duplicate_of"])
    assert sorted(zip(a.column("id").to_pylist(), a.column("duplicate_of").to_pylist())) == \
        [("a1", "a0"), ("a3", "b2"), ("a5", "a4")]
    assert removals.load(state, "part-b", ["duplicate_of"]).column("id").to_pylist() == ["b1"]
    none = removals.load(state, "part-c", ["duplicate_of"])
    assert none.num_rows == 0 and none.schema.names == ["id", "duplicate_of"]
    reset_folder(state)
    assert removals.load(state, "part-a", ["duplicate_of"]).num_rows == 0


def test_apply_marks_every_row_and_removes_the_listed_ones(tmp_path: Path) -> None:
    found = pa.table({"id": ["d2", "d4"], "duplicate_of": ["d1", "d1"], "dup_cluster": ["d1", "d1"]})
    out = removals.apply(_batch(["d1", "d2", "d3", "d4"]), found, ["duplicate_of", "dup_cluster"], "dedup:duplicate")
    assert out.kept.column("id").to_pylist() == ["d1", "d3"]
    assert out.kept.column("duplicate_of").to_pylist() == [None, None]
    assert out.removed.column("id").to_pylist() == ["d2", "d4"]
    assert out.removed.column("reason").to_pylist() == ["dedup:duplicate"] * 2
    assert out.removed.column("dup_cluster").to_pylist() == ["d1", "d1"]
    nothing = removals.apply(_batch(["x"]), found.slice(0, 0), ["duplicate_of", "dup_cluster"], "r")
    assert nothing.removed is None and nothing.kept.num_rows == 1
