"""Annotate-only runs: nothing is removed, and what would have been is marked exactly as a
normal run removes it -- for every built-in filter and the dedups."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from dataprep import Pipeline
from dataprep.config.errors import RecipeError
from dataprep.config.recipe import validate_data
from dataprep.report.inspection import read_table
from dataprep.transforms.extract import Extract
from tests.conftest import SAMPLE_WEB, every_stage_recipe, run_cli, write_recipe

ANNOTATING = {"langid", "url_filter", "quality", "dedup_exact", "perplexity", "classifier", "perplexity_buckets",
              "minhash_dedup", "dedup_paragraphs", "decontaminate"}

OFF = dict.fromkeys(("max_words", "min_mean_word_length", "max_mean_word_length", "max_symbol_word_ratio",
                     "max_bullet_lines_ratio", "max_ellipsis_lines_ratio", "min_alpha_words_ratio", "min_stop_words"))


def _benchmark(folder: Path) -> Path:
    """An evaluation set quoting 30 words of one sample page, so decontaminate has something to find."""
    html = (SAMPLE_WEB / "en" / "page-003.html").read_bytes()
    batch = pa.table({"id": ["p"], "text": [html.decode("utf-8", "replace")], "source": ["p"]})
    text = Extract().ensure_setup().process(batch).kept.column("text")[0].as_py()
    path = folder / "bench.jsonl"
    path.write_text(json.dumps({"question": " ".join(text.split()[:30])}) + "\n")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("annotate")
    bench = _benchmark(root)
    tail = [{"perplexity_buckets": {"keep": ["head", "middle"]}},
            {"minhash_dedup": {"ngram": 5, "bands": 14, "rows": 8}},
            {"dedup_paragraphs": {"unit": "line", "max_count": 20, "min_chars": 200}},
            {"decontaminate": {"benchmarks": {"bench": {"path": str(bench), "fields": ["question"]}}, "ngram": 8}}]
    out = {}
    for mode in ("filter", "annotate"):
        data = every_stage_recipe(root / mode, tail, workers=2)
        data["executor"]["mode"] = mode
        result = run_cli("run", str(write_recipe(root / f"{mode}.yaml", data)))
        assert result.returncode == 0, result.stderr
        out[mode] = root / mode
    return out


def _rows(folder: Path) -> dict[str, dict]:
    return {r["id"]: r for r in read_table(str(folder)).to_pylist()} if folder.exists() else {}


def test_annotate_keeps_what_a_normal_run_removes_and_says_why(runs: dict[str, Path]) -> None:
    kept, removed = _rows(runs["filter"] / "data"), _rows(runs["filter"] / "removed")
    annotated, extract_removed = _rows(runs["annotate"] / "data"), _rows(runs["annotate"] / "removed")
    assert {r["reason"].split(":")[0] for r in extract_removed.values()} <= {"extract"}  # it removes no text judged
    would = {i: r["reason"] for i, r in removed.items() if not r["reason"].startswith("extract")}
    assert set(annotated) == set(kept) | set(would)
    assert {i: r["would_remove"] for i, r in annotated.items() if r["would_remove"]} == would
    stages = {r.split(":")[0] for r in would.values()}
    assert {"langid", "minhash_dedup", "classifier", "decontaminate"} <= stages, stages
    for doc in annotated.values():  # every stage's reason, the first of them first
        assert (doc["would_remove_all"] or [None])[0] == doc["would_remove"]
    assert any(len(d["would_remove_all"]) > 1 for d in annotated.values())


def test_annotate_stats_show_what_each_stage_would_remove(runs: dict[str, Path]) -> None:
    normal = json.loads((runs["filter"] / "stats.json").read_text())
    annotate = json.loads((runs["annotate"] / "stats.json").read_text())
    for before, after in zip(normal["stages"], annotate["stages"]):
        if after["stage"] in ANNOTATING:
            assert after["annotate"] is True and after["removed"] == {}
            assert after["would_remove_first"] == before["removed"], after["stage"]
            for reason, n in after["would_remove"].items():
                assert n >= after["would_remove_first"].get(reason, 0)
        else:
            assert "annotate" not in after and after["removed"] == before["removed"]
    page = (runs["annotate"] / "report.html").read_text()
    assert "What the filters would remove (annotate run)" in page and "langid:language_not_kept" in page


def test_one_stage_annotates_while_the_others_filter(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    texts = ["short", "a long enough document " * 5, "a long enough document " * 5, "another document here " * 5]
    (folder / "d.jsonl").write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "out"
    Pipeline(input={"path": str(folder), "format": "jsonl", "id_field": "id"}, output=str(out),
             stages=[{"dedup_exact": {"annotate": True}},
                     {"quality": {"gopher_quality": {"min_words": 3, **OFF}}}]).run(workers=1)
    kept = _rows(out / "data")
    assert sorted(kept) == ["d1", "d2", "d3"]
    assert kept["d2"]["would_remove"] == "dedup_exact:duplicate" and kept["d2"]["duplicate_of"] == "d1"
    assert kept["d1"]["would_remove"] is None and kept["d1"]["would_remove_all"] == []
    assert [r["reason"] for r in _rows(out / "removed").values()] == ["gopher:min_words"]


def test_annotate_on_a_stage_that_cannot_is_refused_naming_the_key() -> None:
    with pytest.raises(RecipeError) as err:
        validate_data({"name": "x", "input": {"path": ".", "format": "html"}, "output": {"path": "o"},
                       "stages": [{"extract": {"annotate": True}}]}, "r.yaml", check_inputs=False)
    assert "stages.0.extract.annotate" in str(err.value) and "only filters and dedups" in str(err.value)
