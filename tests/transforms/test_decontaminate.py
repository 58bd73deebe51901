"""decontaminate: planted evaluation passages (exact, re-cased, re-punctuated, embedded in longer
documents) are found; documents that share fewer n-grams are kept; redaction cuts only the
planted span and its margin; the reference is hashed once per run and loaded once per worker."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pytest

from dataprep import Pipeline
from dataprep.report.inspection import read_table
from dataprep.transforms.decontaminate import Decontaminate
from tests.test_transform import docs

QUESTIONS = [
    ("Which river flows through the ancient city that the travellers reached after seven days of walking",
     "the river named in the third chapter of the old guide book"),
    ("What colour did the painter choose for the door of the lighthouse keeper's small stone cottage",
     "a deep green mixed from three tubes bought at the harbour market"),
    ("How many bridges cross the canal between the railway station and the cathedral square in the story",
     "eleven bridges of which four are made of wood and seven of brick"),
]


def _filler(rng: random.Random, words: int) -> str:
    vocab = ["market", "morning", "garden", "letter", "window", "yellow", "quiet", "winter", "forest", "music",
             "teacher", "village", "harbour", "kitchen", "bicycle", "mountain", "summer", "evening", "paper", "road"]
    return " ".join(rng.choice(vocab) + str(rng.randint(0, 99)) for _ in range(words))


@pytest.fixture
def quiz(tmp_path: Path) -> Path:
    path = tmp_path / "quiz.jsonl"
    records = (json.dumps({"question": q, "answer": a, "id": i}) for i, (q, a) in enumerate(QUESTIONS))
    path.write_text("".join(r + "\n" for r in records))
    return path


def _documents() -> dict[str, str]:
    rng = random.Random(4)
    q0, a0 = QUESTIONS[0]
    q1, a1 = QUESTIONS[1]
    q2 = QUESTIONS[2][0].split()
    return {
        "exact": f"{q0} {a0}",
        "recased": f"{q1.upper()}?!  -- {a1.title()}...",
        "embedded": f"{_filler(rng, 300)}. {q0}? {a0}. {_filler(rng, 300)}",
        "few_words": f"{_filler(rng, 50)} {' '.join(q2[:10])} {_filler(rng, 50)}",  # 10 words: no 13-gram
        "clean": _filler(rng, 200),
    }


def _run(stage: Decontaminate) -> tuple[dict[str, str | None], pa.Table]:
    texts = _documents()
    out = stage.ensure_setup().process(docs(list(texts.values())))
    reasons = dict.fromkeys(texts)
    order = list(texts)
    ids = docs(list(texts.values())).column("id").to_pylist()
    by_id = dict(zip(ids, order))
    if out.removed is not None:
        for i, reason in zip(out.removed.column("id").to_pylist(), out.removed.column("reason").to_pylist()):
            reasons[by_id[i]] = reason
    return reasons, out.kept


def test_planted_passages_are_found_and_the_rest_kept(quiz: Path) -> None:
    stage = Decontaminate(benchmarks={"quiz": {"path": str(quiz), "fields": ["question", "answer"]}})
    reasons, kept = _run(stage)
    assert reasons == {"exact": "decontaminate:quiz", "recased": "decontaminate:quiz",
                       "embedded": "decontaminate:quiz", "few_words": None, "clean": None}
    assert set(kept.column("decontam_matches").to_pylist()) == {0}
    assert kept.column("decontam_benchmark").null_count == kept.num_rows


def test_min_matches_keeps_documents_that_share_fewer(quiz: Path) -> None:
    # 'exact' and 'embedded' share all 16 13-grams of quiz record 0 (28 words); 'recased' all 17
    # of record 1 (29 words, "keeper's" being two)
    stage = Decontaminate(benchmarks={"quiz": {"path": str(quiz), "fields": ["question", "answer"]}}, min_matches=17)
    reasons, kept = _run(stage)
    assert reasons["recased"] == "decontaminate:quiz"
    assert reasons["exact"] is None and reasons["embedded"] is None
    matched = dict(zip(kept.column("text").to_pylist(), kept.column("decontam_matches").to_pylist()))
    assert matched[_documents()["exact"]] == matched[_documents()["embedded"]] == 16


def test_redaction_cuts_the_planted_span_and_its_margin_only(quiz: Path) -> None:
    stage = Decontaminate(benchmarks={"quiz": {"path": str(quiz), "fields": ["question", "answer"]}},
                          mode="redact", margin=20, min_keep=100)
    reasons, kept = _run(stage)
    assert reasons["exact"] == reasons["recased"] == "decontaminate:quiz"  # too little left: removed
    assert reasons["embedded"] is None
    texts = dict(zip(kept.column("decontam_benchmark").to_pylist(), kept.column("text").to_pylist()))
    redacted = texts["quiz"]
    original = _documents()["embedded"]
    q0, a0 = QUESTIONS[0]
    start = original.index(q0)
    end = original.index(a0) + len(a0)
    assert "river" not in redacted and "guide book" not in redacted
    assert redacted.startswith(original[: start - 20].strip()) and redacted.endswith(original[end + 20:].strip())
    cut = dict(zip(kept.column("decontam_benchmark").to_pylist(), kept.column("decontam_redacted_chars").to_pylist()))
    assert cut["quiz"] == end - start + 40


def test_several_benchmarks_and_text_references(tmp_path: Path, quiz: Path) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text(QUESTIONS[2][0] + " " + QUESTIONS[2][1] + "\n")
    stage = Decontaminate(benchmarks={"quiz": {"path": str(quiz), "fields": ["question"]}, "bridges": str(lines)})
    out = stage.ensure_setup().process(docs([" ".join(QUESTIONS[2]), QUESTIONS[0][0]]))
    assert out.removed.column("reason").to_pylist() == ["decontaminate:bridges", "decontaminate:quiz"]


def test_a_million_ngram_reference_is_hashed_once_and_loaded_once_per_worker(tmp_path: Path, client) -> None:
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(50_000)]
    reference = tmp_path / "big.txt"
    reference.write_text("\n".join(" ".join(rng.choice(vocab) for _ in range(1000)) for _ in range(1020)) + "\n")
    folder = tmp_path / "in"
    folder.mkdir()
    planted = reference.read_text().splitlines()[500].split()[100:140]
    rows = [{"text": _filler(rng, 100)} for _ in range(300)] + [{"text": "intro " + " ".join(planted) + " outro"}]
    (folder / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    log = tmp_path / "log"
    log.mkdir()
    out = tmp_path / "out"
    stats = Pipeline(input={"path": str(folder), "format": "jsonl", "shard_size": "8KB"}, output=str(out),
                     stages=[{"tests.helpers.transforms:CountingDecontaminate":
                              {"benchmarks": {"big": str(reference)}, "log_dir": str(log)}}]).run(client=client).stats
    assert stats["stages"][0]["removed"] == {"decontaminate:big": 1}
    assert stats["run"]["shards"] >= 4
    prepared = list((out / "stages").rglob("prepared/big.npy"))
    assert len(prepared) == 1 and prepared[0].stat().st_size > 8 * 1_000_000  # ~1M 64-bit n-grams
    assert len(list(log.glob("prepare-*"))) == 1
    setups = [p.name.split("-")[1] for p in log.glob("setup-*")]
    assert 1 <= len(setups) <= 2 and len(set(setups)) == len(setups)  # at most once in each of the 2 workers
    assert read_table(str(out / "removed")).column("decontam_matches").to_pylist() == [28]


def test_redaction_cuts_the_matches_of_every_benchmark_a_document_quotes(tmp_path: Path, quiz: Path) -> None:
    other = "the harbour master counted forty seven sailing boats leaving the bay before the first storm of autumn"
    lines = tmp_path / "other.txt"
    lines.write_text(other + "\n")
    rng = random.Random(5)
    q0, a0 = QUESTIONS[0]
    text = f"{_filler(rng, 200)}. {q0} {a0}. {_filler(rng, 200)}. {other}. {_filler(rng, 200)}"
    stage = Decontaminate(benchmarks={"quiz": {"path": str(quiz), "fields": ["question", "answer"]},
                                      "other": str(lines)}, mode="redact", margin=0, min_keep=100)
    out = stage.ensure_setup().process(docs([text]))
    redacted = out.kept.column("text")[0].as_py()
    assert q0 not in redacted and other not in redacted
    assert out.kept.column("decontam_benchmark").to_pylist() == ["quiz"]  # the one with the most matches
    assert out.kept.column("decontam_redacted_chars").to_pylist() == [len(f"{q0} {a0}") + len(other)]
