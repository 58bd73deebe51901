"""manifest.json: what a run was made of and what it made -- the resolved recipe, the versions of
the software, every input file with its size and SHA-256, every output file with its rows, size
and SHA-256."""

from __future__ import annotations

import contextlib
import platform
import sys
from importlib import metadata
from typing import Any

import fsspec

from dataprep.engine.receipt import Receipt
from dataprep.io.checksums import sha256_of
from dataprep.io.layout import DATA

VERSIONED_PACKAGES = ("dataprep", "dask", "distributed", "pyarrow", "fsspec", "pydantic", "numpy",
                      "resiliparse", "fastwarc", "trafilatura", "fasttext-wheel", "kenlm", "ufal.kenlm",
                      "tokenizers", "torch")


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in VERSIONED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):  # not installed: not part of this run
            out[name] = metadata.version(name)
    return out


def hash_inputs(paths: list[str], storage_options: dict) -> list[tuple[str, int, str]]:
    """(path, size, sha256) of input files; a Dask task (one per shard, for the files that start in it)."""
    out = []
    for path in paths:
        fs, _, (p,) = fsspec.get_fs_token_paths(path, storage_options=storage_options)
        out.append((path, fs.size(p), sha256_of(fs, p)))
    return out


def build_manifest(recipe: dict[str, Any], inputs: list[tuple[str, int, str]], receipts: list[Receipt],
                   shards: int) -> dict[str, Any]:
    outputs = sorted((f.to_json(with_mtime=False) for r in receipts for f in r.outputs), key=lambda f: f["path"])
    data_files = [f for f in outputs if f["path"].startswith(f"{DATA}/")]
    return {
        "recipe": recipe,
        "versions": versions(),
        "inputs": [{"path": p, "bytes": n, "sha256": h} for p, n, h in sorted(inputs)],
        "outputs": outputs,
        "data_files": [f["path"] for f in data_files],
        "shards": shards,
        "rows": sum(f["rows"] for f in data_files),
    }
