"""Runs in the peers' environment, one method per process, so that the benchmark times each
peer the way it times ``dataprep run``: the whole process, from interpreter start to the kept
ids on disk.

    minhash_peers.py OUT datatrove|datasketch DOCS.jsonl

- datatrove: its four-step MinHash pipeline (signatures, buckets, clusters, filter; one
  worker; one task per step, 14 bucket tasks), reading the JSONL and writing the kept documents.
- datasketch: ``MinHashLSH`` as a streaming filter over the documents in file order (a
  document is dropped when the index already holds a candidate).

Writes {"kept": [ids]} to OUT."""

import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path


def minhash_steps(reader, work: Path, config, **signature_options) -> list[list]:
    """datatrove's four MinHash pipelines, each for its own executor: signatures of the documents
    of ``reader()`` (a fresh reader per call), buckets, clusters, and the filter that writes the
    kept documents to ``work/out`` as JSONL.  The filter must run with the signatures' tasks."""
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.writers import JsonlWriter

    return [
        [reader(), MinhashDedupSignature(output_folder=str(work / "sigs"), config=config, **signature_options)],
        [MinhashDedupBuckets(input_folder=str(work / "sigs"), output_folder=str(work / "buckets"), config=config)],
        [MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove"), config=config)],
        [reader(), MinhashDedupFilter(input_folder=str(work / "remove")),
         JsonlWriter(str(work / "out"), compression=None)],
    ]


def datatrove_kept(path: Path, work: Path) -> list[str]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.utils.hashing import HashConfig
    from datatrove_quality import EnglishPunkt

    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, hash_config=HashConfig(precision=64))
    def reader() -> JsonlReader:
        return JsonlReader(str(path.parent), glob_pattern=path.name, text_key="text", id_key="id")

    steps = minhash_steps(reader, work, config, language=EnglishPunkt())
    for pipeline, tasks in zip(steps, (1, config.num_buckets, 1, 1)):
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1,
                              logging_dir=str(work / "logs" / str(time.time_ns())),
                              skip_completed=False).run()
    return [json.loads(line)["id"] for f in sorted((work / "out").glob("*.jsonl")) for line in f.open()]


def datasketch_kept(path: Path) -> list[str]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=112, params=(14, 8))
    kept = []
    with path.open() as f:
        for line in f:
            doc = json.loads(line)
            words = re.sub(r"[\W_]+", " ", doc["text"].lower()).split()
            shingles = {" ".join(words[i:i + 5]) for i in range(len(words) - 4)} or {" ".join(words)}
            m = MinHash(num_perm=112, seed=1)
            m.update_batch([s.encode("utf-8") for s in shingles])
            if not lsh.query(m):
                lsh.insert(doc["id"], m)
                kept.append(doc["id"])
    return kept


def main(out: str, method: str, path: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if method == "datatrove":
        work = Path(tempfile.mkdtemp(prefix="dt-minhash-"))
        try:
            kept = datatrove_kept(Path(path), work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    else:
        kept = datasketch_kept(Path(path))
    Path(out).write_text(json.dumps({"kept": kept}))


if __name__ == "__main__":
    main(*sys.argv[1:])
