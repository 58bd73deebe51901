"""decontaminate and dedup_paragraphs against a plain Python loop doing the same and against
datatrove's n-gram decontamination and sentence dedup: same documents, one core each.

Documents: the MinHash benchmark's (Debian python3.11-doc, main content, cut into documents
of at least 100 words at line boundaries, plus 13% planted copies, so lines repeat).

**decontaminate** (13-grams): the evaluation set quotes 300 documents (40 consecutive words each)
and is filled with random 120-word records up to ``--ngrams`` distinct 13-grams (1M by default).
Timed in this process, index and lookup apart, on the same documents in memory: our stage
(``setup`` builds the sorted array, ``process`` on batches of 512), a Python loop (a ``set`` of
the n-grams' ``hash``, words found by the same rule), and datatrove's ``NGramsDecontFilter`` (in
its own environment).  Then whole ``dataprep run`` processes (one worker) without the stage,
with it and a 300-record set, and with it and the full set: the cost of a large reference.

**dedup_paragraphs** (``unit: line``, the first occurrence kept), first the stage itself in
this process, on the same documents in memory (batches of 512, as a run reads them): our
``summarize`` of every batch, the grouping of one exchange partition and ``apply``, against the
plain loop on the same Python strings.  Then whole processes on all
documents and on 200 of them, as the MinHash benchmark does, so start-up costs cancel in the
net throughput: ``dataprep run`` (one worker), a Python script with a ``dict`` of normalised
line -> first occurrence (two passes, JSONL in and out), and datatrove's three-step sentence
dedup on lines, one at a time (``n_sentences: 1, split_sentences: false``).

    .venv/bin/python benchmarks/decontam_paragraphs.py [--repeat 2] [--ngrams 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK
from minhash import _timed, documents, sized_inputs, start_sample
from peers import peer_python

NGRAM = 13
WORD = re.compile(r"[^\W_]+")  # letters, digits and marks: the stage's words


def eval_set(docs: list[dict], ngrams: int, path: Path, planted: int = 300, seed: int = 3) -> Path:
    """Quotes of ``planted`` documents, then random records up to ``ngrams`` 13-grams."""
    rng = random.Random(seed)
    records = []
    for doc in rng.sample([d for d in docs if "of" not in d], planted):
        words = doc["text"].split()
        start = rng.randrange(max(len(words) - 40, 1))
        records.append({"text": " ".join(words[start:start + 40])})
    vocab = [f"{rng.choice('bcdfgklmnprst')}{rng.choice('aeiou')}{i:x}" for i in range(50_000)]
    per_record = 120 - NGRAM + 1
    for _ in range(max(ngrams - planted * 28, 0) // per_record):
        records.append({"text": " ".join(rng.choice(vocab) for _ in range(120))})
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _words(text: str) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFC", text).lower())


def python_decontaminate(eval_path: Path, docs: list[dict]) -> tuple[list[str], float, float]:
    """The plain loop: a set of n-gram hashes, then every window of every document."""
    t0 = time.perf_counter()
    index = set()
    for line in eval_path.open():
        words = _words(json.loads(line)["text"])
        index.update(hash(" ".join(words[i:i + NGRAM])) for i in range(len(words) - NGRAM + 1))
    index_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    removed = []
    for doc in docs:
        words = _words(doc["text"])
        if any(hash(" ".join(words[i:i + NGRAM])) in index for i in range(len(words) - NGRAM + 1)):
            removed.append(doc["id"])
    return removed, index_s, time.perf_counter() - t0


def ours_decontaminate(eval_path: Path, docs: list[dict]) -> tuple[list[str], float, float]:
    import pyarrow as pa

    from dataprep.schema import DOCUMENT_SCHEMA
    from dataprep.transforms.decontaminate import Decontaminate

    stage = Decontaminate(benchmarks={"bench": str(eval_path)}, ngram=NGRAM)
    t0 = time.perf_counter()
    stage.ensure_setup()
    index_s = time.perf_counter() - t0
    batches = [pa.table({"id": [d["id"] for d in docs[i:i + 512]],
                         "text": pa.array([d["text"] for d in docs[i:i + 512]], pa.large_string()),
                         "source": [d["id"] for d in docs[i:i + 512]]}, schema=DOCUMENT_SCHEMA)
               for i in range(0, len(docs), 512)]
    t0 = time.perf_counter()
    removed = []
    for batch in batches:
        out = stage.process(batch)
        if out.removed is not None:
            removed += out.removed.column("id").to_pylist()
    return removed, index_s, time.perf_counter() - t0


def datatrove_decontaminate(eval_path: Path, docs_path: Path) -> tuple[list[str], float, float]:
    out = WORK / "decont-datatrove.json"
    script = Path(__file__).resolve().parent / "peer_scripts" / "decontam_paragraphs_peers.py"
    _timed([str(peer_python()), str(script), str(out), "decont", str(eval_path), str(docs_path), str(NGRAM)])
    data = json.loads(out.read_text())
    return data["removed"], data["index_s"], data["filter_s"]


def _run_ours(path: Path, tag: str, stages: list[dict]) -> tuple[Path, float]:
    recipe, out = WORK / f"dp-{tag}.yaml", WORK / f"dp-out-{tag}"
    recipe.write_text(yaml.safe_dump({
        "name": "bench-dp", "input": {"path": str(path), "format": "jsonl", "id_field": "id", "shard_size": "4MB"},
        "output": {"path": str(out)}, "executor": {"workers": 1}, "stages": stages}))
    return out, _timed([str(Path(sys.executable).parent / "dataprep"), "run", str(recipe), "--overwrite"])


def _normal(line: str) -> str:
    return " ".join(unicodedata.normalize("NFC", line).lower().split())


def python_line_dedup(src: str, dst: str) -> None:
    """The plain script: pass 1 records each normalised line's first (document, line); pass 2
    keeps only those (the input is in id order, so first = smallest id, as the stage's rule)."""
    first: dict[str, tuple[int, int]] = {}
    with open(src) as f:
        for d, raw in enumerate(f):
            for i, line in enumerate(json.loads(raw)["text"].split("\n")):
                key = _normal(line)
                if key and key not in first:
                    first[key] = (d, i)
    with open(src) as f, open(dst, "w") as out:
        for d, raw in enumerate(f):
            doc = json.loads(raw)
            lines = doc["text"].split("\n")
            kept = [line for i, line in enumerate(lines) if not (k := _normal(line)) or first[k] == (d, i)]
            text = "\n".join(kept)
            if text:
                out.write(json.dumps({"id": doc["id"], "text": text}) + "\n")


def _lines_kept_ours(out: Path) -> int:
    from dataprep.report.inspection import read_table

    texts = read_table(str(out / "data"), columns=["text"]).column("text").to_pylist()
    return sum(t.count("\n") + 1 for t in texts)


def decontamination(docs: list[dict], docs_path: Path, ngrams: int, repeat: int) -> None:
    full = eval_set(docs, ngrams, WORK / "decont-eval-full.jsonl")
    small = eval_set(docs, 0, WORK / "decont-eval-small.jsonl")
    methods = {"dataprep decontaminate": lambda p: ours_decontaminate(p, docs),
               "Python loop (set of hashes)": lambda p: python_decontaminate(p, docs),
               "datatrove NGramsDecontFilter": lambda p: datatrove_decontaminate(p, docs_path)}
    runs: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    removed: dict[str, set[str]] = {}
    for _ in range(repeat):
        for name, run in methods.items():
            ids, index_s, filter_s = run(full)
            runs[name].append((index_s, filter_s))
            removed[name] = set(ids)
    ours = next(iter(methods))
    mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    print(f"\n## decontaminate: {len(docs)} documents ({mb:.1f} MB), {NGRAM}-grams, evaluation set of "
          f"{sum(1 for _ in full.open())} records (~{ngrams / 1e6:.1f}M n-grams); one core; fastest of {repeat}\n")
    print(f"{'method':30} {'index s':>8} {'lookup s':>9} {'docs/s':>8} {'MB/s':>6} {'removed':>8} {'agree':>7} "
          f"{'ours faster':>11}")
    best = {m: (min(r[0] for r in runs[m]), min(r[1] for r in runs[m])) for m in methods}
    ids = [d["id"] for d in docs]
    for name in methods:
        agree = sum((i in removed[name]) == (i in removed[ours]) for i in ids) / len(ids)
        print(f"{name:30} {best[name][0]:8.2f} {best[name][1]:9.2f} {len(docs) / best[name][1]:8.0f} "
              f"{mb / best[name][1]:6.1f} {len(removed[name]):8d} {agree:7.4f} {best[name][1] / best[ours][1]:10.1f}x")
    for peer, target in (("Python loop (set of hashes)", 5), ("datatrove NGramsDecontFilter", 3)):
        paired = statistics.median(p[1] / o[1] for p, o in zip(runs[peer], runs[ours]))
        print(f"target {target}x {peer}: {best[peer][1] / best[ours][1]:.1f}x fastest, {paired:.1f}x median of rounds")

    _run_ours(docs_path, "none", [])  # warm the file cache
    seconds = {"no stage": [], "300-record set": [], "full set": []}
    for _ in range(repeat):
        seconds["no stage"].append(_run_ours(docs_path, "none", [])[1])
        for label, path in (("300-record set", small), ("full set", full)):
            stage = {"decontaminate": {"benchmarks": {"bench": str(path)}, "ngram": NGRAM}}
            seconds[label].append(_run_ours(docs_path, label.split()[0], [stage])[1])
    fastest = {k: min(v) for k, v in seconds.items()}
    print("\nwhole `dataprep run` processes, one worker (index built once per run, memory-mapped by the worker):")
    for label, s in fastest.items():
        print(f"  {label:16} {s:6.2f} s  ({s / fastest['no stage']:.2f}x the run without the stage, "
              f"{s / fastest['300-record set']:.2f}x the run with the small set)")
    print(f"target <= 2x: the full set's run is {fastest['full set'] / fastest['no stage']:.2f}x the run without "
          f"the stage")


def python_line_dedup_in_memory(docs: list[dict]) -> list[str]:
    """The plain loop on documents in memory (in id order): first occurrences, then the texts."""
    first: dict[str, tuple[int, int]] = {}
    for d, doc in enumerate(docs):
        for i, line in enumerate(doc["text"].split("\n")):
            key = _normal(line)
            if key and key not in first:
                first[key] = (d, i)
    out = []
    for d, doc in enumerate(docs):
        lines = doc["text"].split("\n")
        text = "\n".join(line for i, line in enumerate(lines) if not (k := _normal(line)) or first[k] == (d, i))
        if text:
            out.append(text)
    return out


def ours_line_dedup_in_memory(batches: list) -> list[str]:
    """Our stage's three steps on batches in memory: every batch summarised, the hashes grouped
    (one partition), each batch's cuts applied."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from dataprep.schema import ID
    from dataprep.transforms.dedup_paragraphs import DedupParagraphs, _cuts

    stage = DedupParagraphs(unit="line")
    summaries = []
    for k, batch in enumerate(batches):  # each batch a shard, its column added as the engine adds it
        summary = stage.summarize(batch)
        summaries.append(summary.append_column("shard", pa.repeat(pa.scalar(f"{k:05d}"), summary.num_rows)))
    cuts = _cuts(pa.concat_tables(summaries), 0, None)
    cuts = cuts.take(pc.sort_indices(cuts, [("shard", "ascending")]))  # the cuts of a shard: one slice, as its file
    bounds = np.searchsorted(cuts.column("shard").to_numpy(), [f"{k:05d}" for k in range(len(batches) + 1)])
    out = []
    for k, batch in enumerate(batches):
        state = cuts.slice(bounds[k], bounds[k + 1] - bounds[k]).select([ID, "unit"])
        out += stage.apply(batch, state).kept.column("text").to_pylist()
    return out


def paragraph_dedup_in_process(docs: list[dict], repeat: int) -> None:
    import pyarrow as pa

    from dataprep.schema import DOCUMENT_SCHEMA

    ordered = sorted(docs, key=lambda d: d["id"])
    batches = [pa.table({"id": [d["id"] for d in ordered[i:i + 512]],
                         "text": pa.array([d["text"] for d in ordered[i:i + 512]], pa.large_string()),
                         "source": [d["id"] for d in ordered[i:i + 512]]}, schema=DOCUMENT_SCHEMA)
               for i in range(0, len(ordered), 512)]
    methods = {"dataprep dedup_paragraphs": lambda: ours_line_dedup_in_memory(batches),
               "Python loop (dict of lines)": lambda: python_line_dedup_in_memory(ordered)}
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    kept: dict[str, int] = {}
    for _ in range(repeat):
        for name, run in methods.items():
            t0 = time.perf_counter()
            texts = run()
            seconds[name].append(time.perf_counter() - t0)
            kept[name] = sum(t.count("\n") + 1 for t in texts)
    mb = sum(len(d["text"].encode()) for d in docs) / 1e6
    ours, loop = methods
    print(f"\n## dedup_paragraphs (unit: line), the stage in this process: {len(docs)} documents ({mb:.1f} MB) in "
          f"memory; one core; fastest of {repeat}\n")
    print(f"{'method':30} {'s':>7} {'MB/s':>6} {'lines kept':>10} {'ours faster':>11}")
    for m in methods:
        print(f"{m:30} {min(seconds[m]):7.3f} {mb / min(seconds[m]):6.1f} {kept[m]:10d} "
              f"{min(seconds[m]) / min(seconds[ours]):10.1f}x")
    paired = statistics.median(p / o for p, o in zip(seconds[loop], seconds[ours]))
    print(f"target 5x {loop}: {min(seconds[loop]) / min(seconds[ours]):.1f}x fastest, {paired:.1f}x median of rounds")


def paragraph_dedup(docs: list[dict], repeat: int) -> None:
    paths = sized_inputs(docs, "dp")
    script = Path(__file__).resolve().parent / "peer_scripts" / "decontam_paragraphs_peers.py"
    lines: dict[str, int] = {}

    def ours(size: str) -> float:
        out, s = _run_ours(paths[size], f"lines-{size}", [{"dedup_paragraphs": {"unit": "line"}}])
        if size == "all":
            lines["dataprep dedup_paragraphs"] = _lines_kept_ours(out)
        return s

    def loop(size: str) -> float:
        dst = WORK / f"dp-python-{size}.jsonl"
        s = _timed([sys.executable, __file__, "--python-line-dedup", str(paths[size]), str(dst)])
        if size == "all":
            lines["Python loop (dict of lines)"] = sum(json.loads(r)["text"].count("\n") + 1 for r in dst.open())
        return s

    def datatrove(size: str) -> float:
        out = WORK / "dp-datatrove.json"
        s = _timed([str(peer_python()), str(script), str(out), "sentdedup", str(paths[size])])
        if size == "all":
            lines["datatrove sentence dedup"] = json.loads(out.read_text())["lines"]
        return s

    methods = {"dataprep dedup_paragraphs": ours, "Python loop (dict of lines)": loop,
               "datatrove sentence dedup": datatrove}
    rounds = []
    for _ in range(repeat):
        rounds.append({(name, size): run(size) for name, run in methods.items() for size in paths})
    seconds = {key: min(r[key] for r in rounds) for key in rounds[0]}
    n_all, n_start = len(docs), len(start_sample(docs))
    net = {m: (n_all - n_start) / max(seconds[m, "all"] - seconds[m, "start"], 1e-9) for m in methods}
    ours_name = next(iter(methods))
    total_lines = sum(d["text"].count("\n") + 1 for d in docs)
    print(f"\n## dedup_paragraphs (unit: line): {n_all} documents, {total_lines} lines; whole processes, one core; "
          f"fastest of {repeat}\n")
    print(f"{'method':30} {'s (all)':>8} {'s (200)':>8} {'net docs/s':>10} {'lines kept':>10} {'ours faster':>11}")
    for m in methods:
        print(f"{m:30} {seconds[m, 'all']:8.2f} {seconds[m, 'start']:8.2f} {net[m]:10.0f} {lines[m]:10d} "
              f"{net[ours_name] / net[m]:10.1f}x")
    for peer, target in (("Python loop (dict of lines)", 5), ("datatrove sentence dedup", 3)):
        paired = statistics.median((r[peer, "all"] - r[peer, "start"]) / (r[ours_name, "all"] - r[ours_name, "start"])
                                   for r in rounds)
        print(f"target {target}x {peer}: net {net[ours_name] / net[peer]:.1f}x fastest, {paired:.1f}x median of rounds")
    print("(lines kept: the Python loop applies the stage's rule and must agree exactly; datatrove normalises lines "
          "its own way)")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--python-line-dedup":
        python_line_dedup(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="rounds of every method")
    parser.add_argument("--ngrams", type=int, default=1_000_000, help="13-grams of the evaluation set")
    parser.add_argument("--only", choices=["decontaminate", "paragraphs"], help="run one half")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    docs = documents()
    docs_path = WORK / "dp-docs.jsonl"
    docs_path.write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in docs))
    if args.only != "paragraphs":
        decontamination(docs, docs_path, args.ngrams, args.repeat)
    if args.only != "decontaminate":
        paragraph_dedup_in_process(docs, max(args.repeat, 3))
        paragraph_dedup(docs, args.repeat)


if __name__ == "__main__":
    main()
