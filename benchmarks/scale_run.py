"""The FineWeb recipe at scale on one machine: a small and a large Common Crawl-style corpus.

The corpus is Debian's ``python3.11-doc`` HTML (530 pages, 50 MB) packed as ``.warc.gz``
files, one per copy, one gzip member per record (request + response, as Common Crawl writes
them).  Copy 0 is the pages as they are; in every other copy each page is either kept
word for word (10%: syndicated copies, so MinHash finds clusters of about a tenth of the copies)
or has a quarter of the words of its text replaced by other words of the same page (a seeded
choice per copy and page: the page stays English prose to langid, but shares few 5-grams with
its other copies, so it is not a near duplicate).  Every copy's records have their own URLs,
so ids differ.

``recipes/fineweb_like.yaml``'s stages run on 2 worker processes, with resiliparse as the
extractor (trafilatura's ~30x slower extraction would take hours at this size) and 64 MB
shards: the small run (``--small-copies``, 100 MB of HTML by default) and the large one
(``--copies``, 5 GB of HTML by default), each a fresh 2-worker LocalCluster started as
``dataprep run`` starts it; each worker's peak RSS is its kernel high-water mark (``VmHWM``).
Then the large run again as ``dataprep run`` processes: killed (SIGKILL, whole process group)
at half its time, and ``--resume``-d; the cost of resuming is (time before the kill + the
resumed run - the full run) / the full run.

    .venv/bin/python benchmarks/scale_run.py [--copies 100] [--small-copies 2] [--resume-copies N]

Targets: MB/s of the large run >= 0.9x the small run's; peak RSS per worker <= 1.2x; resume
after a kill at 50% costs < 10% of the full run.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import signal
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK, debian_html_corpus
from memory_scaling import _peak_rss_mb

REPO = Path(__file__).resolve().parent.parent
TAG_OR_WORD = re.compile(r"(<[^>]*>)|([A-Za-z]{3,})")
_PAGES: list[tuple[str, list[str], list[int]]] = []  # (relative path, pieces, indices of the word pieces)


def _record(kind: bytes, uri: bytes, rid: str, payload: bytes) -> bytes:
    head = (b"WARC/1.0\r\nWARC-Type: " + kind + b"\r\nWARC-Record-ID: <urn:uuid:" + rid.encode() +
            b">\r\nWARC-Target-URI: " + uri + b"\r\nWARC-Date: 2024-12-01T00:00:00Z"
            b"\r\nWARC-Identified-Payload-Type: text/html\r\n"
            b"Content-Type: application/http; msgtype=" + kind + b"\r\nContent-Length: " +
            str(len(payload)).encode() + b"\r\n\r\n")
    return gzip.compress(head + payload + b"\r\n\r\n", compresslevel=6)


def _pieces(text: str) -> tuple[list[str], list[int]]:
    """The page cut into tags, words of 3+ letters outside tags, and what lies between."""
    pieces, words, last = [], [], 0
    for m in TAG_OR_WORD.finditer(text):
        if m.start() > last:
            pieces.append(text[last:m.start()])
        if m.group(2):
            words.append(len(pieces))
        pieces.append(m.group(0))
        last = m.end()
    pieces.append(text[last:])
    return pieces, words


def _load(folder: Path) -> None:
    for page in sorted(folder.rglob("*.html")):
        pieces, words = _pieces(page.read_bytes().decode("utf-8", "replace"))
        _PAGES.append((str(page.relative_to(folder)), pieces, words))


def _write_copy(args: tuple[int, Path, int]) -> int:
    copy, target, seed = args
    rng = random.Random(f"{seed}:{copy}")
    out = bytearray()
    for n, (rel, pieces, words) in enumerate(_PAGES):
        if copy and rng.random() >= 0.1 and words:
            pieces = list(pieces)
            vocabulary = [pieces[i] for i in words]
            for i in rng.sample(words, len(words) // 4):
                pieces[i] = rng.choice(vocabulary)
        body = "".join(pieces).encode()
        uri = f"https://docs-{copy:04d}.example/{rel}".encode()
        rid = f"{copy:08x}-{n:04x}-4000-8000-000000000000"
        http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
                str(len(body)).encode() + b"\r\n\r\n" + body)
        out += _record(b"request", uri, rid[:-1] + "1", b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        out += _record(b"response", uri, rid, http)
    path = target / f"crawl-{copy:05d}.warc.gz"
    path.with_suffix(".tmp").write_bytes(out)
    path.with_suffix(".tmp").rename(path)
    return len(out)


def warc_corpus(copies: int, seed: int = 7) -> Path:
    """``copies`` .warc.gz files of the Debian pages (built once, in 2 processes)."""
    target = WORK / "warc" / f"python-doc-v2-x{copies}"  # v2: records carry a WARC-Date
    target.mkdir(parents=True, exist_ok=True)
    todo = [(c, target, seed) for c in range(copies) if not (target / f"crawl-{c:05d}.warc.gz").exists()]
    if todo:
        with Pool(2, initializer=_load, initargs=(debian_html_corpus(),)) as pool:
            for done, _ in enumerate(pool.imap_unordered(_write_copy, todo), 1):
                if done % 10 == 0:
                    print(f"  built {done} of {len(todo)} copies", file=sys.stderr)
    return target


def stages(engine: str = "resiliparse", only: tuple[str, ...] | None = None) -> list[dict]:
    """``recipes/fineweb_like.yaml``'s stages (those named in ``only``), extracting with ``engine``."""
    recipe = yaml.safe_load((REPO / "recipes" / "fineweb_like.yaml").read_text())
    out = []
    for stage in recipe["stages"]:
        (name, params), = stage.items()
        if only is not None and name not in only:
            continue
        if name == "extract":
            params = {**params, "engine": engine}
        out.append({name: params})
    return out


SHARD_SIZE = ["64MB"]  # --shard-size


def warc_recipe(folder: Path, out: Path, name: str = "scale", shard_size: str | None = None,
                chain: list[dict] | None = None) -> dict:
    """A recipe over ``folder``'s ``.warc.gz`` on 2 one-thread worker processes (default stages: :func:`stages`)."""
    return {"name": name, "seed": 42, "input": {"path": str(folder / "*.warc.gz"), "format": "warc",
                                                "shard_size": shard_size or SHARD_SIZE[0]},
            "output": {"path": str(out)}, "executor": {"workers": 2, "threads_per_worker": 1, "processes": True},
            "stages": stages() if chain is None else chain}


def run_api(folder: Path, out: Path) -> tuple[float, list[float], dict]:
    """One run through the Python API on a fresh 2-worker cluster: (wall s, peak RSS per worker MB, stats)."""
    import shutil

    from dataprep.config.recipe import ExecutorSpec
    from dataprep.engine.executor import dask_client
    from dataprep.engine.pipeline import Pipeline

    shutil.rmtree(out, ignore_errors=True)
    recipe = warc_recipe(folder, out)
    with dask_client(ExecutorSpec(**recipe["executor"])) as client:
        pipeline = Pipeline(input=recipe["input"], output=str(out), stages=recipe["stages"], seed=recipe["seed"])
        t0 = time.perf_counter()
        result = pipeline.run(client=client)
        wall = time.perf_counter() - t0
        peaks = sorted(client.run(_peak_rss_mb).values())
    return wall, peaks, result.stats


def run_cli(folder: Path, out: Path, *extra: str, kill_after: float | None = None) -> float:
    path = WORK / "scale.yaml"
    path.write_text(yaml.safe_dump(warc_recipe(folder, out)))
    cmd = [str(Path(sys.executable).parent / "dataprep"), "run", str(path), "--quiet", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    seconds = time.perf_counter() - t0
    if kill_after is None and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode})")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=100, help="copies in the large run (50 MB of HTML each)")
    parser.add_argument("--small-copies", type=int, default=2, help="copies in the small run")
    parser.add_argument("--resume-copies", type=int, help="copies of the kill-and-resume runs (default --copies; "
                        "0 skips them)")
    parser.add_argument("--shard-size", default="64MB", help="input shard size (of .warc.gz bytes)")
    parser.add_argument("--resume-only", action="store_true", help="only the kill-and-resume runs")
    args = parser.parse_args()
    SHARD_SIZE[0] = args.shard_size
    rows = []
    for copies in () if args.resume_only else (args.small_copies, args.copies):
        folder = warc_corpus(copies)
        gz = sum(p.stat().st_size for p in folder.glob("*.warc.gz"))
        wall, peaks, stats = run_api(folder, WORK / f"scale-out-x{copies}")
        rows.append((copies, stats["input"]["docs"], gz / 1e6, wall, peaks, stats["output"]["docs"]))
        print(f"  x{copies}: {wall:.1f} s, peak RSS {peaks}", file=sys.stderr)
    if rows:
        print(f"\nFineWeb recipe (extract: resiliparse), 2 workers x 1 thread, {args.shard_size} shards\n")
        print(f"{'copies':>6} {'pages':>7} {'warc.gz MB':>10} {'kept':>7} {'wall s':>8} {'gz MB/s':>8} "
              f"{'peak RSS per worker (MB)':>25}")
        for copies, pages, gz, wall, peaks, kept in rows:
            print(f"{copies:6d} {pages:7d} {gz:10.0f} {kept:7d} {wall:8.1f} {gz / wall:8.2f} "
                  f"{' / '.join(f'{p:.0f}' for p in peaks):>25}")
        (_, _, gz1, wall1, peaks1, _), (_, _, gz2, wall2, peaks2, _) = rows
        print(f"target >= 0.9x: the large run's MB/s is {(gz2 / wall2) / (gz1 / wall1):.2f}x the small run's")
        print(f"target <= 1.2x: the large run's peak RSS per worker is {max(peaks2) / max(peaks1):.2f}x "
              "the small run's")
    copies = args.copies if args.resume_copies is None else args.resume_copies
    if not copies:
        return
    folder, out = warc_corpus(copies), WORK / "scale-out-cli"
    full = run_cli(folder, out, "--overwrite")
    before = run_cli(folder, out, "--overwrite", kill_after=full / 2)
    resumed = run_cli(folder, out, "--resume")
    print(f"\n`dataprep run` x{copies}, {args.shard_size} shards: full {full:.1f} s; killed at {before:.1f} s; "
          f"--resume {resumed:.1f} s")
    print(f"target < 10%: resuming cost {(before + resumed - full) / full:.1%} of the full run")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
