"""`quality` presets against datatrove's Gopher, C4 and FineWeb filters, same documents,
default (matching) parameters: share of identical keep/drop decisions, and speed.  The last
row is FineWeb's whole chain (Gopher repetition, Gopher quality, C4 without its terminal
punctuation rule, FineWeb) as one ``quality`` stage against datatrove's four filters in a row,
each seeing the text C4 rewrote.

Text is extracted once from the core benchmark's HTML corpus (Debian python3.11-doc) with
`dataprep run` (extract only); both sides then score the same texts in one process on one
core.  Disagreements are listed by (our reason, datatrove's reason) so each kind can be
explained.

    .venv/bin/python benchmarks/quality_vs_datatrove.py [--copies 3]
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORK, debian_html_corpus, replicated
from peers import run_peer


def extracted_text(copies: int) -> Path:
    out = WORK / f"extracted-x{copies}"
    if not (out / "stats.json").exists():
        folder = replicated(debian_html_corpus(), copies)
        recipe = WORK / f"extract-x{copies}.yaml"
        recipe.write_text(yaml.safe_dump({
            "name": "extract-once", "input": {"path": str(folder / "**" / "*.html"), "format": "html"},
            "output": {"path": str(out)}, "stages": [{"extract": {}}]}))
        subprocess.run([str(Path(sys.executable).parent / "dataprep"), "run", str(recipe), "--overwrite"], check=True,
                       stdout=subprocess.DEVNULL)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=1, help="copies of the corpus (more documents)")
    args = parser.parse_args()
    from dataprep.report.inspection import read_table
    from dataprep.transforms.quality import Quality

    run = extracted_text(args.copies)
    table = read_table(str(run / "data"), columns=["id", "text", "source"])
    single = WORK / "quality-input.parquet"
    import pyarrow.parquet as pq
    pq.write_table(table, single)
    peer = run_peer("datatrove_quality.py", str(single))
    ids = table.column("id").to_pylist()
    print(f"documents: {len(ids)} (Debian python3.11-doc x{args.copies}, main content)")
    print(f"{'preset':13} {'agree':>7} {'kept ours':>10} {'kept dt':>8} {'ours s':>8} {'datatrove s':>12} "
          f"{'speed ratio':>12}")
    notes = []
    ours_for = {"gopher": {"preset": "gopher"}, "c4": {"preset": "c4"}, "fineweb": {"preset": "fineweb"},
                "fineweb_chain": {"preset": ["gopher_repetition", "gopher_quality", "c4", "fineweb"],
                                  "c4": {"filter_no_terminal_punct": False}}}
    for preset, params in ours_for.items():
        stage = Quality(**params)
        t0 = time.perf_counter()
        reasons: list[str | None] = []
        for start in range(0, table.num_rows, 512):
            batch = table.slice(start, 512)
            out = stage.process(batch)
            removed = dict(zip(out.removed.column("id").to_pylist(), out.removed.column("reason").to_pylist())) \
                if out.removed is not None else {}
            reasons += [removed.get(i) for i in batch.column("id").to_pylist()]
        ours_s = time.perf_counter() - t0
        theirs = peer[preset]["decisions"]
        agree = sum((r is None) == (theirs[i] is None) for i, r in zip(ids, reasons)) / len(ids)
        kinds = collections.Counter((r, theirs[i]) for i, r in zip(ids, reasons) if (r is None) != (theirs[i] is None))
        print(f"{preset:13} {agree:7.3f} {sum(r is None for r in reasons):10d} "
              f"{sum(theirs[i] is None for i in ids):8d} {ours_s:8.2f} {peer[preset]['seconds']:12.2f} "
              f"{peer[preset]['seconds'] / ours_s:12.1f}x")
        notes += [f"  {preset}: ours={a or 'kept'} datatrove={b or 'kept'}: {n}" for (a, b), n in kinds.most_common()]
    print("disagreements (our reason, datatrove's reason: count):")
    print("\n".join(notes) or "  none")


if __name__ == "__main__":
    main()
