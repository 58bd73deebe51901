"""Runs in the peers' environment: datatrove's n-gram decontamination and its sentence dedup.

    decontam_paragraphs_peers.py OUT decont EVAL.jsonl DOCS.jsonl N
    decontam_paragraphs_peers.py OUT sentdedup DOCS.jsonl

- decont: the index datatrove's ``NGramsDecontIndexer`` would build (its own ``compute_hashes``
  steps: ``simplify_text``, the word tokenizer, its hash of each n-gram joined by spaces; the
  indexer itself needs lighteval to run, which reads evaluation sets from the Hub), then
  ``NGramsDecontFilter.filter`` on every document in memory.  Writes {"removed", "index_s",
  "filter_s", "ngrams"}: the two phases timed apart, in this process.
- sentdedup: datatrove's three-step sentence dedup (signatures, find duplicates, filter; one
  task each), on lines (``split_sentences=False``) one at a time (``n_sentences=1``), without
  its minimum-size rules: the same unit as ``dedup_paragraphs`` with ``unit: line``.  The
  harness times the whole process.  Writes {"kept": [ids], "lines": lines kept}.
"""

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path


def decont(out: str, eval_path: str, docs_path: str, n: str) -> None:
    import numpy as np
    from datatrove.data import Document
    from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter
    from datatrove.utils.hashing import create_hash_func
    from datatrove.utils.text import ngrams, simplify_text
    from datatrove_quality import EnglishPunkt

    config = NGramsDecontConfig(n_grams=int(n))
    words = EnglishPunkt()
    hash_func = create_hash_func(config.hash_config)
    t0 = time.perf_counter()
    hashes = set()
    with open(eval_path) as f:
        for line in f:
            tokens = words.word_tokenize(simplify_text(json.loads(line)["text"], config.norm_config))
            hashes.update(map(hash_func, map(" ".join, ngrams(tokens, config.n_grams))))
    index = Path(tempfile.mkdtemp(prefix="dt-decont-"))
    np.array(sorted(hashes), dtype=config.hash_config.np_descr).tofile(index / "bench.index.hashes")
    index_s = time.perf_counter() - t0
    with open(docs_path) as f:
        docs = [json.loads(line) for line in f]
    step = NGramsDecontFilter(index_folder=str(index), config=config, language=words)
    step.load_index_hashes()
    t0 = time.perf_counter()
    removed = [d["id"] for d in docs if step.filter(Document(text=d["text"], id=d["id"])) is not True]
    filter_s = time.perf_counter() - t0
    shutil.rmtree(index, ignore_errors=True)
    Path(out).write_text(json.dumps({"removed": removed, "index_s": index_s, "filter_s": filter_s,
                                     "ngrams": len(hashes)}))


def sentdedup(out: str, docs_path: str) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.sentence_dedup import (
        SentDedupConfig,
        SentenceDedupFilter,
        SentenceDedupSignature,
        SentenceFindDedups,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    path = Path(docs_path)
    work = Path(tempfile.mkdtemp(prefix="dt-sent-"))
    config = SentDedupConfig(n_sentences=1, split_sentences=False, min_doc_words=0, min_num_sentences=0)

    def reader() -> JsonlReader:
        return JsonlReader(str(path.parent), glob_pattern=path.name, text_key="text", id_key="id")

    try:
        for pipeline in (
            [reader(), SentenceDedupSignature(output_folder=str(work / "sigs"), config=config)],
            [SentenceFindDedups(data_folder=str(work / "sigs"), output_folder=str(work / "dups"), config=config)],
            [reader(), SentenceDedupFilter(data_folder=str(work / "dups"), config=config),
             JsonlWriter(str(work / "out"), compression=None)],
        ):
            LocalPipelineExecutor(pipeline=pipeline, tasks=1, workers=1, logging_dir=str(work / "logs" /
                                  str(time.time_ns())), skip_completed=False).run()
        rows = [json.loads(line) for f in sorted((work / "out").glob("*.jsonl")) for line in f.open()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(out).write_text(json.dumps({"kept": [r["id"] for r in rows],
                                     "lines": sum(r["text"].count("\n") + 1 for r in rows)}))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    {"decont": decont, "sentdedup": sentdedup}[sys.argv[2]](sys.argv[1], *sys.argv[3:])
