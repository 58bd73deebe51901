"""A document that crashes its worker (a native segfault, memory past the worker's limit) costs
only itself: after Dask's retries the engine finds exactly the crashing documents, quarantines
them as worker_crash, and the run completes with the rest; the ledger holds."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli, write_recipe


def _corpus(folder: Path, poisoned: set[int]) -> list[str]:
    folder.mkdir()
    ids = []
    with open(folder / "docs.jsonl", "w") as f:
        for i in range(80):
            text = f"document {i} " + ("with POISON in it" if i in poisoned else "harmless words") + " " * (i % 7)
            f.write(json.dumps({"text": text, "id": f"d{i:03d}"}) + "\n")
            ids.append(f"d{i:03d}")
    return ids


def _rows(folder: Path) -> list[dict]:
    files = sorted(folder.rglob("*.parquet")) if folder.exists() else []
    return [r for f in files for r in pq.read_table(f).to_pylist()]


@pytest.mark.parametrize("how,extra", [("segfault", {}), ("memory", {"gigabytes": 3.0})], ids=["segfault", "memory"])
def test_crashing_documents_are_isolated_and_the_run_completes(tmp_path: Path, how: str, extra: dict) -> None:
    poisoned = {3, 5, 61}  # two in one shard, one in another
    ids = _corpus(tmp_path / "in", poisoned)
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path / "r.yaml", {
        "name": "poison", "input": {"path": str(tmp_path / "in"), "format": "jsonl", "id_field": "id",
                                    "shard_size": "2KB", "batch_size": 16},
        "output": {"path": str(out)},
        "executor": {"workers": 2, "retries": 1, "memory_limit": "900MB"},
        "stages": [{"tests.helpers.transforms:MinLength": {"chars": 1}},
                   {"tests.helpers.transforms:Crash": {"how": how, **extra}}]})
    result = run_cli("run", str(recipe), timeout=600)
    assert result.returncode == 0, result.stderr
    assert "3 quarantined (3 isolated for crashing workers)" in result.stdout
    quarantined = _rows(out / "quarantine")
    assert sorted(r["id"] for r in quarantined) == sorted(f"d{i:03d}" for i in poisoned)
    assert {r["reason"] for r in quarantined} == {"worker_crash"}
    died = "signal 11 (SIGSEGV)" if how == "segfault" else "memory: its RSS reached"
    assert all(died in r["error"] and "stage 01 tests.helpers.transforms:Crash" in r["error"] for r in quarantined)
    assert all(r["raw"].startswith(b"document ") for r in quarantined)
    kept = sorted(r["id"] for r in _rows(out / "data"))
    assert kept == sorted(set(ids) - {f"d{i:03d}" for i in poisoned})
    stats = json.loads((out / "stats.json").read_text())
    crash = stats["stages"][1]
    assert crash["quarantined"] == {"worker_crash": 3} and crash["docs_in"] == 80 and crash["docs_out"] == 77
    assert stats["run"]["crashing_documents_isolated"] == 3
