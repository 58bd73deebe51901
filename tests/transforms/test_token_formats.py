"""Outputs read by their real consumers: token shards by megatron-core's IndexedDataset (and a
held-out split that never shares a document with training), data/ by DuckDB and by Hugging Face
``datasets``, with the row count and columns stats.json states."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer

from dataprep import Pipeline
from dataprep.io.tokens import open_run
from dataprep.report.inspection import read_table
from tests.conftest import SAMPLE_WEB

HTML = {"path": str(SAMPLE_WEB / "**" / "*.html"), "format": "html", "shard_size": "256KB"}


def _tokenize(out: Path, workers: int = 2, shard_size: str = "256KB", **params) -> dict:
    stage = {"tokenize": {"train": {"vocab_size": 700, "sample_docs": 150}, **params}}
    spec = {**HTML, "shard_size": shard_size}
    return Pipeline(input=spec, output=str(out), stages=[{"extract": {}}, stage]).run(workers=workers).stats


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("formats") / "out"
    return out, _tokenize(out, format="both", val_fraction=0.2, val_seed=5)


def _split_rows(out: Path, shard: str, split: str) -> list[dict]:
    rows = pq.read_table(out / "data" / f"{shard}.parquet").to_pylist()
    return [r for r in rows if r["split"] == split]


def test_megatron_reads_every_document_as_our_loader_does(run: tuple[Path, dict]) -> None:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    out, stats = run
    tok = Tokenizer.from_file(str(out / "tokens" / "tokenizer.json"))
    eos = json.loads((out / "tokens" / "tokens.json").read_text())["eos_id"]
    for split, folder in (("train", out / "tokens"), ("val", out / "tokens" / "val")):
        meta, ours = open_run(out, split=split)
        bins = sorted(folder.glob("part-*.bin"))
        assert len(bins) == len(ours) >= 1
        for shard, path in zip(ours, bins):
            prefix = str(path.with_suffix(""))
            megatron = IndexedDataset(prefix)
            assert len(megatron) == len(shard)
            assert np.array_equal(megatron.sequence_lengths, np.diff(np.asarray(shard.offsets)))
            assert np.array_equal(megatron.document_indices, np.arange(len(shard) + 1))
            rows = _split_rows(out, path.stem, split)
            assert len(rows) == len(shard)
            for i, row in enumerate(rows):  # in data/ order, each document's ids: ours, Megatron's, a fresh encoding
                theirs = megatron[i]
                assert theirs.dtype == np.uint16 and np.array_equal(theirs, shard.document(i))
                assert theirs.tolist() == tok.encode(row["text"]).ids + [eos]
                assert row["n_tokens"] == len(theirs)
    counters = stats["stages"][1]["counters"]
    val_ids = {r["id"] for r in read_table(str(out / "data")).to_pylist() if r["split"] == "val"}
    assert counters["val_documents"] == len(val_ids) == sum(len(s) for s in open_run(out, split="val")[1])
    assert 0.1 < len(val_ids) / stats["output"]["docs"] < 0.3


def test_the_validation_split_depends_on_ids_and_seed_only(run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = run
    data = read_table(str(out / "data")).to_pylist()
    train = {r["id"] for r in data if r["split"] == "train"}
    val = {r["id"] for r in data if r["split"] == "val"}
    assert train and val and not train & val and len(train) + len(val) == len(data)
    other = tmp_path / "other"
    _tokenize(other, workers=1, shard_size="64KB", format="megatron", val_fraction=0.2, val_seed=5)
    again = read_table(str(other / "data")).to_pylist()
    assert {r["id"] for r in again if r["split"] == "val"} == val  # another sharding, another worker count
    assert not list((other / "tokens").glob("*.idx.npy")) and list((other / "tokens").glob("*.idx"))
    _, shards = open_run(other)  # our loader reads a Megatron-only run through its .idx
    assert sum(len(s) for s in shards) == len(train)


def test_duckdb_and_hugging_face_datasets_read_data_as_stats_describe_it(run: tuple[Path, dict]) -> None:
    import datasets
    import duckdb

    out, stats = run
    columns = stats["output"]["columns"]
    assert {"id", "text", "source", "title", "n_tokens", "split"} <= set(columns)
    pattern = str(out / "data" / "*.parquet")
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM read_parquet('{pattern}')").fetchone()[0] == stats["output"]["docs"]
    described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{pattern}')").fetchall()
    assert [row[0] for row in described] == list(columns)
    assert con.execute(f"SELECT count(*) FROM read_parquet('{pattern}') WHERE split = 'val'").fetchone()[0] == \
        stats["stages"][1]["counters"]["val_documents"]

    ds = datasets.load_dataset("parquet", data_files=pattern, split="train",
                               cache_dir=str(out.parent / "hf-cache"))
    assert ds.num_rows == stats["output"]["docs"]
    assert list(ds.features) == list(columns)
    assert ds.features["n_tokens"].dtype == "int32" and columns["n_tokens"] == "int32"
    assert sorted(ds["id"]) == sorted(read_table(str(out / "data")).column("id").to_pylist())
