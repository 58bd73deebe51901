"""pii, url_filter and dedup_exact: rules on hand-made documents, and dedup on real clusters."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from dataprep import Pipeline
from dataprep.report.inspection import read_table
from dataprep.transforms.dedup_exact import DedupExact
from dataprep.transforms.pii import Pii
from dataprep.transforms.url_filter import UrlFilter
from tests.conftest import output_bytes
from tests.test_transform import docs


@pytest.mark.parametrize("text,expected,kind", [
    ("write to jane.doe+news@mail.example.co.uk today", "write to <EMAIL> today", "email"),
    ("host 192.168.10.254 is up", "host <IP_ADDRESS> is up", "ipv4"),
    ("not an ip: 999.1.1.1 or 3.11.2", "not an ip: 999.1.1.1 or 3.11.2", None),
    ("v6 2001:0db8:85a3:0000:0000:8a2e:0370:7334 full", "v6 <IP_ADDRESS> full", "ipv6"),
    ("v6 fe80::1ff:fe23:4567:890a short", "v6 <IP_ADDRESS> short", "ipv6"),
    ("call +49 30 1234 5678 now", "call <PHONE> now", "phone"),
    ("call (555) 123-4567 or 555.123.4567", "call <PHONE> or <PHONE>", "phone"),
    ("on 2024-03-15 at 12:30:45", "on 2024-03-15 at 12:30:45", None),
])
def test_pii_redacts_each_kind(text, expected, kind):
    out = Pii().process(docs([text]))
    assert out.kept.column("text")[0].as_py() == expected
    counted = {k: v for k, v in out.counters.items() if v}
    assert counted == ({f"pii:{kind}": expected.count("<")} if kind else {})
    assert out.kept.column("pii_redactions").to_pylist() == [expected.count("<")]


def test_pii_kinds_and_placeholders_are_configurable():
    out = Pii(kinds=["email"], email_placeholder="[mail]").process(docs(["a@b.io 10.0.0.1"]))
    assert out.kept.column("text")[0].as_py() == "[mail] 10.0.0.1"


def test_url_filter_domains_subdomains_substrings_and_missing(tmp_path: Path):
    (tmp_path / "domains.txt").write_text("# blocked\nspam.example\nBAD.org\n")
    (tmp_path / "subs.txt").write_text("/casino/\n")
    stage = UrlFilter(domains_file=str(tmp_path / "domains.txt"), substrings_file=str(tmp_path / "subs.txt"),
                      missing="remove").ensure_setup()
    urls = ["https://spam.example/a", "http://www.spam.example:8080/b", "https://notspam.example/",
            "https://x.bad.org/", "https://ok.net/casino/win", "https://ok.net/page", None, ""]
    out = stage.process(docs([str(i) for i in range(len(urls))], url=urls))
    reasons = dict(zip(out.removed.column("url").to_pylist(), out.removed.column("reason").to_pylist()))
    assert reasons == {
        "https://spam.example/a": "url_filter:blocked_domain",
        "http://www.spam.example:8080/b": "url_filter:blocked_domain",
        "https://x.bad.org/": "url_filter:blocked_domain", "https://ok.net/casino/win": "url_filter:blocked_substring",
        None: "url_filter:no_url", "": "url_filter:no_url"}
    assert out.kept.column("url_domain").to_pylist() == ["notspam.example", "ok.net"]
    keep_missing = UrlFilter(domains=["x.com"]).ensure_setup().process(docs(["a"]))
    assert keep_missing.kept.num_rows == 1


def dedup_corpus(folder: Path) -> None:
    """60 documents in 3 files: 10 texts appear twice or three times, with case and space changes."""
    folder.mkdir()
    rows = []
    for i in range(40):
        rows.append(f"Document number {i} has its own words.")
    for i in range(10):
        rows.append(f"Shared text {i}.")
        rows.append(f"shared   TEXT {i}.")
    for i in range(0, 10, 2):
        rows.append(f" Shared text {i}. ")
    for part in range(3):
        lines = [json.dumps({"text": t}) for t in rows[part::3]]
        (folder / f"part{part}.jsonl").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("shard_size,partitions", [("1KB", None), ("1KB", 3), ("64MB", None)])
def test_dedup_exact_removes_normalised_duplicates_same_with_any_workers(tmp_path: Path, client, shard_size,
                                                                          partitions):
    src = tmp_path / "in"
    dedup_corpus(src)
    out = tmp_path / "out"
    spec = {"path": str(src), "format": "jsonl", "shard_size": shard_size}
    stats = Pipeline(input=spec, output=str(out), stages=[DedupExact(partitions=partitions)]).run(client=client).stats
    assert stats["stages"][0]["removed"] == {"dedup_exact:duplicate": 15}
    kept = read_table(str(out / "data"))
    assert kept.num_rows == 50
    removed = read_table(str(out / "removed"))
    all_ids = set(kept.column("id").to_pylist()) | set(removed.column("id").to_pylist())
    both = pa.concat_tables([kept.select(["id", "text"]), removed.select(["id", "text"])])
    by_id = {r["id"]: r["text"] for r in both.to_pylist()}
    for row in removed.to_pylist():
        rep = row["duplicate_of"]
        assert rep in all_ids and rep < row["id"]  # the smallest id represents the group
        assert " ".join(by_id[rep].lower().split()) == " ".join(row["text"].lower().split())
    assert kept.column("duplicate_of").null_count == kept.num_rows


def test_dedup_exact_identical_for_one_and_two_workers_and_resumes(tmp_path: Path):
    src = tmp_path / "in"
    dedup_corpus(src)
    runs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        Pipeline(input={"path": str(src), "format": "jsonl", "shard_size": "1KB"}, output=str(out),
                 stages=[DedupExact()]).run(workers=workers)
        runs.append(output_bytes(out))
    assert runs[0] == runs[1]
    # a lost data shard after the barrier is recomputed with the barrier's state rebuilt
    out = tmp_path / "w2"
    victim = sorted((out / "data").glob("*.parquet"))[0]
    victim.unlink()
    result = Pipeline(input={"path": str(src), "format": "jsonl", "shard_size": "1KB"}, output=str(out),
                      stages=[DedupExact()]).run(workers=2, resume=True)
    assert result.skipped_shards > 0
    assert output_bytes(out) == runs[1]


def test_recipe_chaining_every_filter_keeps_the_ledger(tmp_path: Path):
    from tests.conftest import REPO, run_cli

    out = tmp_path / "out"
    res = run_cli("run", str(REPO / "recipes" / "web_filters.yaml"), "--set", f"output.path={out}", "--workers", "2")
    assert res.returncode == 0, res.stderr  # the run checks its ledger and fails otherwise
    assert "Loading the LM" not in res.stderr
    stats = json.loads((out / "stats.json").read_text())
    names = [s["stage"] for s in stats["stages"]]
    assert names == ["extract", "langid", "url_filter", "pii", "quality", "dedup_exact", "perplexity", "classifier"]
    assert stats["stages"][5]["removed"] == {"dedup_exact:duplicate": 2}
    kept = read_table(str(out / "data"))
    for column in ("lang", "pii_redactions", "quality_line_punct_ratio", "duplicate_of", "perplexity", "quality_score"):
        assert column in kept.schema.names
    assert kept.num_rows == stats["output"]["docs"] > 0


def test_langid_min_score_per_language():
    from dataprep.transforms.langid import LangId

    texts = ["The quick brown fox jumps over the lazy dog while the farmer watches from the porch.",
             "Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer zusieht.",
             "Le renard brun rapide saute par-dessus le chien paresseux pendant que le fermier regarde."]
    scored = LangId().ensure_setup().process(docs(texts)).kept
    langs, scores = scored.column("lang").to_pylist(), scored.column("lang_score").to_pylist()
    assert langs == ["en", "de", "fr"]
    above = {lang: min(score + 0.001, 1.0) for lang, score in zip(langs, scores)}
    stage = LangId(min_score={"de": above["de"], "*": 0.1}).ensure_setup()
    out = stage.process(docs(texts))
    assert out.removed.column("text").to_pylist() == [texts[1]]
    assert out.removed.column("reason").to_pylist() == ["langid:low_score"]
    strict = LangId(min_score={"en": 0.0, "*": 1.0}).ensure_setup().process(docs(texts))
    assert strict.kept.column("lang").to_pylist() == ["en"]
    with pytest.raises(ValueError, match="less than or equal to 1"):
        LangId(min_score={"en": 1.5})
