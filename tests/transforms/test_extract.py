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


def _pages() -> list[str]:
    pages = [p.read_text(encoding="utf-8") for p in sorted(SAMPLE_WEB.rglob("*.html"))]
    body = "<p>un paragraphe assez long pour rester après l’extraction du contenu principal, é à ü ĳ 中文</p>" * 40
    odd_titles = [
        "<title>plain</title>", "<TITLE lang=x>Upper\tcase  and   spaces</TITLE >", "<title>no end",
        "<title>a</title\u00a0> <title>b</title>",  # a closing tag only the str pattern reads (no-break space)
        "<tİtle>dotted capital I</title>",  # a letter only Unicode case folding matches
        "<title>K\u212a &amp; &eacute;</title>",
        "é" * 40_000 + "<title>past 65,536 bytes, within 65,536 characters</title>",
        "é" * 70_000 + "<title>past 65,536 characters</title>",
        "",
    ]
    pages += [f"<html><head>{t}</head><body><article>{body}</article></body></html>" for t in odd_titles]
    return pages


@pytest.mark.parametrize("engine", ["resiliparse", "trafilatura"])
def test_pages_as_utf8_bytes_give_what_they_give_as_str(engine: str) -> None:
    """The stage hands the engines the bytes of its Arrow column: text and title must be those of the str."""
    from dataprep.text.html_extract import extract_page, page_title

    pages = _pages()
    assert len(pages) > 10
    for html in pages:
        data = html.encode("utf-8")
        assert page_title(data) == page_title(html), html[:200]
        assert extract_page(data, engine, True, False) == extract_page(html, engine, True, False)
    titles = [page_title(p) for p in pages[-9:]]
    assert titles[:3] == ["plain", "Upper case and spaces", None]
    assert titles[3] == "a" and titles[4] == "dotted capital I" and titles[6] is not None and titles[7] is None
