"""extract + langid: `dataprep run` with one worker against a plain loop over the same files.

The plain loop is what a user would write by hand in one process: read each file, decode it,
extract the main content with resiliparse, predict its language with fastText.  The pipeline
is the real CLI (a LocalCluster with one worker, Parquet output, removed/ and stats, ledger
check).  Both run on one core, as whole processes: end to end is each process's wall time,
start-up included (the loop's imports and model load, our CLI, cluster and output), and
processing is the loop's own loop against the time our worker spent reading, extracting and
identifying (from stats.json).  Each of ours is compared with the loop's figure of the same
kind, with extraction in its sandboxed child process (the default) and in the worker
(``timeout_s: null``), to show what the child costs.  Since the machine's speed drifts, the
end-to-end ratios are also given as the median of each round's own ratio (the loop and ours
run back to back in every round).

    .venv/bin/python benchmarks/extract_langid.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK, corpus_stats, debian_html_corpus, replicated

REPO = Path(__file__).resolve().parent.parent


def direct_loop_process(folder: Path) -> tuple[float, float, int]:
    """The loop as its own process: (wall seconds, loop seconds, pages kept)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--loop", str(folder)], check=True, capture_output=True,
                          text=True)
    wall = time.perf_counter() - t0
    loop_s, kept = done.stdout.split()
    return wall, float(loop_s), int(kept)


def direct_loop(folder: Path) -> tuple[float, int]:
    import fasttext
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    from dataprep.transforms.langid import default_model_path

    fasttext.FastText.eprint = lambda *a, **k: None
    model = fasttext.load_model(default_model_path())
    t0 = time.perf_counter()
    kept = 0
    for path in sorted(folder.rglob("*.html")):
        data = path.read_bytes()
        html = bytes_to_str(data, detect_encoding(data))
        text = extract_plain_text(html, main_content=True, alt_texts=False, noscript=False, comments=False).strip()
        if not text:
            continue
        labels, _ = model.predict([text.replace("\n", " ")], k=1)
        kept += labels[0][0] == "__label__en"
    return time.perf_counter() - t0, kept


def pipeline_run(folder: Path, out: Path, extract: dict | None = None) -> tuple[float, float, int]:
    recipe = {
        "name": "bench-extract-langid",
        "input": {"path": str(folder / "**" / "*.html"), "format": "html", "shard_size": "8MB"},
        "output": {"path": str(out)},
        "executor": {"workers": 1},
        "stages": [{"extract": extract or {}}, {"langid": {"keep": ["en"]}}],
    }
    path = WORK / "extract_langid.yaml"
    path.write_text(yaml.safe_dump(recipe))
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "dataprep"), "run", str(path), "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    stats = json.loads((out / "stats.json").read_text())
    busy = stats["input"]["seconds"] + sum(s["seconds"] for s in stats["stages"])
    return wall, busy, stats["output"]["docs"]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--loop":
        seconds, kept = direct_loop(Path(sys.argv[2]))
        print(seconds, kept)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is shown")
    parser.add_argument("--copies", type=int, default=3, help="copies of the corpus side by side (amortises start-up)")
    args = parser.parse_args()
    folder = replicated(debian_html_corpus(), args.copies)
    pages, size = corpus_stats(folder)
    print(f"corpus: {pages} HTML pages, {size / 1e6:.1f} MB (Debian python3.11-doc x{args.copies})")
    loop_wall, loop, pipe_wall, pipe_busy, inproc_wall, inproc_busy = [], [], [], [], [], []
    for _ in range(args.repeat):
        wall, seconds, kept_loop = direct_loop_process(folder)
        loop_wall.append(wall)
        loop.append(seconds)
        wall, busy, kept_pipe = pipeline_run(folder, WORK / "out-extract-langid")
        pipe_wall.append(wall)
        pipe_busy.append(busy)
        # the same without the extraction sandbox (timeout_s: null): what the child process costs
        wall, busy, kept_inproc = pipeline_run(folder, WORK / "out-extract-langid", {"timeout_s": None})
        inproc_wall.append(wall)
        inproc_busy.append(busy)
    assert kept_loop == kept_pipe == kept_inproc, f"they disagree on what they keep: {kept_loop}, {kept_pipe}, " \
                                                  f"{kept_inproc}"
    end, inner = statistics.median(loop_wall), statistics.median(loop)
    rows = [
        ("plain loop, end to end (its process)", end, end),
        ("plain loop, processing (its loop)", inner, inner),
        ("dataprep run, 1 worker, end to end", statistics.median(pipe_wall), end),
        ("dataprep run, 1 worker, processing", statistics.median(pipe_busy), inner),
        ("  same, timeout_s: null, end to end", statistics.median(inproc_wall), end),
        ("  same, timeout_s: null, processing", statistics.median(inproc_busy), inner),
    ]
    print(f"{'method':40} {'seconds':>8} {'docs/s':>8} {'ratio vs loop':>14}")
    for name, seconds, theirs in rows:
        print(f"{name:40} {seconds:8.2f} {pages / seconds:8.1f} {theirs / seconds:14.2f}")
    # the machine's speed drifts between rounds; each round's own ratio cancels the drift
    paired = [statistics.median(a / b for a, b in zip(loop_wall, ours)) for ours in (pipe_wall, inproc_wall)]
    print(f"end to end, median of each round's own ratio: {paired[0]:.2f} (sandboxed), {paired[1]:.2f} "
          f"(timeout_s: null)")
    print(f"kept (lang=en): {kept_pipe} of {pages}; median of {args.repeat} runs; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
