"""Peak memory per worker and wall time as the corpus grows: the real corpus 1x, 4x and 16x.

The corpus is Debian's ``python3.11-doc`` HTML (530 pages, 50 MB), replicated side by side
(hard links under other paths, so every copy has its own ids: the copies are exact
duplicates, which dedup then removes -- the worst case for the near-duplicate stage, whose
clusters grow with the number of copies).  The full recipe (extract, langid, quality,
minhash_dedup, shuffle, tokenize with a trained BPE) runs on a fresh 2-worker LocalCluster per
size, started as `dataprep run` starts it; each worker's peak RSS is its kernel high-water mark
(``VmHWM``), read at the end.

    .venv/bin/python benchmarks/memory_scaling.py [--copies 1,4,16] [--shard-size 16MB]

Targets: peak RSS at 16x at most 1.3x that at 1x; wall time no faster than linear growth.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK, corpus_stats, debian_html_corpus, replicated


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_once(folder: Path, out: Path, shard_size: str, memory_limit: str) -> tuple[float, list[float], dict]:
    from dataprep.config.recipe import ExecutorSpec
    from dataprep.engine.executor import dask_client
    from dataprep.engine.pipeline import Pipeline

    stages = [{"extract": {}}, {"langid": {"keep": ["en"], "min_score": 0.5}}, {"quality": {"preset": "fineweb"}},
              {"minhash_dedup": {"ngram": 5, "bands": 14, "rows": 8}}, {"shuffle": {"seed": 1}},
              {"tokenize": {"train": {"vocab_size": 8000, "sample_docs": 2000}}}]
    shutil.rmtree(out, ignore_errors=True)
    spec = ExecutorSpec(workers=2, threads_per_worker=1, memory_limit=memory_limit, processes=True)
    with dask_client(spec) as client:
        pipeline = Pipeline(input={"path": str(folder / "**" / "*.html"), "format": "html", "shard_size": shard_size},
                            output=str(out), stages=stages, seed=1)
        t0 = time.perf_counter()
        result = pipeline.run(client=client)
        wall = time.perf_counter() - t0
        peaks = sorted(client.run(_peak_rss_mb).values())
    return wall, peaks, result.stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", default="1,4,16")
    parser.add_argument("--shard-size", default="16MB")
    parser.add_argument("--memory-limit", default="4GB", help="per worker (Dask spills and pauses above it)")
    args = parser.parse_args()
    base = debian_html_corpus()
    rows = []
    for copies in [int(c) for c in args.copies.split(",")]:
        folder = replicated(base, copies)
        pages, size = corpus_stats(folder)
        wall, peaks, stats = run_once(folder, WORK / f"memory-x{copies}", args.shard_size, args.memory_limit)
        rows.append((copies, pages, size, wall, peaks, stats["output"]["docs"]))
        print(f"  x{copies}: {wall:.1f} s, peak RSS {peaks}", file=sys.stderr)
    c1, _, _, w1, p1, _ = rows[0]
    print(f"\nshard_size {args.shard_size}, 2 workers x 1 thread, memory_limit {args.memory_limit}")
    print(f"{'copies':>6s} {'pages':>7s} {'MB':>7s} {'kept':>6s} {'wall s':>8s} {'s/copy':>7s} {'wall / linear':>14s} "
          f"{'peak RSS per worker (MB)':>26s} {'max x 1x':>9s}")
    for copies, pages, size, wall, peaks, kept in rows:
        linear = w1 * copies / c1
        print(f"{copies:6d} {pages:7d} {size / 1e6:7.0f} {kept:6d} {wall:8.1f} {wall / copies:7.2f} "
              f"{wall / linear:14.2f} "
              f"{' / '.join(f'{p:.0f}' for p in peaks):>26s} {max(peaks) / max(p1):9.2f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
