"""The tokenize stage on a real LocalCluster: trained and given tokenizers, exact round trips,
token shards, large vocabularies, odd documents."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from dataprep import Pipeline
from dataprep.io.tokens import open_run
from dataprep.report.inspection import read_table
from tests.conftest import SAMPLE_WEB

HTML = {"path": str(SAMPLE_WEB / "**" / "*.html"), "format": "html", "shard_size": "128KB"}
TRAIN = {"tokenize": {"train": {"vocab_size": 800, "sample_docs": 150}}}


def documents_and_tokens(out: Path) -> tuple[list[str], list[np.ndarray], dict]:
    meta, shards = open_run(out)
    texts = read_table(str(out / "data"), columns=["text"]).column("text").to_pylist()
    docs = [np.asarray(s.document(i)) for s in shards for i in range(len(s))]
    return texts, docs, meta


def test_trained_tokenizer_round_trips_every_document(tmp_path: Path, client):
    out = tmp_path / "out"
    stats = Pipeline(input=HTML, output=str(out), stages=[{"extract": {}}, TRAIN]).run(client=client).stats
    texts, docs, meta = documents_and_tokens(out)
    tok = Tokenizer.from_file(str(out / "tokens" / "tokenizer.json"))
    assert len(texts) == len(docs) == stats["output"]["docs"]
    assert all(d[-1] == meta["eos_id"] for d in docs)
    assert all(tok.decode(d[:-1].tolist(), skip_special_tokens=False) == t for d, t in zip(docs, texts))
    assert meta["dtype"] == "<u2" and meta["vocab_size"] == tok.get_vocab_size()
    n_tokens = read_table(str(out / "data"), columns=["n_tokens"]).column("n_tokens").to_pylist()
    assert n_tokens == [len(d) for d in docs]
    assert stats["stages"][1]["counters"]["tokens"] == sum(n_tokens)
    manifest = json.loads((out / "manifest.json").read_text())
    assert any(f["path"].startswith("tokens/part-") and f["path"].endswith(".bin") for f in manifest["outputs"])


def test_training_sample_does_not_depend_on_sharding_or_workers(tmp_path: Path):
    tokenizers = []
    for workers, shard_size in ((1, "64KB"), (2, "512KB")):
        out = tmp_path / f"o{workers}"
        Pipeline(input={**HTML, "shard_size": shard_size}, output=str(out),
                 stages=[{"extract": {}}, TRAIN]).run(workers=workers)
        tokenizers.append((out / "tokens" / "tokenizer.json").read_bytes())
    assert tokenizers[0] == tokenizers[1]


def test_given_tokenizer_is_a_per_shard_stage_with_the_same_ids(tmp_path: Path, client):
    trained = tmp_path / "trained"
    Pipeline(input=HTML, output=str(trained), stages=[{"extract": {}}, TRAIN]).run(client=client)
    given = tmp_path / "given"
    pipeline = Pipeline(input=HTML, output=str(given),
                        stages=[{"extract": {}},
                                {"tokenize": {"tokenizer": str(trained / "tokens" / "tokenizer.json")}}])
    assert not pipeline.stages[1].barrier
    pipeline.run(client=client)
    for a, b in zip(sorted((trained / "tokens").glob("*.bin")), sorted((given / "tokens").glob("*.bin"))):
        assert a.read_bytes() == b.read_bytes()


def test_vocabulary_over_65535_uses_uint32_and_odd_documents(tmp_path: Path, client):
    vocab = {"<|endoftext|>": 0, "[UNK]": 1, **{f"w{i}": i + 2 for i in range(70_000)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(tmp_path / "big.json"))
    folder = tmp_path / "in"
    folder.mkdir()
    texts = ["w69999 w65536 w3", "", " ".join(f"w{i}" for i in range(60_000, 70_000))]
    (folder / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp_path / "out"
    Pipeline(input={"path": str(folder), "format": "jsonl"}, output=str(out),
             stages=[{"tokenize": {"tokenizer": str(tmp_path / "big.json")}}]).run(client=client)
    _, docs, meta = documents_and_tokens(out)
    assert meta["dtype"] == "<u4"
    assert docs[0].tolist() == [70_001, 65_538, 5, 0]
    assert docs[1].tolist() == [0]  # an empty document is its end-of-document token
    assert len(docs[2]) == 10_001


def test_tokenize_parameters_are_checked():
    from dataprep.transforms.tokenize import Tokenize

    with pytest.raises(ValueError, match="either tokenizer"):
        Tokenize()
    with pytest.raises(ValueError, match="special_tokens"):
        Tokenize(train={"vocab_size": 500, "special_tokens": ["<pad>"]})
