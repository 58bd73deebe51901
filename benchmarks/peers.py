"""The peers we measure against live in their own virtual environment
(``benchmarks/.work/venv-peers``), so their dependencies never touch dataprep's.  Helper
scripts run there and talk to the benchmark through files (Parquet in, JSON out)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from corpus import WORK

VENV = WORK / "venv-peers"
# spacy: the word tokenizer of datatrove's sentence dedup; [io] (warcio, faust-cchardet, python-magic)
# and lxml_html_clean (trafilatura 1.x with lxml 5+): its WarcReader and Trafilatura extractor;
# aiohttp, requests: its model cache names a cached model by its URL through fsspec's HTTP filesystem
PACKAGES = ["datatrove[processing,io]==0.10.1", "lxml_html_clean", "aiohttp", "requests", "datasketch", "pyarrow",
            "orjson", "spacy"]


def peer_python() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / ".packages"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not stamp.exists() or stamp.read_text() != " ".join(PACKAGES):
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PACKAGES],
                       check=True)
        stamp.write_text(" ".join(PACKAGES))
    return python


def run_peer(script: str, *args: str) -> dict:
    """Run ``benchmarks/peer_scripts/<script>`` in the peers' environment; return its JSON."""
    out = WORK / f"{Path(script).stem}.json"
    path = Path(__file__).resolve().parent / "peer_scripts" / script
    subprocess.run([str(peer_python()), str(path), str(out), *args], check=True)
    return json.loads(out.read_text())
