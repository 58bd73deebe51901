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
    nltk_data(python)
    return python


# NLTK's trained English punkt model (what FineWeb's datatrove split English with) is a download
# from NLTK's own server, which this machine cannot reach; llama-index-core's wheel ships it as
# data, so its files are taken from that wheel (never installed) into benchmarks/.work/nltk_data.
PUNKT_WHEEL = "llama-index-core==0.14.25"
PUNKT_IN_WHEEL = "llama_index/core/_static/nltk_cache/tokenizers/punkt_tab/english/"


def nltk_data(python: Path) -> Path:
    """``benchmarks/.work/nltk_data``, holding ``tokenizers/punkt_tab/english`` (the peer scripts
    add it to NLTK's search path)."""
    import zipfile

    folder = WORK / "nltk_data"
    english = folder / "tokenizers" / "punkt_tab" / "english"
    if not (english / "abbrev_types.txt").exists():
        wheels = WORK / "download" / "punkt-wheel"
        subprocess.run([str(python), "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                        "-d", str(wheels), PUNKT_WHEEL], check=True)
        wheel = next(wheels.glob("llama_index_core-*.whl"))
        english.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith(PUNKT_IN_WHEEL) and not name.endswith("/"):
                    (english / name[len(PUNKT_IN_WHEEL):]).write_bytes(z.read(name))
    return folder


def run_peer(script: str, *args: str) -> dict:
    """Run ``benchmarks/peer_scripts/<script>`` in the peers' environment; return its JSON."""
    out = WORK / f"{Path(script).stem}.json"
    path = Path(__file__).resolve().parent / "peer_scripts" / script
    subprocess.run([str(peer_python()), str(path), str(out), *args], check=True)
    return json.loads(out.read_text())
