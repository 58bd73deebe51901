"""report.html: written by every run, rebuilt by `dataprep report`, checked in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import every_stage_recipe, run_cli, write_recipe

BAR_BLUE = (0x4C, 0x78, 0xA8)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if path is None:
        pytest.fail("no headless Chromium: scripts/test.sh installs Debian's `chromium` package; "
                    "run it or apt-get install chromium")
    return path


def headless(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def run_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    data = every_stage_recipe(root / "out", [{"minhash_dedup": {"ngram": 5, "bands": 14, "rows": 8}},
                                             {"tokenize": {"train": {"vocab_size": 500, "sample_docs": 100}}}])
    result = run_cli("run", str(write_recipe(root / "r.yaml", data)))
    assert result.returncode == 0, result.stderr
    return root / "out"


def test_every_run_writes_a_self_contained_report(run_out: Path) -> None:
    page = (run_out / "report.html").read_text()
    for section in ("Funnel", "Removals and time", "Distributions", "Near-duplicate clusters", "Samples"):
        assert f"<h2>{section}</h2>" in page
    for chart in ("documents after each stage", "tokens after each stage",
                  "documents removed or quarantined, by reason", "seconds per stage", "document length",
                  "kept documents by language", "perplexity", "quality classifier score", "clusters by size"):
        assert f"<title>{chart}" in page, chart
    assert "removed at 01-langid" in page and "langid:language_not_kept" in page
    # nothing is loaded from elsewhere: no external scripts, styles, images or fonts
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page


def test_report_renders_in_headless_chromium(run_out: Path, tmp_path: Path) -> None:
    url = (run_out / "report.html").resolve().as_uri()
    dom = headless("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    root = re.search(r"<html[^>]*>", dom.stdout).group(0)
    assert 'data-render="ok"' in root, root  # every chart laid out, no script error
    drawn, total = map(int, re.search(r'data-charts="(\d+)/(\d+)"', root).groups())
    assert drawn == total >= 10

    shot = tmp_path / "report.png"
    result = headless("--window-size=1360,2200", f"--screenshot={shot}", url)
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (2200, 1360)
    blue = np.all(np.abs(pixels.astype(int) - BAR_BLUE) < 12, axis=-1).mean()
    assert blue > 0.005, f"chart bars cover {blue:.4f} of the screenshot"  # the charts were painted
    assert len(np.unique(pixels.reshape(-1, 3)[::97], axis=0)) > 30  # text, bars, axes: not a blank page


def test_dataprep_report_rebuilds_it(run_out: Path) -> None:
    before = (run_out / "report.html").read_text()
    (run_out / "report.html").unlink()
    result = run_cli("report", str(run_out), "--samples", "1")
    assert result.returncode == 0 and f"report: {run_out}" in result.stdout
    after = (run_out / "report.html").read_text()
    def strip(page: str) -> str:
        return re.sub(r"report built [^<]*", "", re.sub(r"<h2>Samples</h2>.*", "", page, flags=re.S))

    assert strip(after) == strip(before)
    assert after.count('class="doc') < before.count('class="doc')
    missing = run_cli("report", str(run_out / "data"))
    assert missing.returncode == 2 and "no stats.json" in missing.stderr


def test_samples_take_the_first_rows_of_each_reason_in_data_order(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dataprep.report.data import dataset as _dataset
    from dataprep.report.data import samples as _samples

    reasons = ["a", "b", "a", "c", "b", "a", "a", "b", "b", None, "c", "a"]
    pq.write_table(pa.table({"id": [str(i) for i in range(12)], "text": ["t"] * 12, "reason": reasons}),
                   tmp_path / "part-0.parquet")
    picked = _samples(_dataset(tmp_path), 2, True)
    assert [(r["id"], r["reason"]) for r in picked] == [("0", "a"), ("1", "b"), ("2", "a"), ("3", "c"), ("4", "b"),
                                                        ("9", None), ("10", "c")]
    assert [r["id"] for r in _samples(_dataset(tmp_path), 3, False)] == ["0", "1", "2"]
    assert len(_samples(_dataset(tmp_path), 1, True)) == 4


def test_length_counts_in_stats_are_those_of_the_written_documents(run_out: Path) -> None:
    import json

    import pyarrow.dataset as ds

    from dataprep.engine.counts import length_counts

    stats = json.loads((run_out / "stats.json").read_text())
    for key, folder in (("kept", "data"), ("removed", "removed")):
        text = ds.dataset(str(run_out / folder), format="parquet").to_table(columns=["text"]).column("text")
        assert stats["lengths"][key] == dict(sorted(length_counts(text).items(), key=lambda kv: int(kv[0])))
        assert sum(stats["lengths"][key].values()) == len(text) > 0
    chars = [1, 9, 10, 11, 100, 0]
    import pyarrow as pa
    assert length_counts(pa.array(["x" * n for n in chars])) == {"0": 1, "7": 1, "8": 2, "16": 1, "-1": 1}
