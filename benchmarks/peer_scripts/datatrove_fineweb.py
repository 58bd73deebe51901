"""Runs in the peers' environment: FineWeb's processing as datatrove's ``examples/fineweb.py``
writes it, on local ``.warc.gz`` files with a LocalPipelineExecutor, as one whole process.

    datatrove_fineweb.py OUT WARC_FOLDER WORKERS LID_MODEL

- step 1 (one task per WARC file): WarcReader -> Trafilatura(favour_precision=True) ->
  LanguageFilter (English >= 0.65) -> GopherRepetitionFilter -> GopherQualityFilter ->
  C4QualityFilter(filter_no_terminal_punct=False) -> FineWebQualityFilter -> JsonlWriter;
- every filter and MinHash split words with NLTK and the trained English punkt
  (``datatrove_quality.EnglishPunkt``), as FineWeb did; datatrove 0.10.1's default is spaCy;
- MinHash as FineWeb configured it (5-grams, 14 buckets x 8 hashes, 64-bit sha1): signatures
  (a task per step-1 output file), buckets (a task per bucket), clusters (one task), filter
  (the signatures' tasks) -> JsonlWriter.

No exclusion writers (FineWeb wrote every removed document out; leaving them off only makes
datatrove faster).  datatrove downloads fastText's lid.176 model on first use; there is no
network here, so ``LID_MODEL`` (dataprep's bundled lid.176, the one our side uses) is put in
its download cache first.

Writes {"seconds": wall of the pipeline, "kept": [urls], "after_filters": pages left before
MinHash, "minhash_removed": [urls], "extract_timeouts": pages its extractor gave up on} to OUT."""

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path


def run(folder: Path, workers: int, work: Path) -> int:
    """The five executors in turn; the number of pages the extractor gave up on (its timeout)."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig
    from datatrove_quality import EnglishPunkt
    from minhash_peers import minhash_steps

    words = EnglishPunkt()  # NLTK with the trained English punkt, as FineWeb split words
    files = len(list(folder.glob("*.warc.gz")))

    def execute(pipeline: list, tasks: int) -> Path:
        logs = work / "logs" / str(time.time_ns())
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=workers, skip_completed=False,
                              logging_dir=str(logs)).run()
        return logs

    first = execute([WarcReader(str(folder), glob_pattern="*.warc.gz"), Trafilatura(favour_precision=True),
                     LanguageFilter(), GopherRepetitionFilter(language=words), GopherQualityFilter(language=words),
                     C4QualityFilter(filter_no_terminal_punct=False, language=words),
                     FineWebQualityFilter(language=words),
                     JsonlWriter(str(work / "base"))], files)
    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8,
                           hash_config=HashConfig(hash_fc="sha1", precision=64))
    steps = minhash_steps(lambda: JsonlReader(str(work / "base")), work, config, language=words)
    for pipeline, tasks in zip(steps, (files, config.num_buckets, 1, files)):
        execute(pipeline, tasks)
    timeouts = [block["stats"].get("timeout", 0) for block in json.loads((first / "stats.json").read_text())
                if "Trafilatura" in block["name"]]
    return sum(t["total"] if isinstance(t, dict) else t for t in timeouts)


def urls(folder: Path) -> list[str]:
    import gzip
    out = []
    for path in sorted(folder.glob("*.jsonl*")):
        with (gzip.open(path, "rt") if path.suffix == ".gz" else path.open()) as f:
            out += [json.loads(line)["metadata"]["url"] for line in f]
    return out


def seed_model_cache(work: Path, lid_model: str) -> None:
    """Put ``lid_model`` where datatrove's download helper looks for lid.176 (in a cache of this
    run's own, through HF_ASSETS_CACHE, which the worker processes inherit), marked complete."""
    import os

    os.environ["HF_ASSETS_CACHE"] = str(work / "assets")
    from datatrove.io import cached_assets_path, strip_protocol
    from datatrove.utils.lid import FT176LID

    folder = cached_assets_path(library_name="datatrove", namespace="lid", subfolder=FT176LID.MODEL_SUBFOLDER)
    local = Path(folder) / strip_protocol(FT176LID.MODEL_URL).replace("/", "_")
    local.symlink_to(Path(lid_model).resolve())
    Path(f"{local}.completed").touch()


def main(out: str, folder: str, workers: str, lid_model: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="dt-fineweb-"))
    try:
        seed_model_cache(work, lid_model)
        t0 = time.perf_counter()
        timeouts = run(Path(folder), int(workers), work)
        seconds = time.perf_counter() - t0
        base, kept = urls(work / "base"), urls(work / "out")
        kept_set = set(kept)
        Path(out).write_text(json.dumps({"seconds": seconds, "kept": kept, "after_filters": len(base),
                                         "extract_timeouts": timeouts,
                                         "minhash_removed": [u for u in base if u not in kept_set]}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
