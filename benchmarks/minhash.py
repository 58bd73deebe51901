"""minhash_dedup against datatrove's four-step MinHash pipeline and datasketch's MinHashLSH as a
streaming filter: same documents, 5-word shingles, 14 bands x 8 rows, one worker each.

Every method runs as a whole process (``dataprep run``; the peers' scripts in their own
environment), timed from start to the kept ids on disk, on all documents and on 200 of them
(a random sample with ten planted clusters, so that every code path runs in both): the
difference gives each method's throughput once started (start-up costs cancel).
Methods take turns, ``--repeat`` rounds; the table shows the fastest run of each, and since
the machine's speed drifts, the ratios are also given from the median times and as the median
of each round's own ratios.

Documents: the core benchmark's real corpus (Debian python3.11-doc, main content), cut into
documents of at least 100 words at line boundaries, plus planted near duplicates: 10% of the
documents copied with 2% of their words replaced, and 3% copied exactly.  Every method sees
the documents in id order; kept sets are compared document by document.

    .venv/bin/python benchmarks/minhash.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK
from peers import peer_python
from quality_vs_datatrove import extracted_text


def documents(min_words: int = 100, seed: int = 0) -> list[dict]:
    """The benchmark's documents in id order; planted copies carry ``of``: the id of their original."""
    from dataprep.report.inspection import read_table
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
        docs.append({"id": document_id(f"near:{i}"), "text": " ".join(words), "of": doc["id"]})
    for i, doc in enumerate(rng.sample(originals, len(originals) * 3 // 100)):
        docs.append({"id": document_id(f"copy:{i}"), "text": doc["text"], "of": doc["id"]})
    return sorted(docs, key=lambda d: d["id"])


def start_sample(docs: list[dict], n: int = 200) -> list[dict]:
    """``n`` documents that take every code path the whole set takes (so that start-up costs
    cancel in the difference): the first documents in id order (a random sample) and, for
    the first ten of them that have planted copies, those copies; in id order."""
    copies: dict[str, list[dict]] = {}
    for d in docs:
        if "of" in d:
            copies.setdefault(d["of"], []).append(d)
    originals = [d for d in docs if "of" not in d]
    planted = [c for d in [d for d in originals if d["id"] in copies][:10] for c in [d, *copies[d["id"]]]]
    chosen = {d["id"] for d in planted}
    rest = [d for d in originals if d["id"] not in chosen][: n - len(planted)]
    return sorted(planted + rest, key=lambda d: d["id"])


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def _ours(path: Path, tag: str, processes: bool | str) -> tuple[list[str], float]:
    from dataprep.report.inspection import read_table

    recipe, out = WORK / f"minhash-{tag}.yaml", WORK / f"minhash-out-{tag}"
    recipe.write_text(yaml.safe_dump({
        "name": "bench-minhash", "input": {"path": str(path), "format": "jsonl", "id_field": "id", "shard_size": "4MB"},
        "output": {"path": str(out)}, "executor": {"workers": 1, "processes": processes},
        "stages": [{"minhash_dedup": {"ngram": 5, "bands": 14, "rows": 8}}]}))
    seconds = _timed([str(Path(sys.executable).parent / "dataprep"), "run", str(recipe), "--overwrite"])
    return read_table(str(out / "data"), columns=["id"]).column("id").to_pylist(), seconds


def _peer(method: str, path: Path) -> tuple[list[str], float]:
    out = WORK / f"minhash-{method}.json"
    script = Path(__file__).resolve().parent / "peer_scripts" / "minhash_peers.py"
    seconds = _timed([str(peer_python()), str(script), str(out), method, str(path)])
    return json.loads(out.read_text())["kept"], seconds


def sized_inputs(docs: list[dict], prefix: str) -> dict[str, Path]:
    """JSONL of the start-up sample ("start") and of every document ("all"), for whole-process
    timings whose difference cancels start-up costs."""
    paths = {}
    for size, part in {"start": start_sample(docs), "all": docs}.items():
        folder = WORK / f"{prefix}-input-{size}"
        folder.mkdir(parents=True, exist_ok=True)
        paths[size] = folder / "docs.jsonl"
        paths[size].write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in part))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="rounds: runs of every method at every size")
    args = parser.parse_args()
    docs = documents()
    paths = sized_inputs(docs, "minhash")
    methods = {
        "dataprep (1 worker, in-process)": lambda path, size: _ours(path, f"threads-{size}", "auto"),
        "dataprep (1 worker process)": lambda path, size: _ours(path, f"process-{size}", True),
        "datatrove 4-step": lambda path, size: _peer("datatrove", path),
        "datasketch MinHashLSH": lambda path, size: _peer("datasketch", path),
    }
    rounds: list[dict[tuple[str, str], float]] = []
    kept: dict[str, set[str]] = {}
    for _ in range(args.repeat):
        rounds.append({})
        for (name, run), (size, path) in itertools.product(methods.items(), paths.items()):
            ids, rounds[-1][name, size] = run(path, size)
            if size == "all":
                kept[name] = set(ids)
    seconds = {key: min(r[key] for r in rounds) for key in rounds[0]}
    ours = next(iter(methods))
    ids = [d["id"] for d in docs]
    n_all, n_start = len(docs), len(start_sample(docs))
    print(f"documents: {n_all} (python3.11-doc chunks + {n_all - n_all * 100 // 113} planted copies, "
          f"{sum(len(d['text']) for d in docs) / 1e6:.1f} MB); 5-word shingles, 14 bands x 8 rows, one worker; "
          f"every method a whole process (start-up, reading, writing included), fastest of {args.repeat}")
    print(f"\n{'method':34} {'s (all)':>8} {'s (200)':>8} {'docs/s':>8} {'net docs/s':>10} {'kept':>6} "
          f"{'agree':>7} {'ours faster':>11} {'net':>6}")
    net = {name: (n_all - n_start) / max(seconds[name, "all"] - seconds[name, "start"], 1e-9) for name in methods}
    for name in methods:
        agree = sum((i in kept[name]) == (i in kept[ours]) for i in ids) / len(ids)
        print(f"{name:34} {seconds[name, 'all']:8.2f} {seconds[name, 'start']:8.2f} "
              f"{n_all / seconds[name, 'all']:8.0f} {net[name]:10.0f} {len(kept[name]):6d} {agree:7.4f} "
              f"{seconds[name, 'all'] / seconds[ours, 'all']:10.1f}x "
              f"{net[ours] / net[name]:5.1f}x")
    print("\ndocs/s: all documents / wall time.  net docs/s: the throughput once started, "
          f"({n_all} - {n_start}) / (s(all) - s(200)): start-up costs cancel.")
    print("\nThe machine's speed drifts between rounds, so the ratios are also given from the median times of the "
          "rounds, and as the median of each round's own ratios (methods run back to back in a round).")
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    for peer, target in (("datatrove 4-step", 20), ("datasketch MinHashLSH", 3)):
        paired = statistics.median((r[peer, "all"] - r[peer, "start"]) / (r[ours, "all"] - r[ours, "start"])
                                   for r in rounds if r[ours, "all"] > r[ours, "start"])
        net_ratio = (median[peer, "all"] - median[peer, "start"]) / (median[ours, "all"] - median[ours, "start"])
        print(f"target {target}x {peer}: end to end {seconds[peer, 'all'] / seconds[ours, 'all']:.1f}x fastest, "
              f"{median[peer, 'all'] / median[ours, 'all']:.1f}x median; net throughput {net[ours] / net[peer]:.1f}x "
              f"fastest, {net_ratio:.1f}x "
              f"median, {paired:.1f}x median of the rounds' own")


if __name__ == "__main__":
    main()
