"""``extract``: main-content text from HTML.

Engines: ``resiliparse`` (default; fast, C++) and ``trafilatura`` (pure Python, slower,
sometimes cleaner on article pages).  Extraction is one library call per page -- the C++ engine
does the work, so the Python loop over a batch is not the hot path.  Pages that yield no text
(or fewer than ``min_chars`` characters), and WARC responses that are not HTML, are removed
with a reason; removed rows keep the original HTML for inspection.  Main-content extraction
takes time quadratic in the nesting depth of the page (100,000 nested elements: minutes), so
pages nested deeper than ``max_depth`` are removed (``extract:too_deep``) before extraction; a
page with fewer tags than twice the limit is never scanned.

Extraction runs in a child process of the worker (:mod:`dataprep.engine.sandbox`, one per
worker thread, started once): a page that takes longer than ``timeout_s`` gets its child killed
and is removed as ``extract:timeout``; one that crashes the child (a native fault) is removed
as ``extract:crashed``; either way a new child takes the rest of the batch.  The child costs a
copy of each page through a pipe, a few percent of the extraction time.  Pages go to the engine as
the UTF-8 bytes of the column (:mod:`dataprep.text.html_extract`), never decoded to ``str``.
"""

from __future__ import annotations

import re
import threading
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from dataprep.engine.sandbox import CRASHED, ERROR, OK, TIMEOUT, Sandbox
from dataprep.schema import TEXT
from dataprep.text.html_extract import extract_page
from dataprep.transform import Params, StageOutput, Transform, set_columns, split_by_reason

HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xhtml", "text/xhtml")
CONTAINER_TAG = re.compile(r"<(/?)(?:div|span|section|article|table|tbody|tr|td|ul|ol|li|a|b|i|em|strong|font|center|"
                           r"blockquote|form|main|header|footer|nav|aside|dl|dd|dt|pre|code|p)[\s>]", re.IGNORECASE)
FAILED = {TIMEOUT: "extract:timeout", CRASHED: "extract:crashed", ERROR: "extract:error"}
#: run once by each sandbox child before its first page: the engines set themselves up on their first call
WARMUP_PAGE = ("<html><head><title>t</title></head><body><article><p>A paragraph of a few words.</p>"
               "</article></body></html>")


class ExtractParams(Params):
    engine: Literal["resiliparse", "trafilatura"] = Field("resiliparse", description="extraction engine")
    main_content: bool = Field(True, description="keep only the main content (drop navigation, footers, ads)")
    min_chars: int = Field(1, ge=0, description="pages with fewer extracted characters are removed (extract:no_text)")
    links: bool = Field(False, description="resiliparse: keep link targets in the text")
    deduplicate: bool = Field(False, description="trafilatura: drop repeated text segments within a page "
                              "(its deduplicate option; FineWeb's setting, through datatrove, is true)")
    max_depth: int = Field(10_000, ge=100, description="pages whose elements nest deeper are removed "
                           "(extract:too_deep): main-content extraction time grows with the square of the depth")
    timeout_s: float | None = Field(5.0, gt=0, description="seconds a page may take: extraction runs in a child "
                                    "process, killed and restarted for a page that takes longer (extract:timeout) "
                                    "or crashes it (extract:crashed); null: in the worker, no limit")


class Extract(Transform):
    """Replace the HTML in ``text`` by its extracted text; add ``title``."""

    name = "extract"
    Params = ExtractParams

    def _config(self) -> dict:
        p = self.params
        return {"engine": p.engine, "main_content": p.main_content, "links": p.links, "deduplicate": p.deduplicate}

    def _sandbox(self) -> Sandbox:
        # a child per thread (a Dask worker may run tasks on several), made on first use
        local = self.__dict__.setdefault("_sandboxes", threading.local())
        box = getattr(local, "box", None)
        if box is None:
            box = local.box = Sandbox("dataprep.text.html_extract:extract_page", self._config(), self.params.timeout_s,
                                      warmup=WARMUP_PAGE.encode())
        return box

    def _extract(self, pages: list[bytes]) -> list[tuple[str, tuple[str, str | None] | None]]:
        """(status, (text, title)) per page: in the sandbox when there is a time limit."""
        if self.params.timeout_s is None:
            return [(OK, extract_page(html, **self._config())) for html in pages]
        return self._sandbox().map(pages)

    def _too_deep(self, html: bytes) -> bool:
        # Only a page with more tags than the limit can nest deeper than it (bytes.count is
        # cheap, and "<" is one byte in UTF-8); such pages get the exact count of open container elements.
        if html.count(b"<") <= 2 * self.params.max_depth:
            return False
        signs = CONTAINER_TAG.findall(html.decode("utf-8", "replace"))
        depth = np.cumsum(np.fromiter((-1 if x else 1 for x in signs), dtype=np.int32, count=len(signs)))
        return bool(len(depth)) and int(depth.max()) > self.params.max_depth

    def process(self, batch: pa.Table) -> StageOutput:
        has_types = "content_type" in batch.schema.names
        types = batch.column("content_type").to_pylist() if has_types else [None] * batch.num_rows
        # UTF-8 bytes, not str: no decoding here, no encoding by pickle or by the engine (html_extract)
        pages = batch.column(TEXT).cast(pa.large_binary()).to_pylist()
        texts: list[str] = [""] * len(pages)
        titles: list[str | None] = [None] * len(pages)
        reasons: list[str | None] = [None] * len(pages)
        todo = []
        for i, (html, ctype) in enumerate(zip(pages, types)):
            if ctype is not None and not ctype.startswith(HTML_TYPES):
                reasons[i] = "extract:not_html"
            elif not html:
                reasons[i] = "extract:no_text"
            elif self.params.engine == "resiliparse" and self.params.main_content and self._too_deep(html):
                reasons[i] = "extract:too_deep"
            else:
                todo.append(i)
        for i, (status, value) in zip(todo, self._extract([pages[i] for i in todo])):
            if status != OK:
                reasons[i] = FAILED.get(status, "extract:error")
                continue
            text, titles[i] = value
            texts[i] = text.strip()
            if len(texts[i]) < max(self.params.min_chars, 1):
                reasons[i] = "extract:no_text"
        out = set_columns(batch, {TEXT: pa.array(texts, pa.large_string()), "title": pa.array(titles, pa.string())})
        original = set_columns(batch, {"title": pa.array(titles, pa.string())})
        return split_by_reason(out, pa.array(reasons, pa.string()), removed_source=original)
