"""minhash_dedup against datatrove's four-step MinHash pipeline and datasketch's MinHashLSH as a
streaming filter: same documents, 5-word shingles, 14 bands x 8 rows, one worker each.

Documents: the core benchmark's real corpus (Debian python3.11-doc, main content), cut into
documents of at least 100 words at line boundaries, plus planted near duplicates: 10% of the
documents copied with 2% of their words replaced, and 3% copied exactly.  Every method sees
the documents in id order; kept sets are compared document by document.

    .venv/bin/python benchmarks/minhash.py
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK  # noqa: E402
from peers import run_peer  # noqa: E402
from quality_vs_datatrove import extracted_text  # noqa: E402


def documents(min_words: int = 100, seed: int = 0) -> list[dict]:
    from dataprep.inspection import read_table
    from dataprep.schema import document_id

    table = read_table(str(extracted_text(1) / "data"), columns=["text", "source"])
    docs = []
    for text, source in zip(table.column("text").to_pylist(), table.column("source").to_pylist()):
        chunk: list[str] = []
        for line in text.splitlines():
            chunk.append(line)
            if sum(len(x.split()) for x in chunk) >= min_words:
                docs.append({"id": document_id(f"{source}:{len(docs)}"), "text": "\n".join(chunk)})
                chunk = []
    rng = random.Random(seed)
    originals = list(docs)
    for i, doc in enumerate(rng.sample(originals, len(originals) // 10)):
        words = doc["text"].split(" ")
        for pos in rng.sample(range(len(words)), max(1, len(words) // 50)):
            words[pos] = rng.choice(words)
        docs.append({"id": document_id(f"near:{i}"), "text": " ".join(words)})
    for i, doc in enumerate(rng.sample(originals, len(originals) * 3 // 100)):
        docs.append({"id": document_id(f"copy:{i}"), "text": doc["text"]})
    return sorted(docs, key=lambda d: d["id"])


def main() -> None:
    docs = documents()
    folder = WORK / "minhash-input"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docs.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    recipe = WORK / "minhash.yaml"
    out = WORK / "minhash-out"
    recipe.write_text(yaml.safe_dump({
        "name": "bench-minhash", "input": {"path": str(path), "format": "jsonl", "id_field": "id", "shard_size": "4MB"},
        "output": {"path": str(out)}, "executor": {"workers": 1},
        "stages": [{"minhash_dedup": {"ngram": 5, "bands": 14, "rows": 8}}]}))
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "dataprep"), "run", str(recipe), "--overwrite"], check=True,
                   stdout=subprocess.DEVNULL)
    ours_s = time.perf_counter() - t0
    from dataprep.inspection import read_table

    ours = set(read_table(str(out / "data"), columns=["id"]).column("id").to_pylist())
    peers = run_peer("minhash_peers.py", str(path))
    ids = [d["id"] for d in docs]
    print(f"documents: {len(docs)} (python3.11-doc chunks + {len(docs) - len(docs) * 100 // 113} planted copies, "
          f"{sum(len(d['text']) for d in docs) / 1e6:.1f} MB); 5-word shingles, 14 bands x 8 rows, one worker")
    print(f"{'method':34} {'seconds':>8} {'docs/s':>8} {'kept':>6} {'agree w/ ours':>14} {'ours faster':>12}")
    rows = [("dataprep minhash_dedup (dataprep run)", ours_s, ours)]
    rows += [(f"{name}", peers[name]["seconds"], set(peers[name]["kept"])) for name in ("datatrove", "datasketch")]
    for name, seconds, kept in rows:
        agree = sum((i in kept) == (i in ours) for i in ids) / len(ids)
        print(f"{name:34} {seconds:8.2f} {len(ids) / seconds:8.0f} {len(kept):6d} {agree:14.4f} {seconds / ours_s:11.1f}x")


if __name__ == "__main__":
    main()
