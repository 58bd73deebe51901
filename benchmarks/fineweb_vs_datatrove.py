"""FineWeb's processing end to end: `dataprep run` against datatrove, same ``.warc.gz`` files.

The input is ``scale_run.py``'s Common Crawl-style corpus (Debian's python3.11-doc pages, one
``.warc.gz`` per copy, copies perturbed so ids and MinHash clusters are realistic; 2 copies =
1,060 pages by default).  Both sides run FineWeb's chain -- extract, English >= 0.65, Gopher
repetition, Gopher quality, C4 (no terminal-punctuation rule), FineWeb, MinHash (5-grams,
14 x 8) -- on 2 worker processes, as whole processes from interpreter start to the kept
documents on disk:

- datatrove 0.10.1 (``peer_scripts/datatrove_fineweb.py``, the peers' venv): its trafilatura
  extractor with FineWeb's options, one task per file, its four MinHash steps;
- ``dataprep run`` with ``recipes/fineweb_like.yaml``'s stages (without its URL filter, PII,
  shuffle and tokenize, which datatrove's side does not run) with ``engine: trafilatura``, and
  again with resiliparse, our default.  Ours also writes every removed document with its reason.

Methods alternate within each round; each row is the fastest of the rounds.  Both sides use
dataprep's bundled fastText language model.  Agreement is over page URLs: the share of pages
that both sides keep or both drop.  Trafilatura is datatrove's pinned 1.x on its side and ours
(2.x) on ours; ``--engine-only N`` adds each version's plain extraction loop over the first N
pages, one process, so the engine's own share of a ratio shows.  datatrove's extractor gives a
page 1 s (then drops it), ours 5 s (``extract.timeout_s``); datatrove's filters split English words
with NLTK and the trained English punkt, as FineWeb did (0.10.1's default is spaCy) -- the kept sets
differ by more than the filters do on identical texts (``quality_vs_datatrove.py``) because the
extractors differ.

    .venv/bin/python benchmarks/fineweb_vs_datatrove.py [--copies 2] [--rounds 2] [--engine-only 150]

Targets: dataprep with trafilatura >= 1.2x datatrove's pages/s; with resiliparse >= 8x.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK, debian_html_corpus
from peers import peer_python
from scale_run import stages, warc_corpus, warc_recipe

CHAIN = ("extract", "langid", "quality", "minhash_dedup")


def recipe(folder: Path, out: Path, engine: str) -> Path:
    path = WORK / f"fineweb-{engine}.yaml"
    path.write_text(yaml.safe_dump(warc_recipe(folder, out, f"fineweb-{engine}", "8MB", stages(engine, CHAIN))))
    return path


def ours(folder: Path, engine: str) -> tuple[float, set[str]]:
    from dataprep.report.inspection import read_table

    out = WORK / f"fineweb-out-{engine}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "dataprep"), "run", str(recipe(folder, out, engine)),
                    "--quiet"], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    return wall, set(read_table(str(out / "data"), columns=["url"]).column("url").to_pylist())


def datatrove(folder: Path) -> tuple[float, set[str], dict]:
    from dataprep.transforms.langid import default_model_path

    out = WORK / "fineweb-datatrove.json"
    script = Path(__file__).resolve().parent / "peer_scripts" / "datatrove_fineweb.py"
    t0 = time.perf_counter()
    subprocess.run([str(peer_python()), str(script), str(out), str(folder), "2", default_model_path()], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    result = json.loads(out.read_text())
    return wall, set(result["kept"]), result


def stats_removed(stats: dict) -> dict[str, int]:
    """Pages removed per reason (summed over the stages) in a finished run's stats.json."""
    removed: dict[str, int] = {}
    for stage in stats["stages"]:
        for reason, n in stage["removed"].items():
            removed[reason] = removed.get(reason, 0) + n
    return removed


ENGINE_LOOP = """
import pathlib, sys, time, trafilatura
paths = sorted(pathlib.Path(sys.argv[1]).rglob("*.html"))[:int(sys.argv[2])]
pages = [p.read_bytes().decode("utf-8", "replace") for p in paths]
t0 = time.perf_counter()
for html in pages:
    trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True)
print(len(pages), time.perf_counter() - t0, trafilatura.__version__)
"""


def engine_loop(python: Path, folder: Path, pages: int) -> tuple[int, float, str]:
    done = subprocess.run([str(python), "-c", ENGINE_LOOP, str(folder), str(pages)], check=True, capture_output=True,
                          text=True)
    pages, seconds, version = done.stdout.split()
    return int(pages), float(seconds), version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=2, help="copies of the 530 pages, one .warc.gz each")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--engine-only", type=int, default=0, metavar="PAGES",
                        help="also time each trafilatura alone on the first PAGES pages")
    args = parser.parse_args()
    folder = warc_corpus(args.copies)
    peer_python()  # install the peers' venv before anything is timed
    times: dict[str, list[float]] = {"datatrove (trafilatura)": [], "dataprep (trafilatura)": [],
                                     "dataprep (resiliparse)": []}
    kept: dict[str, set[str]] = {}
    for round_ in range(args.rounds):
        wall, kept["datatrove (trafilatura)"], peer = datatrove(folder)
        times["datatrove (trafilatura)"].append(wall)
        for engine in ("trafilatura", "resiliparse"):
            wall, kept[f"dataprep ({engine})"] = ours(folder, engine)
            times[f"dataprep ({engine})"].append(wall)
        print(f"  round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), file=sys.stderr)
    stats = json.loads((WORK / "fineweb-out-trafilatura" / "stats.json").read_text())
    pages = stats["input"]["docs"]
    reference = kept["datatrove (trafilatura)"]
    base = min(times["datatrove (trafilatura)"])
    print(f"\nFineWeb's chain on {pages} pages ({args.copies} .warc.gz, "
          f"{sum(p.stat().st_size for p in folder.glob('*.warc.gz')) / 1e6:.0f} MB), 2 workers, "
          f"fastest of {args.rounds} rounds\n")
    print(f"{'method':26} {'wall s':>8} {'pages/s':>8} {'kept':>6} {'same decision as datatrove':>27} "
          f"{'x datatrove':>12}")
    for name, walls in times.items():
        mine = kept[name]
        agree = 1 - len(mine ^ reference) / pages
        print(f"{name:26} {min(walls):8.1f} {pages / min(walls):8.1f} {len(mine):6d} {agree:27.4f} "
              f"{base / min(walls):11.2f}x")
    print(f"\ndatatrove: {peer['extract_timeouts']} pages dropped by its 1 s extraction timeout, "
          f"{peer['after_filters']} pages after the filters, {len(peer['minhash_removed'])} removed by MinHash")
    removed = stats_removed(stats)
    print("dataprep (trafilatura): " + ", ".join(f"{n} {reason}" for reason, n in sorted(removed.items())))
    print("targets: dataprep (trafilatura) >= 1.2x, dataprep (resiliparse) >= 8x")
    if args.engine_only:
        print(f"\n{'trafilatura alone (1 process)':30} {'version':>8} {'pages':>6} {'s':>7} {'pages/s':>8}")
        for label, python in (("peers' venv", peer_python()), ("ours", Path(sys.executable))):
            n, seconds, version = engine_loop(python, debian_html_corpus(), args.engine_only)
            print(f"{label:30} {version:>8} {n:6d} {seconds:7.1f} {n / seconds:8.1f}")


if __name__ == "__main__":
    main()
