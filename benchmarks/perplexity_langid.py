"""`perplexity` and `langid` stages against direct calls of kenlm / fasttext in a plain loop,
on the same extracted texts (Debian python3.11-doc), one process, one core.

The plain loops are what a user writes by hand: for perplexity, normalise each line with
Python string methods and call ``model.score``; for langid, ``model.predict`` per document.
The stages run on 512-document batches as the executor feeds them.  A 3-gram model is trained
on half the corpus with `dataprep lm train` and scores all of it.

    .venv/bin/python benchmarks/perplexity_langid.py [--copies 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK
from quality_vs_datatrove import extracted_text


def direct_perplexity(model, texts: list[str]) -> float:
    punct = re.compile(r"([^\w\s'])")
    t0 = time.perf_counter()
    for text in texts:
        logp, tokens = 0.0, 0
        for line in text.splitlines():
            line = unicodedata.normalize("NFKC", line).lower()
            line = " ".join(punct.sub(r" \1 ", re.sub(r"\d", "0", line)).split())
            if line:
                logp += model.score(line)
                tokens += line.count(" ") + 2
        _ = 10 ** (-logp / tokens) if tokens else None
    return time.perf_counter() - t0


def direct_langid(model, texts: list[str]) -> float:
    t0 = time.perf_counter()
    for text in texts:
        model.predict([text.replace("\n", " ")], k=1)
    return time.perf_counter() - t0


def stage_time(stage, table) -> float:
    t0 = time.perf_counter()
    for start in range(0, table.num_rows, 512):
        stage.process(table.slice(start, 512))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import fasttext

    from dataprep.report.inspection import read_table
    from dataprep.text.lm import write_model
    from dataprep.transforms.langid import LangId, default_model_path
    from dataprep.transforms.perplexity import Perplexity

    table = read_table(str(extracted_text(args.copies) / "data"), columns=["id", "text", "source"])
    texts = table.column("text").to_pylist()
    arpa = WORK / "bench-en.arpa"
    if not arpa.exists():
        write_model(texts[::2], arpa, order=3)
    ppl_stage = Perplexity(model=str(arpa)).ensure_setup()
    lid_stage = LangId().ensure_setup()
    kenlm_model = ppl_stage.models["*"]
    fasttext.FastText.eprint = lambda *a, **k: None
    ft_model = fasttext.load_model(default_model_path())
    rows = []
    for name, direct, stage in [("perplexity (kenlm)", lambda: direct_perplexity(kenlm_model, texts), ppl_stage),
                                ("langid (fasttext)", lambda: direct_langid(ft_model, texts), lid_stage)]:
        d = statistics.median(direct() for _ in range(args.repeat))
        s = statistics.median(stage_time(stage, table) for _ in range(args.repeat))
        rows.append((name, d, s))
    mb = sum(len(t.encode()) for t in texts) / 1e6
    print(f"documents: {len(texts)} ({mb:.1f} MB of text, Debian python3.11-doc x{args.copies}); "
          f"median of {args.repeat}")
    print(f"{'stage':20} {'direct s':>9} {'stage s':>8} {'direct docs/s':>14} {'stage docs/s':>13} {'ratio':>6}")
    for name, d, s in rows:
        print(f"{name:20} {d:9.2f} {s:8.2f} {len(texts) / d:14.1f} {len(texts) / s:13.1f} {d / s:6.2f}")


if __name__ == "__main__":
    main()
