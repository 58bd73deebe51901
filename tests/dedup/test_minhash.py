"""MinHash near-duplicate removal: signatures against datasketch, recall and precision on
planted near duplicates, determinism across workers and shardings, odd documents."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from dataprep import Pipeline
from dataprep.dedup.minhash import optimal_bands_rows, shingle_hash, shingle_hashes, signatures, simplify
from dataprep.report.inspection import read_table
from dataprep.transforms.minhash_dedup import MinHashDedup
from tests.conftest import output_bytes

TEXTS = ["The quick brown fox jumps over the lazy dog, again and again!", "one", "",
         "Ünïcödé wörds, Ünïcödé WÖRDS: 42 times", " ".join(f"w{i}" for i in range(3000)), "a b c d e"]


def datasketch_signature(text: str, ngram: int, num_perm: int, seed: int) -> np.ndarray:
    words = simplify(pa.array([text])).to_pylist()[0].split()
    shingles = [" ".join(words[i:i + ngram]) for i in range(len(words) - ngram + 1)] if len(words) >= ngram else (
        [" ".join(words)] if words else [])
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)
    for s in shingles:
        m.update(s.encode("utf-8"))
    return m.hashvalues


@pytest.mark.parametrize("ngram,num_perm,seed", [(5, 112, 1), (3, 64, 7), (1, 128, 42)])
def test_signatures_equal_datasketch(ngram, num_perm, seed):
    hv, doc = shingle_hashes(pa.array(TEXTS, pa.large_string()), ngram)
    sig = signatures(hv, doc, len(TEXTS), num_perm, seed)
    for i, text in enumerate(TEXTS):
        assert np.array_equal(sig[i], datasketch_signature(text, ngram, num_perm, seed)), text[:30]


@pytest.mark.parametrize("threshold,num_perm", [(0.8, 112), (0.7, 128), (0.5, 64), (0.9, 256)])
def test_bands_and_rows_chosen_as_datasketch_does(threshold, num_perm):
    assert optimal_bands_rows(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


@pytest.mark.parametrize("parts", [1, 3])
def test_components_on_dask_label_every_node_with_the_smallest_of_its_component(tmp_path: Path, client, parts):
    from dataprep.dedup.components import components
    from dataprep.io.state_files import read_table as read_state
    from dataprep.io.state_files import write_table

    rng = random.Random(parts)
    nodes = [f"n{i:03d}" for i in range(300)]
    pairs = [(nodes[i], nodes[i + 1]) for i in range(0, 40)]  # a chain of 41 (41 rounds' worth)
    pairs += [(nodes[100], nodes[k]) for k in range(101, 130)]  # a star
    pairs += [(rng.choice(nodes[150:]), rng.choice(nodes[150:])) for _ in range(120)]  # random sparse graph
    pairs = [(a, b) for a, b in pairs if a != b]
    files = []
    for k in range(3):  # edges spread over files, both ways, each node's shard named after it
        chunk = pairs[k::3]
        u = [a for a, _ in chunk] + [b for _, b in chunk]
        v = [b for _, b in chunk] + [a for a, _ in chunk]
        files.append(str(tmp_path / f"e{k}.parquet"))
        write_table(pa.table({"u": u, "v": v, "u_shard": [f"s-{x}" for x in u]}), files[-1])
    labels = components(client, files, parts, str(tmp_path / "cc"))
    got = {}
    for path in labels:
        table = read_state(path)
        columns = (table.column(c).to_pylist() for c in ("node", "label", "shard"))
        got.update({n: (lab, sh) for n, lab, sh in zip(*columns)})
    parent = {n: n for n in nodes}  # reference: union-find

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x
    for a, b in pairs:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    in_graph = {x for pair in pairs for x in pair}
    assert set(got) == in_graph
    assert all(got[n] == (find(n), f"s-{n}") for n in in_graph)
    assert got[nodes[40]][0] == nodes[0] and got[nodes[129]][0] == nodes[100]


@pytest.mark.parametrize("seed", range(4))
def test_component_roots_give_the_smallest_node_of_each_component(seed):
    from dataprep.dedup.components import component_roots

    rng = np.random.default_rng(seed)
    n = 500
    a = rng.integers(0, n, 400)
    b = np.where(rng.random(400) < 0.3, np.minimum(a + 1, n - 1), rng.integers(0, n, 400))  # chains and random links
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x
    for x, y in zip(a.tolist(), b.tolist()):
        rx, ry = find(x), find(y)
        parent[max(rx, ry)] = min(rx, ry)
    got = component_roots(n, np.concatenate([a, b]), np.concatenate([b, a]))
    assert got.tolist() == [find(x) for x in range(n)]


def test_bucket_edges_keep_bands_apart_even_when_keys_collide(tmp_path: Path):
    from dataprep.io.state_files import read_table as read_state
    from dataprep.transforms.minhash_dedup import _bucket_edges

    table = pa.table({"id": ["d", "c", "b", "e", "a", "f"], "band": pa.array([0, 1, 0, 1, 0, 2], pa.int16()),
                      "key": pa.array([5, 5, 5, 7, 5, 5], pa.uint64()), "shard": ["s"] * 6})
    assert _bucket_edges(table, 0, str(tmp_path), {}) == 4
    edges = read_state(str(tmp_path / "buckets" / "p00000.parquet"))
    assert list(zip(edges.column("u").to_pylist(), edges.column("v").to_pylist())) == [
        ("a", "b"), ("a", "d"), ("b", "a"), ("d", "a")]  # c and f share key 5 in bands of their own: alone


def test_jaccard_of_candidate_pairs_is_exact():
    from dataprep.dedup.candidate_jaccard import jaccard

    rng = random.Random(5)
    sets = [sorted(rng.sample(range(1000), rng.randint(1, 60))) for _ in range(200)]
    a, b = sets[:100], sets[100:]
    a[3] = b[3] = [7]  # identical
    got = jaccard(pa.array(a, pa.list_(pa.uint32())), pa.array(b, pa.list_(pa.uint32())))
    want = [len(set(x) & set(y)) / len(set(x) | set(y)) for x, y in zip(a, b)]
    assert np.allclose(got, want) and got[3] == 1.0


def planted(tmp_path: Path, bases: int = 60, seed: int = 0) -> tuple[Path, list[tuple[str, str, float]]]:
    """Base documents and variants at a spread of Jaccard similarities; returns the folder and
    (base source, variant source, true 5-gram Jaccard) pairs."""
    rng = random.Random(seed)
    consonants, vowels = "bcdfgklmnprst", "aeiou"
    vocab = [f"{rng.choice(consonants)}{rng.choice(vowels)}{rng.choice(consonants)}{i}" for i in range(20000)]
    rows, pairs = [], []
    for _ in range(bases):
        words = [rng.choice(vocab) for _ in range(300)]
        rows.append(" ".join(words))
        base_row = len(rows) - 1
        for change in (0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3):
            variant = list(words)
            for pos in rng.sample(range(len(words)), int(change * len(words))):
                variant[pos] = rng.choice(vocab)
            rows.append(" ".join(variant))
            pairs.append((base_row, len(rows) - 1))
    for _ in range(200):  # unrelated documents
        rows.append(" ".join(rng.choice(vocab) for _ in range(rng.randint(50, 400))))
    folder = tmp_path / "in"
    folder.mkdir()
    order = list(range(len(rows)))
    rng.shuffle(order)
    lines = {}
    with open(folder / "docs.jsonl", "w") as f:
        offset = 0
        for i in order:
            line = json.dumps({"text": rows[i]}) + "\n"
            lines[i] = f"docs.jsonl:{offset}"
            f.write(line)
            offset += len(line.encode())
    hv, doc = shingle_hashes(pa.array(rows, pa.large_string()), 5)
    sets = [set(hv[doc == i].tolist()) for i in range(len(rows))]
    truth = [(lines[a], lines[b], len(sets[a] & sets[b]) / len(sets[a] | sets[b])) for a, b in pairs]
    return folder, truth


def clusters(out: Path) -> dict[str, str]:
    """source -> representative id (documents outside clusters map to their own id)."""
    kept = read_table(str(out / "data"), columns=["id", "source", "dup_cluster"])
    removed = (read_table(str(out / "removed"), columns=["id", "source", "dup_cluster"]) if (out / "removed").exists()
               else kept.slice(0, 0))
    table = pa.concat_tables([kept, removed])
    return {s: (c or i) for s, c, i in zip(table.column("source").to_pylist(), table.column("dup_cluster").to_pylist(),
                                           table.column("id").to_pylist())}


@pytest.mark.parametrize("verify,partitions", [(False, None), (True, None), (True, 3)])
def test_recall_and_precision_on_planted_near_duplicates(tmp_path: Path, client, verify, partitions):
    folder, truth = planted(tmp_path)
    out = tmp_path / "out"
    stage = MinHashDedup(threshold=0.8, verify=verify, partitions=partitions)
    stats = Pipeline(input={"path": str(folder), "format": "jsonl", "shard_size": "64KB"}, output=str(out),
                     stages=[stage]).run(client=client).stats
    cluster_of = clusters(out)
    high = [(a, b) for a, b, j in truth if j >= 0.85]
    low = [(a, b) for a, b, j in truth if j < 0.65]
    assert len(high) > 100 and len(low) > 50
    recall = sum(cluster_of[a] == cluster_of[b] for a, b in high) / len(high)
    false_merge = sum(cluster_of[a] == cluster_of[b] for a, b in low) / len(low)
    assert recall >= 0.95
    assert false_merge <= (0.0 if verify else 0.05)
    assert stats["stages"][0]["removed"]["minhash_dedup:near_duplicate"] > 0
    removed = read_table(str(out / "removed"))
    assert all(r["duplicate_of"] == r["dup_cluster"] and r["duplicate_of"] < r["id"] for r in removed.to_pylist())


def test_same_removed_set_with_workers_and_shardings(tmp_path: Path):
    folder, _ = planted(tmp_path, bases=20)
    removed_sets, data = [], []
    for workers, shard_size, partitions in ((1, "32KB", None), (2, "32KB", None), (2, "200KB", None), (2, "32KB", 4)):
        out = tmp_path / f"o-{workers}-{shard_size}-{partitions}"
        Pipeline(input={"path": str(folder), "format": "jsonl", "shard_size": shard_size}, output=str(out),
                 stages=[MinHashDedup(bands=14, rows=8, partitions=partitions)]).run(workers=workers)
        removed = read_table(str(out / "removed"), columns=["id", "duplicate_of"])
        removed_sets.append(sorted(zip(removed.column("id").to_pylist(), removed.column("duplicate_of").to_pylist())))
        data.append(output_bytes(out))
    assert removed_sets[0] == removed_sets[1] == removed_sets[2] == removed_sets[3] and len(removed_sets[0]) > 20
    assert data[0] == data[1]  # same sharding: byte-identical whatever the workers ...
    def outputs(files: dict[str, bytes]) -> dict[str, bytes]:
        return {k: v for k, v in files.items() if not k.startswith("stages/")}

    assert outputs(data[0]) == outputs(data[3])  # ... and the partitions (only working files differ)


def test_empty_one_word_and_very_long_documents(tmp_path: Path, client):
    folder = tmp_path / "in"
    folder.mkdir()
    long_text = " ".join(f"token{i}" for i in range(200_000))
    texts = ["", "", "word", "word", "other", long_text, long_text + " tail", "   "]
    (folder / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp_path / "out"
    Pipeline(input={"path": str(folder), "format": "jsonl"}, output=str(out),
             stages=[MinHashDedup(threshold=0.8)]).run(client=client)
    kept = read_table(str(out / "data")).column("text").to_pylist()
    removed = read_table(str(out / "removed")).column("text").to_pylist()
    assert kept.count("") == 2 and "   " in kept  # no text: never a duplicate
    assert sorted(removed) == sorted(["word", long_text + " tail"]) or sorted(removed) == sorted(["word", long_text])
    assert "other" in kept


def test_a_leading_dedup_reads_the_input_twice_instead_of_copying_it(tmp_path: Path, client, monkeypatch):
    """minhash_dedup first on JSONL: no stages/input copy is written; the output, the removal
    reasons and the ledger (bad lines counted once) are those of the copying plan."""
    import dataprep.engine.plan as plan

    folder, _ = planted(tmp_path, bases=10)
    with open(folder / "docs.jsonl", "ab") as f:
        f.write(b"{not json\n")
    runs = {}
    for name, formats in (("reread", plan.REREAD_FORMATS), ("copy", ())):
        monkeypatch.setattr(plan, "REREAD_FORMATS", formats)
        out = tmp_path / name
        stats = Pipeline(input={"path": str(folder), "format": "jsonl", "shard_size": "32KB"}, output=str(out),
                         stages=[MinHashDedup(bands=14, rows=8)]).run(client=client).stats
        files = sorted(str(p.relative_to(out)) for p in out.rglob("*.parquet"))
        rows = {sub: read_table(str(out / sub)).to_pylist() for sub in ("data", "removed", "quarantine")}
        runs[name] = (stats, rows, files)
    (reread_stats, reread_rows, reread_files), (copy_stats, copy_rows, copy_files) = runs["reread"], runs["copy"]
    assert not any(p.startswith("stages/input/") for p in reread_files)
    assert any(p.startswith("stages/input/") for p in copy_files)
    assert reread_rows == copy_rows and len(reread_rows["removed"]) > 0
    def without_seconds(d: dict) -> dict:
        return {k: v for k, v in d.items() if k not in ("seconds", "seconds_per_mb")}

    assert without_seconds(reread_stats["input"]) == without_seconds(copy_stats["input"])
    assert [without_seconds(s) for s in reread_stats["stages"]] == [without_seconds(s) for s in copy_stats["stages"]]
    assert reread_stats["input"]["quarantined"] == {"invalid_json": 1}
