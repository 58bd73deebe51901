"""Runs in the peers' environment: datatrove's DocumentTokenizer (one task, one worker) on a
JSONL file of {id, text} with a given tokenizer.json, ``repeat`` times; writes the median
seconds and the size of its token files."""

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(out: str, path: str, tokenizer: str, repeat: str = "1") -> None:
    runs = [run_once(path, tokenizer) for _ in range(int(repeat))]
    seconds = sorted(r[0] for r in runs)[len(runs) // 2]
    Path(out).write_text(json.dumps({"seconds": seconds, "bytes": runs[0][1], "runs": [r[0] for r in runs]}))


def run_once(path: str, tokenizer: str) -> tuple[float, int]:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens import DocumentTokenizer

    work = Path(tempfile.mkdtemp(prefix="dt-tok-"))
    try:
        src = Path(path)
        t0 = time.perf_counter()
        LocalPipelineExecutor(pipeline=[
            JsonlReader(str(src.parent), glob_pattern=src.name, text_key="text", id_key="id"),
            DocumentTokenizer(output_folder=str(work / "tokens"), tokenizer_name_or_path=tokenizer,
                              eos_token="<|endoftext|>", shuffle_documents=False),
        ], tasks=1, workers=1, logging_dir=str(work / "logs")).run()
        seconds = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in (work / "tokens").rglob("*.ds"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return seconds, size


if __name__ == "__main__":
    main(*sys.argv[1:])
