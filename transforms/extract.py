"""``extract``: main-content text from HTML.

Engines: ``resiliparse`` (default; fast, C++) and ``trafilatura`` (pure Python, slower,
sometimes cleaner on article pages).  Extraction is one library call per page -- the C++ engine
does the work, so the Python loop over a batch is not the hot path.  Pages that yield no text
(or fewer than ``min_chars`` characters), and WARC responses that are not HTML, are removed
with a reason; removed rows keep the original HTML for inspection.  Main-content extraction
takes time quadratic in the nesting depth of the page (100,000 nested elements: minutes), so
pages nested deeper than ``max_depth`` are removed (``extract:too_deep``) before extraction; a
page with fewer tags than twice the limit is never scanned.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from dataprep.schema import TEXT
from dataprep.transform import Params, StageOutput, Transform, set_columns, split_by_reason

HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xhtml", "text/xhtml")
CONTAINER_TAG = re.compile(r"<(/?)(?:div|span|section|article|table|tbody|tr|td|ul|ol|li|a|b|i|em|strong|font|center|"
                           r"blockquote|form|main|header|footer|nav|aside|dl|dd|dt|pre|code|p)[\s>]", re.IGNORECASE)
TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def _title(html: str) -> str | None:
    """The page's <title>, unescaped and with white space folded (None without one)."""
    match = TITLE.search(html, 0, 65536)  # the head comes first; do not scan huge bodies
    if match is None:
        return None
    title = " ".join(unescape(match.group(1)).split())
    return title or None


class ExtractParams(Params):
    engine: Literal["resiliparse", "trafilatura"] = Field("resiliparse", description="extraction engine")
    main_content: bool = Field(True, description="keep only the main content (drop navigation, footers, ads)")
    min_chars: int = Field(1, ge=0, description="pages with fewer extracted characters are removed (extract:no_text)")
    links: bool = Field(False, description="resiliparse: keep link targets in the text")
    max_depth: int = Field(10_000, ge=100, description="pages whose elements nest deeper are removed "
                           "(extract:too_deep): main-content extraction time grows with the square of the depth")


class Extract(Transform):
    """Replace the HTML in ``text`` by its extracted text; add ``title``."""

    name = "extract"
    Params = ExtractParams

    def _resiliparse(self, html: str) -> tuple[str, str | None]:
        from resiliparse.extract.html2text import extract_plain_text

        # Given the string, resiliparse parses and frees its DOM inside one call. A Python-side
        # HTMLTree may instead be freed by the garbage collector on another thread of the Dask
        # worker, which resiliparse forbids ("unsendable ... dropped on another thread").
        text = extract_plain_text(html, main_content=self.params.main_content, links=self.params.links,
                                  alt_texts=False, noscript=False, comments=False)
        return text, _title(html)

    def _trafilatura(self, html: str) -> tuple[str, str | None]:
        import trafilatura

        doc = trafilatura.bare_extraction(html, include_comments=False, favor_precision=self.params.main_content,
                                          with_metadata=True)
        if doc is None:
            return "", None
        data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
        return data.get("text") or "", data.get("title")

    def _too_deep(self, html: str) -> bool:
        # Only a page with more tags than the limit can nest deeper than it (str.count is
        # cheap); such pages get the exact count of open container elements.
        if html.count("<") <= 2 * self.params.max_depth:
            return False
        signs = CONTAINER_TAG.findall(html)
        depth = np.cumsum(np.fromiter((-1 if x else 1 for x in signs), dtype=np.int32, count=len(signs)))
        return bool(len(depth)) and int(depth.max()) > self.params.max_depth

    def process(self, batch: pa.Table) -> StageOutput:
        engine = self._resiliparse if self.params.engine == "resiliparse" else self._trafilatura
        has_types = "content_type" in batch.schema.names
        types = batch.column("content_type").to_pylist() if has_types else [None] * batch.num_rows
        texts, titles, reasons = [], [], []
        for html, ctype in zip(batch.column(TEXT).to_pylist(), types):
            if ctype is not None and not ctype.startswith(HTML_TYPES):
                texts.append("")
                titles.append(None)
                reasons.append("extract:not_html")
                continue
            if html and self.params.engine == "resiliparse" and self.params.main_content and self._too_deep(html):
                texts.append("")
                titles.append(None)
                reasons.append("extract:too_deep")
                continue
            text, title = engine(html) if html else ("", None)
            text = text.strip()
            texts.append(text)
            titles.append(title)
            reasons.append("extract:no_text" if len(text) < max(self.params.min_chars, 1) else None)
        out = set_columns(batch, {TEXT: pa.array(texts, pa.large_string()), "title": pa.array(titles, pa.string())})
        original = set_columns(batch, {"title": pa.array(titles, pa.string())})
        return split_by_reason(out, pa.array(reasons, pa.string()), removed_source=original)
