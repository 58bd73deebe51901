"""The global shuffle: a permutation, the same for any workers and input sharding, seeded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dataprep import Pipeline
from dataprep.report.inspection import read_table
from tests.conftest import output_bytes


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for f in range(4):
        lines = [json.dumps({"text": f"file {f} document {i} " + "x" * (i % 50)}) for i in range(300)]
        (folder / f"f{f}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def shuffled(corpus: Path, out: Path, shard_size: str, seed: int = 0, workers: int | None = None, client=None,
             stages: list | None = None) -> list[str]:
    pipeline = Pipeline(input={"path": str(corpus), "format": "jsonl", "shard_size": shard_size}, output=str(out),
                        stages=stages or [{"shuffle": {"seed": seed}}])
    pipeline.run(client=client) if client is not None else pipeline.run(workers=workers)
    return read_table(str(out / "data"), columns=["id"]).column("id").to_pylist()


def test_shuffle_is_a_global_permutation_independent_of_workers_and_sharding(tmp_path: Path, corpus: Path):
    a = shuffled(corpus, tmp_path / "a", "16KB", workers=1)
    b = shuffled(corpus, tmp_path / "b", "16KB", workers=2)
    c = shuffled(corpus, tmp_path / "c", "64MB", workers=2)
    assert a == b == c
    assert len(a) == 1200 and len(set(a)) == 1200
    unshuffled = Pipeline(input={"path": str(corpus), "format": "jsonl"}, output=str(tmp_path / "u"),
                          stages=[]).run(workers=1)
    original = read_table(str(tmp_path / "u" / "data"), columns=["id"]).column("id").to_pylist()
    assert unshuffled.stats["output"]["docs"] == 1200 and Counter(original) == Counter(a) and original != a
    # global: the documents of one input file are spread over the output shards
    sources = read_table(str(tmp_path / "a" / "data"), columns=["source"]).column("source").to_pylist()
    first_shard = [s.split(":")[0] for s in sources[: len(sources) // 8]]
    assert len(set(first_shard)) == 4


def test_seeds_give_different_orders_and_later_stages_run_on_shuffled_shards(tmp_path: Path, corpus: Path, client):
    a = shuffled(corpus, tmp_path / "a", "16KB", seed=1, client=client)
    b = shuffled(corpus, tmp_path / "b", "16KB", seed=2, client=client)
    assert sorted(a) == sorted(b) and a != b
    out = tmp_path / "t"
    stats = Pipeline(input={"path": str(corpus), "format": "jsonl", "shard_size": "16KB"}, output=str(out),
                     stages=[{"shuffle": {"seed": 1}}, "tests.helpers.transforms:MinLength"]).run(client=client).stats
    assert [s["docs_in"] for s in stats["stages"]] == [1200, 1200]
    assert read_table(str(out / "data"), columns=["id"]).column("id").to_pylist() == a


def test_shuffle_resumes_to_identical_output(tmp_path: Path, corpus: Path):
    out = tmp_path / "o"
    shuffled(corpus, out, "16KB", workers=2)
    before = output_bytes(out)
    (out / "data" / "part-00002.parquet").unlink()
    result = Pipeline(input={"path": str(corpus), "format": "jsonl", "shard_size": "16KB"}, output=str(out),
                      stages=[{"shuffle": {"seed": 0}}]).run(workers=2, resume=True)
    assert result.skipped_shards > 0
    assert output_bytes(out) == before
