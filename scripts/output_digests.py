"""SHA-256 of every output file of three runs that together use every built-in stage.

A check for refactors that must not change behaviour: run it before and after, compare.

    python scripts/output_digests.py WORKDIR > before.json      # uses `dataprep` on the PATH
    python scripts/output_digests.py WORKDIR --dataprep .venv/bin/dataprep > after.json
    python scripts/output_digests.py --compare before.json after.json

The runs (only through the command line, so any version of dataprep can be measured):

* ``every-stage``: recipes/web_filters.yaml (extract, langid, url_filter, pii, quality,
  dedup_exact, perplexity, classifier) on the sample pages in three languages, then
  perplexity_buckets, minhash_dedup, shuffle and tokenize (training a BPE: a barrier);
* ``bad-jsonl``: the damaged JSONL fixtures (quarantine), minhash_dedup as the first stage (the
  input read twice), dedup_exact, then tokenize with the first run's tokenizer (per shard);
* ``quickstart``: recipes/quickstart.yaml.

Digested: every file under data/, removed/, quarantine/, tokens/ and every Parquet file under
stages/ (receipts and JSON files hold timings, so they are left out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / "recipes" / "data" / "web"
BAD_JSONL = REPO / "tests" / "data" / "bad" / "jsonl"


def _every_stage(out: Path) -> dict:
    data = yaml.safe_load((REPO / "recipes" / "web_filters.yaml").read_text())
    data["input"]["path"] = str(WEB / "**" / "*.html")
    data["output"]["path"] = str(out)
    data["executor"] = {"workers": 2}
    for stage in data["stages"]:
        (name, params), = stage.items()
        if name == "langid":
            params["keep"] = ["en", "de", "fr"]
        if name == "perplexity":
            params["model"] = {"en": str(REPO / "recipes" / "models" / "en.arpa")}
            params["max"] = None
        if name == "classifier":
            params["model"] = str(REPO / "recipes" / "models" / "quality.bin")
    data["stages"] += [{"perplexity_buckets": {"keep": ["head", "middle"]}},
                       {"minhash_dedup": {"ngram": 5, "bands": 14, "rows": 8}}, {"shuffle": {"seed": 7}},
                       {"tokenize": {"train": {"vocab_size": 600, "sample_docs": 200}}}]
    return data


def _bad_jsonl(out: Path, tokenizer: Path) -> dict:
    return {"name": "bad-jsonl", "seed": 1,
            "input": {"path": str(BAD_JSONL / "*"), "format": "jsonl", "max_document_size": "1MB"},
            "output": {"path": str(out)}, "executor": {"workers": 2},
            "stages": [{"minhash_dedup": {"ngram": 3}}, {"dedup_exact": {}},
                       {"tokenize": {"tokenizer": str(tokenizer)}}]}


def _quickstart(out: Path) -> dict:
    data = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    data["input"]["path"] = str(WEB / "**" / "*.html")
    data["output"]["path"] = str(out)
    return data


def digests(root: Path) -> dict[str, str]:
    out = {}
    for sub in ("data", "removed", "quarantine", "tokens", "stages"):
        folder = root / sub
        for p in sorted(folder.rglob("*")) if folder.exists() else []:
            if p.is_file() and (sub != "stages" or p.suffix == ".parquet"):
                out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_all(work: Path, dataprep: str) -> dict[str, dict[str, str]]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results = {}
    every = work / "every-stage"
    recipes = [("every-stage", _every_stage(every)),
               ("bad-jsonl", _bad_jsonl(work / "bad-jsonl", every / "tokens" / "tokenizer.json")),
               ("quickstart", _quickstart(work / "quickstart"))]
    for name, recipe in recipes:
        path = work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        done = subprocess.run([dataprep, "run", str(path)], cwd=work, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{name}: dataprep run failed ({done.returncode}):\n{done.stderr}")
        print(f"{name}: {done.stdout.strip().splitlines()[0]}", file=sys.stderr)
        results[name] = digests(work / name)
    return results


def compare(a: dict, b: dict) -> int:
    bad = 0
    for run in sorted(set(a) | set(b)):
        x, y = a.get(run, {}), b.get(run, {})
        for f in sorted(set(x) | set(y)):
            if x.get(f) != y.get(f):
                bad += 1
                print(f"{run}/{f}: {x.get(f, 'missing')[:12]} != {y.get(f, 'missing')[:12]}")
        print(f"{run}: {len(x)} files before, {len(y)} after")
    print("identical" if not bad else f"{bad} files differ")
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", nargs="?", type=Path, help="a scratch folder for the runs (deleted first)")
    parser.add_argument("--dataprep", default="dataprep", help="the dataprep executable to measure (found on the PATH)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        sys.exit(compare(*(json.loads(p.read_text()) for p in args.compare)))
    if args.work is None:
        parser.error("give WORKDIR (or --compare BEFORE AFTER)")
    dataprep = os.path.abspath(shutil.which(args.dataprep) or args.dataprep)
    json.dump(run_all(args.work, dataprep), sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
