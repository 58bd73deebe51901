"""Main-content text and title of one HTML page, with resiliparse or trafilatura.

What the ``extract`` stage's sandboxed child runs for every page: this module imports only the
standard library (the engines on first use), so the child starts in a tenth of a second.
"""

from __future__ import annotations

import re
from html import unescape

TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def page_title(html: str) -> str | None:
    """The page's <title>, unescaped and with white space folded (None without one)."""
    match = TITLE.search(html, 0, 65536)  # the head comes first; do not scan huge bodies
    if match is None:
        return None
    title = " ".join(unescape(match.group(1)).split())
    return title or None


def extract_page(html: str, engine: str, main_content: bool, links: bool,
                 deduplicate: bool = False) -> tuple[str, str | None]:
    """The text and title of one page (what the sandboxed child runs)."""
    if engine == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text

        # Given the string, resiliparse parses and frees its DOM inside one call. A Python-side
        # HTMLTree may instead be freed by the garbage collector on another thread of the Dask
        # worker, which resiliparse forbids ("unsendable ... dropped on another thread").
        text = extract_plain_text(html, main_content=main_content, links=links, alt_texts=False, noscript=False,
                                  comments=False)
        return text, page_title(html)
    import trafilatura

    # extract() without metadata: the metadata pass costs ~0.6x the extraction itself, and the
    # title comes from <title>, as for resiliparse
    text = trafilatura.extract(html, include_comments=False, favor_precision=main_content, with_metadata=False,
                               deduplicate=deduplicate)
    return text or "", page_title(html)
