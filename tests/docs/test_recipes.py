"""The example recipes in recipes/ run as shipped (output redirected to a temporary folder)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds

from tests.conftest import REPO, run_cli


def run_recipe(name: str, out: Path) -> dict:
    result = run_cli("run", str(REPO / "recipes" / name), "--set", f"output.path={out}")
    assert result.returncode == 0, result.stderr
    return json.loads((out / "stats.json").read_text())


def test_fineweb_like_recipe(tmp_path: Path) -> None:
    stats = run_recipe("fineweb_like.yaml", tmp_path / "fw")
    # FineWeb's order (datatrove's examples/fineweb.py): URL filter, trafilatura, English, then
    # Gopher repetition, Gopher quality, C4, FineWeb in one quality stage, MinHash, PII
    assert [s["stage"] for s in stats["stages"]] == ["url_filter", "extract", "langid", "quality", "minhash_dedup",
                                                      "pii", "shuffle", "tokenize"]
    quality = stats["stages"][3]
    assert any(r.startswith("gopher:dup_") for r in quality["removed"])  # the sample's templated pages
    assert stats["output"]["docs"] > 0 and stats["stages"][-1]["counters"]["tokens"] > 0
    langs = ds.dataset(str(tmp_path / "fw" / "data")).to_table(columns=["lang"]).column("lang").to_pylist()
    assert set(langs) == {"en"}


def test_ccnet_like_recipe_buckets_every_language(tmp_path: Path) -> None:
    stats = run_recipe("ccnet_like.yaml", tmp_path / "cc")
    assert [s["stage"] for s in stats["stages"]][-1] == "perplexity_buckets"
    kept = ds.dataset(str(tmp_path / "cc" / "data")).to_table(columns=["lang", "perplexity_bucket"])
    pairs = Counter(zip(kept.column("lang").to_pylist(), kept.column("perplexity_bucket").to_pylist()))
    for lang in ("en", "de", "fr"):  # each language split by its own percentiles into thirds
        sizes = [pairs[(lang, b)] for b in ("head", "middle", "tail")]
        assert min(sizes) > 0 and max(sizes) - min(sizes) <= 2, (lang, sizes)


def test_pretrain_extras_recipe_writes_megatron_shards_and_a_validation_split(tmp_path: Path) -> None:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    out = tmp_path / "px"
    stats = run_recipe("pretrain_extras.yaml", out)
    by_stage = {s["stage"]: s for s in stats["stages"]}
    assert by_stage["decontaminate"]["removed"].get("decontaminate:sample_eval", 0) >= 1
    assert by_stage["dedup_paragraphs"]["docs_in"] > 0
    counters = by_stage["tokenize"]["counters"]
    assert counters["val_documents"] >= 1
    megatron = [IndexedDataset(str(p.with_suffix(""))) for p in sorted((out / "tokens").glob("part-*.bin"))]
    val = [IndexedDataset(str(p.with_suffix(""))) for p in sorted((out / "tokens" / "val").glob("part-*.bin"))]
    assert sum(len(d) for d in megatron) + sum(len(d) for d in val) == stats["output"]["docs"]
    assert sum(len(d) for d in val) == counters["val_documents"]
