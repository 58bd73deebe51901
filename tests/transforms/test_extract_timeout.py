"""Extraction that cannot hang: a page built to be slow for each engine ends as
``extract:timeout`` within the limit, the pages after it are extracted, and no sandbox child
outlives its run.

Sandboxes are told apart by an environment variable each test sets: the other pytest-xdist
worker may start and end sandboxes of its own while one of these tests runs."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psutil
import pyarrow as pa
import pytest

from dataprep import Pipeline
from dataprep.report.inspection import read_table
from dataprep.transforms.extract import Extract

OK_PAGE = "<html><body><article><p>" + "A normal paragraph of text, page {n}. " * 20 + "</p></article></body></html>"

# Measured here: resiliparse's main-content pass is quadratic in nesting depth (20,000 nested
# divs: 14 s; 40,000: about a minute); trafilatura's pure-Python pass takes ~20 s on an
# 80,000-row table (and ~5 s on 20,000 rows).
SLOW = {
    "resiliparse": "<html><body>" + "<div>" * 40_000 + "deep text" + "</div>" * 40_000 + "</body></html>",
    "trafilatura": "<html><body><table>" + "".join(f"<tr><td>cell {i} has words</td><td>x</td></tr>"
                                                   for i in range(80_000)) + "</table></body></html>",
}
LIMIT_S = 1.0


MARK = "DATAPREP_TEST_SANDBOX_MARK"


@pytest.fixture
def mark(monkeypatch: pytest.MonkeyPatch) -> str:
    """A value every process this test starts inherits (Dask workers and their sandboxes)."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(MARK, value)
    return value


def _sandboxes(mark: str) -> set[int]:
    """Live sandbox children started by this test, wherever they were reparented."""
    found = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if ("dataprep.engine.sandbox" in " ".join(proc.info["cmdline"] or [])
                    and proc.status() != "zombie" and proc.environ().get(MARK) == mark):
                found.add(proc.info["pid"])
        except psutil.Error:
            continue
    return found


def _gone_within(mark: str, seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while (left := _sandboxes(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.parametrize("engine", ["resiliparse", "trafilatura"])
def test_a_slow_page_times_out_and_the_run_goes_on(tmp_path: Path, engine: str, mark: str) -> None:
    pages = tmp_path / "in"
    pages.mkdir()
    for n in range(4):
        (pages / f"p{n}.html").write_text(SLOW[engine] if n == 1 else OK_PAGE.format(n=n))
    t0 = time.monotonic()
    result = Pipeline(input={"path": str(pages), "format": "html"}, output=str(tmp_path / "out"),
                      stages=[{"extract": {"engine": engine, "timeout_s": LIMIT_S, "max_depth": 1_000_000,
                                           "main_content": True}}],
                      executor={"workers": 2, "processes": True}).run()
    elapsed = time.monotonic() - t0
    removed = read_table(str(tmp_path / "out" / "removed")).to_pylist()
    assert [(Path(r["source"]).name, r["reason"]) for r in removed] == [("p1.html", "extract:timeout")]
    kept = read_table(str(tmp_path / "out" / "data"))
    assert sorted(Path(s).name for s in kept.column("source").to_pylist()) == ["p0.html", "p2.html", "p3.html"]
    assert all("normal paragraph" in t for t in kept.column("text").to_pylist())
    assert result.stats["stages"][0]["removed"] == {"extract:timeout": 1}
    # the page alone takes 20 s or more; the run (cluster start included) ends well before
    assert elapsed < 18, elapsed
    assert not _gone_within(mark, 5.0), "sandbox children outlived the run"


def test_in_process_extraction_keeps_one_child_and_ends_it(mark: str) -> None:
    stage = Extract(timeout_s=LIMIT_S, max_depth=1_000_000).ensure_setup()
    batch = pa.table({"id": ["a", "b", "c"], "source": ["a", "b", "c"],
                      "text": pa.array([OK_PAGE.format(n=0), SLOW["resiliparse"], OK_PAGE.format(n=2)],
                                       pa.large_string())})
    t0 = time.monotonic()
    out = stage.process(batch)
    assert time.monotonic() - t0 < 10
    assert out.removed.column("reason").to_pylist() == ["extract:timeout"]
    assert out.kept.column("id").to_pylist() == ["a", "c"]
    assert len(_sandboxes(mark)) == 1  # the replacement child, kept for the next batch
    again = stage.process(batch.slice(0, 1))
    assert again.kept.num_rows == 1 and len(_sandboxes(mark)) == 1
    stage._sandbox().close()
    assert not _gone_within(mark, 5.0)
