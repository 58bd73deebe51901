"""Every built-in stage in one recipe: reruns and worker counts give byte-identical output."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import every_stage_recipe, output_bytes, run_cli, write_recipe


def everything(root: Path) -> dict[str, bytes]:
    files = output_bytes(root)
    files.update({str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "tokens").iterdir())})
    return files


def test_every_stage_is_identical_across_reruns_and_worker_counts(tmp_path: Path) -> None:
    runs = {}
    for name, workers in (("one", 1), ("two", 2), ("two-again", 2)):
        tail = [{"perplexity_buckets": {"keep": ["head", "middle"]}},
                {"minhash_dedup": {"ngram": 5, "bands": 14, "rows": 8}}, {"shuffle": {"seed": 7}},
                {"tokenize": {"train": {"vocab_size": 600, "sample_docs": 200}}}]
        recipe = write_recipe(tmp_path / f"{name}.yaml", every_stage_recipe(tmp_path / name, tail, workers))
        result = run_cli("run", str(recipe))
        assert result.returncode == 0, result.stderr
        runs[name] = everything(tmp_path / name)
    stats = json.loads((tmp_path / "one" / "stats.json").read_text())
    assert [s["stage"] for s in stats["stages"]] == ["extract", "langid", "url_filter", "pii", "quality", "dedup_exact",
                                                      "perplexity", "classifier", "perplexity_buckets", "minhash_dedup",
                                                      "shuffle", "tokenize"]
    assert any(f.startswith("tokens/part-") for f in runs["one"]) and any(f.startswith("removed/") for f in runs["one"])
    assert runs["one"].keys() == runs["two"].keys() == runs["two-again"].keys()
    for f in runs["one"]:
        assert runs["one"][f] == runs["two"][f] == runs["two-again"][f], f"{f} differs"
