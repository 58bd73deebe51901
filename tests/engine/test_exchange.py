"""The all-to-all exchange of Arrow tables between Dask tasks, on a real LocalCluster."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataprep.engine.exchange import exchange, key_partition, string_partition


def _inputs(tmp_path: Path, n: int = 4, rows: int = 50) -> list[str]:
    paths = []
    for s in range(n):
        path = tmp_path / f"in-{s}.parquet"
        keys = np.arange(rows, dtype=np.uint64) * np.uint64(7919) + np.uint64(s)
        pq.write_table(pa.table({"key": keys, "source": [s] * rows, "pos": list(range(rows))}), path)
        paths.append(str(path))
    return paths


def _collect(table: pa.Table, j: int) -> tuple[int, list[tuple[int, int, int]]]:
    return j, list(zip(*(table.column(c).to_pylist() for c in ("key", "source", "pos"))))


def test_every_row_reaches_its_partition_in_input_order(tmp_path: Path, client) -> None:
    inputs = _inputs(tmp_path)
    parts = 3
    results = exchange(client, inputs, parts, str(tmp_path / "work"), key_partition("key", parts), _collect)
    assert [j for j, _ in results] == [0, 1, 2]
    everything = sorted(row for _, rows in results for row in rows)
    assert len(everything) == 200 and len(set(everything)) == 200
    for j, rows in results:
        assert all(key % parts == j for key, _, _ in rows)
        assert rows == sorted(rows, key=lambda r: (r[1], r[2]))  # inputs in order, rows in file order
    assert not (tmp_path / "work" / "map").exists()  # the map wave's files are removed


def test_one_partition_reads_the_inputs_directly(tmp_path: Path, client) -> None:
    inputs = _inputs(tmp_path, n=2, rows=5)
    (j, rows), = exchange(client, inputs, 1, str(tmp_path / "work"), key_partition("key", 1), _collect, columns=None)
    assert j == 0 and [(s, p) for _, s, p in rows] == [(s, p) for s in range(2) for p in range(5)]
    assert not (tmp_path / "work").exists()


def test_an_assignment_out_of_range_is_refused(tmp_path: Path, client) -> None:
    inputs = _inputs(tmp_path, n=2, rows=5)
    with pytest.raises(ValueError, match=r"partitions outside 0..1"):
        exchange(client, inputs, 2, str(tmp_path / "work"), partial(lambda t: np.full(t.num_rows, 5)), _collect)


def test_string_partition_is_the_same_in_every_process_and_spreads_keys() -> None:
    import subprocess
    import sys

    ids = [f"doc-{i}" for i in range(2000)]  # ids that differ in few bytes: a weak hash puts them together
    parts = string_partition(pa.table({"id": ids}), "id", 8)
    assert parts.dtype == np.int64 and parts.min() >= 0 and parts.max() < 8
    assert np.bincount(parts, minlength=8).min() > 200  # 250 each on average
    code = ("import pyarrow as pa; from dataprep.engine.exchange import string_partition; "
            "print(string_partition(pa.table({'id': [f'doc-{i}' for i in range(2000)]}), 'id', 8).tolist())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert eval(other.stdout) == parts.tolist()  # no per-process salt (unlike Python's hash)
