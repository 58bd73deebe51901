"""extract on a real sample page, with both engines: the main content as text, the title from
<title> (trafilatura runs without its metadata pass)."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from dataprep.transforms.extract import Extract
from tests.conftest import SAMPLE_WEB


@pytest.mark.parametrize("engine", ["resiliparse", "trafilatura"])
def test_both_engines_give_the_main_text_and_the_page_title(engine: str) -> None:
    html = (SAMPLE_WEB / "en" / "page-003.html").read_text(encoding="utf-8")
    title = re.search(r"<title[^>]*>(.*?)</title", html, re.S | re.I).group(1).strip()
    batch = pa.table({"id": ["p"], "source": ["p"], "text": pa.array([html], pa.large_string())})
    out = Extract(engine=engine, timeout_s=None).ensure_setup().process(batch)
    assert out.kept.num_rows == 1
    text = out.kept.column("text")[0].as_py()
    assert len(text) > 200 and "<" not in text[:100]
    assert out.kept.column("title")[0].as_py() == title
