"""Benchmark corpora of real HTML that nobody here wrote.

``python3.11-doc`` is Debian's package of the CPython HTML documentation (~530 pages, ~50 MB):
fetched with ``apt-get download`` and unpacked with ``dpkg -x`` into ``benchmarks/.work``
(ignored by git), once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"


def debian_html_corpus(package: str = "python3.11-doc") -> Path:
    """Folder of the package's HTML pages (downloaded and unpacked on first use)."""
    target = WORK / "corpus" / package
    if target.exists() and any(target.rglob("*.html")):
        return target
    download = WORK / "download"
    download.mkdir(parents=True, exist_ok=True)
    if not list(download.glob(f"{package}_*.deb")):
        fetch = subprocess.run(["apt-get", "download", package], cwd=download, capture_output=True, text=True)
        if fetch.returncode != 0:  # the package lists may be missing on a fresh machine
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(["apt-get", "download", package], cwd=download, check=True)
    deb = sorted(download.glob(f"{package}_*.deb"))[-1]
    unpacked = WORK / "unpacked" / package
    unpacked.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg", "-x", str(deb), str(unpacked)], check=True)
    target.mkdir(parents=True, exist_ok=True)
    for page in unpacked.rglob("*.html"):
        rel = page.relative_to(unpacked)
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(page, dest)
    return target


def corpus_stats(folder: Path) -> tuple[int, int]:
    pages = list(folder.rglob("*.html"))
    return len(pages), sum(p.stat().st_size for p in pages)


def replicated(folder: Path, copies: int) -> Path:
    """``folder`` copied ``copies`` times side by side (copy-0/, copy-1/, ...) for a larger run.

    Copies are hard links (no extra disk); their paths differ, so their document ids differ."""
    if copies <= 1:
        return folder
    target = WORK / "corpus" / f"{folder.name}-x{copies}"
    if not (target / f"copy-{copies - 1}").exists():
        for i in range(copies):
            shutil.copytree(folder, target / f"copy-{i}", dirs_exist_ok=True, copy_function=os.link)
    return target
