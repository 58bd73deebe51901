"""The committed bad-input fixtures (tests/data/bad/, made by make_fixtures.py) through `dataprep run`:
every input ends kept, removed with a reason, or quarantined with a reason; the ledger holds."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tests.conftest import REPO, run_cli, write_recipe

BAD = REPO / "tests" / "data" / "bad"


def line_sources(name: str) -> list[str]:
    """``name:offset`` of every line of a fixture, as the reader names them."""
    sources, pos = [], 0
    for line in (BAD / "jsonl" / name).read_bytes().splitlines(keepends=True):
        sources.append(f"{name}:{pos}")
        pos += len(line)
    return sources


UTF8, NUL = line_sources("invalid-utf8.jsonl"), line_sources("nul-bytes.jsonl")

EXPECTED = {  # format: (stages, {source: outcome}); outcome = "kept", "removed:<reason>" or "quarantined:<reason>"
    "html": ([{"extract": {}}], {
        "good.html": "kept",
        "zero-bytes.html": "quarantined:empty_file",
        "nul-bytes.html": "quarantined:binary_content",
        "deeply-nested.html": "removed:extract:too_deep",
    }),
    "jsonl": ([{"quality": {"preset": "gopher"}}], {
        **dict.fromkeys(line_sources("good.jsonl"), "kept"),
        UTF8[0]: "kept", UTF8[1]: "quarantined:invalid_utf8", UTF8[2]: "kept",
        NUL[0]: "kept", NUL[1]: "quarantined:invalid_json", NUL[2]: "quarantined:invalid_json",
        "zero-bytes.jsonl": "quarantined:empty_file",
        "truncated.jsonl.gz@truncated": "quarantined:truncated_input",  # what came before the cut is kept
        "truncated.jsonl.zst@truncated": "quarantined:truncated_input",
        "huge-document.jsonl.gz:0": "quarantined:document_too_large",
    }),
    "warc": ([{"extract": {}}], {
        "malformed.warc#0": "kept",
        "malformed.warc#1": "removed:extract:no_text",  # a record whose header has no usable length
        "malformed.warc#2@error": "quarantined:read_error",  # the reader cannot go past a broken header
        "bad-length.warc#0": "quarantined:truncated_input",
    }),
    "parquet": ([{"quality": {"preset": "gopher"}}], {
        "good.parquet#0": "kept", "good.parquet#1": "kept",
        "wrong-schema.parquet": "quarantined:wrong_schema",
        "not-parquet.parquet": "quarantined:read_error",
    }),
}


def outcomes(out: Path) -> dict[str, str]:
    seen: dict[str, str] = {}
    for sub, label in (("data", "kept"), ("removed", "removed"), ("quarantine", "quarantined")):
        if not (out / sub).exists():
            continue
        table = ds.dataset(str(out / sub)).to_table()
        reasons = table.column("reason").to_pylist() if "reason" in table.column_names else [None] * table.num_rows
        for source, reason in zip(table.column("source").to_pylist(), reasons):
            assert source not in seen, f"{source} is in two places"
            seen[source] = label if label == "kept" else f"{label}:{reason}"
    return seen


@pytest.mark.parametrize("fmt", list(EXPECTED))
def test_bad_inputs_end_kept_removed_or_quarantined_with_a_reason(tmp_path: Path, fmt: str) -> None:
    stages, expected = EXPECTED[fmt]
    recipe = write_recipe(tmp_path / "r.yaml", {
        "name": f"bad-{fmt}", "seed": 1, "input": {"path": str(BAD / fmt), "format": fmt},
        "output": {"path": str(tmp_path / "out")}, "executor": {"workers": 1}, "stages": stages})
    result = run_cli("run", str(recipe))
    assert result.returncode == 0, result.stderr
    seen = outcomes(tmp_path / "out")
    truncated_kept = {s for s in seen if s.startswith("truncated.jsonl.gz:")}
    assert 0 < len(truncated_kept) < 20 if fmt == "jsonl" else not truncated_kept
    assert {s: o for s, o in seen.items() if s not in truncated_kept} == expected

    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    quarantined = sum(stats["input"]["quarantined"].values())
    assert stats["input"]["inputs"] == stats["input"]["docs"] + quarantined == len(seen)
    assert quarantined == sum(o.startswith("quarantined") for o in seen.values())
    for stage in stats["stages"]:
        assert stage["docs_in"] == stage["docs_out"] + sum(stage["removed"].values())
    assert stats["output"]["docs"] == Counter(seen.values())["kept"]
    assert all(ds.dataset(str(tmp_path / "out" / "quarantine")).to_table().column("error").to_pylist())


def test_a_path_that_does_not_exist_is_an_error_before_any_work(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", {
        "name": "missing", "input": {"path": str(BAD / "no-such-folder" / "*.jsonl"), "format": "jsonl"},
        "output": {"path": str(tmp_path / "out")}, "stages": []})
    result = run_cli("run", str(recipe))
    assert result.returncode == 2
    assert "input.path" in result.stderr and "no-such-folder" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unwritable_output_is_an_error_before_any_work(tmp_path: Path) -> None:
    # /proc refuses new folders even to root (CI may run as root, where chmod would not stop it)
    recipe = write_recipe(tmp_path / "r.yaml", {
        "name": "unwritable", "input": {"path": str(BAD / "parquet"), "format": "parquet"},
        "output": {"path": "/proc/dataprep-test-out"}, "stages": []})
    result = run_cli("run", str(recipe))
    assert result.returncode == 2
    assert "output.path /proc/dataprep-test-out is not writable" in result.stderr and "choose another" in result.stderr
    assert "Traceback" not in result.stderr
