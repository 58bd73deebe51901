"""dedup_paragraphs: repeated paragraphs and boilerplate lines across shards are cut, the first
occurrence kept by a rule that does not depend on sharding; the same output with 1 and 2 workers
and two shardings; the kept fraction is right."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from dataprep import Pipeline
from dataprep.report.inspection import read_table
from dataprep.transforms.dedup_paragraphs import rebuild
from tests.conftest import output_bytes

SHARED = "This paragraph is copied into many documents of the corpus, word for word, as news sites syndicate."
BOILER = "Accept all cookies | Privacy policy | Contact us"


def _corpus(folder: Path) -> dict[str, str]:
    rng = random.Random(3)
    vocab = ["river", "stone", "lamp", "orchard", "violin", "harbour", "meadow", "ladder", "candle", "tower"]
    folder.mkdir()
    texts = {}
    with open(folder / "docs.jsonl", "w") as f:
        for i in range(60):
            own = [" ".join(rng.choice(vocab) + str(rng.randint(0, 999)) for _ in range(25)) for _ in range(3)]
            paragraphs = own[:1] + ([SHARED] if i % 3 == 0 else []) + own[1:]
            if i % 2 == 0:
                paragraphs.append(f"{BOILER}\n{BOILER.upper()}  ")  # a boilerplate line twice (case, blanks)
            text = "\n\n".join(paragraphs)
            doc_id = f"d{(i * 37) % 60:03d}"  # ids out of file order
            texts[doc_id] = text
            f.write(json.dumps({"id": doc_id, "text": text}) + "\n")
        f.write(json.dumps({"id": "d999", "text": SHARED}) + "\n")  # only a repeated paragraph: nothing left
    texts["d999"] = SHARED
    return texts


def _run(tmp_path: Path, name: str, workers: int, shard_size: str, **params) -> tuple[Path, dict]:
    out = tmp_path / name
    spec = {"path": str(tmp_path / "in"), "format": "jsonl", "id_field": "id", "shard_size": shard_size}
    stats = Pipeline(input=spec, output=str(out), stages=[{"dedup_paragraphs": params}]).run(workers=workers).stats
    return out, stats


def test_repeated_paragraphs_are_cut_after_the_first_and_boilerplate_lines_everywhere(tmp_path: Path) -> None:
    texts = _corpus(tmp_path / "in")
    out, stats = _run(tmp_path, "para", 2, "4KB", min_chars=10)
    assert stats["run"]["shards"] >= 3
    kept = {r["id"]: r for r in read_table(str(out / "data")).to_pylist()}
    holders = sorted(i for i, t in texts.items() if SHARED in t)
    first = holders[0]  # the smallest id, wherever it sits in the files
    assert SHARED in kept[first]["text"]
    assert all(SHARED not in kept[i]["text"] for i in holders[1:] if i in kept)
    removed = read_table(str(out / "removed")).to_pylist()
    assert [(r["id"], r["reason"]) for r in removed] == [("d999", "dedup_paragraphs:too_short")]
    for doc_id, row in kept.items():
        assert row["para_kept_frac"] == pytest.approx(len(row["text"]) / len(texts[doc_id]), rel=1e-6)

    lines, _ = _run(tmp_path, "lines", 2, "4KB", unit="line", max_count=1)
    kept = {r["id"]: r["text"] for r in read_table(str(lines / "data")).to_pylist()}
    assert all(BOILER not in t and BOILER.upper() not in t for t in kept.values())  # seen 60 times: cut everywhere
    assert all(t.count("\n") >= 2 for t in kept.values())  # the unique lines stay


def test_the_same_output_whatever_the_workers_and_the_sharding(tmp_path: Path) -> None:
    _corpus(tmp_path / "in")
    one, _ = _run(tmp_path, "one", 1, "4KB")
    two, _ = _run(tmp_path, "two", 2, "4KB")
    assert {k: v for k, v in output_bytes(one).items() if not k.startswith("stages/")} == \
        {k: v for k, v in output_bytes(two).items() if not k.startswith("stages/")}
    coarse, _ = _run(tmp_path, "coarse", 2, "64KB")
    def rows(out: Path) -> list:
        return sorted((r["id"], r["text"]) for r in read_table(str(out / "data")).to_pylist())

    assert rows(one) == rows(coarse)


def test_rebuild_keeps_each_unit_with_its_break() -> None:
    text = "one\n\ntwo\n \nthree\n\n\nfour"
    assert rebuild(text, {1}, "paragraph") == "one\n\nthree\n\n\nfour"
    assert rebuild(text, {3}, "paragraph") == "one\n\ntwo\n \nthree"
    assert rebuild(text, {0, 1, 2, 3}, "paragraph") == ""
    assert rebuild("a\nb\nc\n", {1}, "line") == "a\nc\n"
