"""keep: none and against: PATH for dedup_exact and minhash_dedup, on planted clusters."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from dataprep import Pipeline
from dataprep.config.errors import RecipeError
from dataprep.config.recipe import validate_data
from dataprep.report.inspection import read_table
from tests.conftest import output_bytes

VOCAB = [f"w{i}" for i in range(400)]


def _text(rng: random.Random, words: int = 120) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(words))


def _near(rng: random.Random, text: str, changes: int = 2) -> str:
    words = text.split()
    for pos in rng.sample(range(len(words)), changes):
        words[pos] = rng.choice(VOCAB)
    return " ".join(words)


def _write(folder: Path, docs: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    with open(folder / "docs.jsonl", "w") as f:
        for doc_id, text in docs.items():
            f.write(json.dumps({"id": doc_id, "text": text}) + "\n")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """A run's input, and a reference dataset (a dataprep output) that shares some of it."""
    rng = random.Random(11)
    root = tmp_path_factory.mktemp("policies")
    copied, near, in_ref, near_ref = _text(rng), _text(rng), _text(rng), _text(rng)
    docs = {"c3": copied, "c1": copied, "c2": copied.upper(),  # an exact cluster (case does not count)
            "n2": near, "n1": _near(rng, near), "n3": _near(rng, near),  # a near-duplicate cluster
            "r1": in_ref, "r2": in_ref, "s1": _near(rng, near_ref)}  # duplicates of the reference
    docs.update({f"u{i:02d}": _text(rng) for i in range(20)})  # unique documents
    _write(root / "in", docs)
    reference = {"old1": in_ref, "old2": near_ref, "old3": _text(rng)}
    _write(root / "ref-in", reference)
    Pipeline(input={"path": str(root / "ref-in"), "format": "jsonl", "id_field": "id"},
             output=str(root / "reference")).run(workers=1)
    return {"root": root, "docs": docs}


def _run(corpus: dict, name: str, stage: dict) -> tuple[dict[str, dict], dict[str, dict], dict]:
    root = corpus["root"]
    out = root / name
    stats = Pipeline(input={"path": str(root / "in"), "format": "jsonl", "id_field": "id", "shard_size": "4KB"},
                     output=str(out), stages=[stage]).run(workers=2).stats
    kept = {r["id"]: r for r in read_table(str(out / "data")).to_pylist()}
    removed = {r["id"]: r for r in read_table(str(out / "removed")).to_pylist()} if (out / "removed").exists() else {}
    assert len(kept) + len(removed) == len(corpus["docs"])
    return kept, removed, stats


def test_keep_none_removes_every_member_of_a_cluster(corpus: dict) -> None:
    kept, removed, stats = _run(corpus, "exact-none", {"dedup_exact": {"keep": "none"}})
    assert sorted(removed) == ["c1", "c2", "c3", "r1", "r2"]
    assert {r["duplicate_of"] for i, r in removed.items() if i.startswith("c")} == {"c1"}
    assert {r["reason"] for r in removed.values()} == {"dedup_exact:duplicate"}
    assert stats["stages"][0]["removed"] == {"dedup_exact:duplicate": 5}

    kept, removed, _ = _run(corpus, "near-none", {"minhash_dedup": {"keep": "none", "threshold": 0.7}})
    assert {"n1", "n2", "n3", "c1", "c2", "c3", "r1", "r2"} <= set(removed)
    assert not any(i.startswith("u") for i in removed)
    assert {removed[i]["dup_cluster"] for i in ("n1", "n2", "n3")} == {"n1"}


def test_against_removes_what_duplicates_the_reference_and_nothing_of_it(corpus: dict) -> None:
    reference = corpus["root"] / "reference"
    before = output_bytes(reference)
    kept, removed, stats = _run(corpus, "exact-against", {"dedup_exact": {"against": str(reference)}})
    assert {i: (r["reason"], r["duplicate_of"]) for i, r in removed.items()} == {
        "c2": ("dedup_exact:duplicate", "c1"), "c3": ("dedup_exact:duplicate", "c1"),
        "r1": ("dedup_exact:in_reference", "old1"), "r2": ("dedup_exact:in_reference", "old1")}
    assert stats["stages"][0]["removed"] == {"dedup_exact:duplicate": 2, "dedup_exact:in_reference": 2}
    assert output_bytes(reference) == before  # the reference is read, never written

    kept, removed, _ = _run(corpus, "near-against", {"minhash_dedup": {"against": str(reference / "data"),
                                                                       "threshold": 0.7}})
    assert removed["s1"]["reason"] == "minhash_dedup:in_reference" and removed["s1"]["duplicate_of"] == "old2"
    assert removed["r1"]["duplicate_of"] == removed["r2"]["duplicate_of"] == "old1"
    assert "n1" in kept and "c1" in kept  # clusters of the run alone keep their smallest id
    assert all(not str(r.get("dup_cluster") or "").startswith("\x00") for r in [*kept.values(), *removed.values()])
    assert output_bytes(reference) == before

    kept, removed, _ = _run(corpus, "exact-against-none", {"dedup_exact": {"against": str(reference),
                                                                          "keep": "none"}})
    assert sorted(removed) == ["c1", "c2", "c3", "r1", "r2"]


def test_verify_with_against_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as err:
        validate_data({"name": "x", "input": {"path": ".", "format": "text"}, "output": {"path": "o"},
                       "stages": [{"minhash_dedup": {"verify": True, "against": "old"}}]}, "r.yaml", check_inputs=False)
    assert "stages.0.minhash_dedup" in str(err.value) and "against" in str(err.value)
