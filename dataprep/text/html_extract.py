"""Main-content text and title of one HTML page, with resiliparse or trafilatura.

What the ``extract`` stage's sandboxed child runs for every page: this module imports only the
standard library (the engines on first use), so the child starts in a tenth of a second.

A page comes as ``str`` or as its UTF-8 ``bytes`` (what the stage sends: the bytes of its Arrow
column, neither decoded by the worker nor re-encoded by pickle).  resiliparse parses bytes
directly, about a sixth faster than a ``str`` it must encode first, and with the same text; the
title is found in the bytes and read from the decoded head, exactly as in the ``str``.
"""

from __future__ import annotations

import re
from html import unescape

TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
TITLE_BYTES = re.compile(TITLE.pattern.encode(), re.IGNORECASE | re.DOTALL)
HEAD_CHARS = 65536  # the head comes first; do not scan huge bodies


def _head(html: bytes) -> str:
    """The text of the first ``HEAD_CHARS`` characters (or more) of UTF-8 ``html``."""
    # Where the bytes have a title, every match the str search could find first ends by its end
    # (the bytes pattern is the stricter one, and both are lazy up to a closing tag); otherwise
    # 4 bytes per character, and 3 for one cut there, hold the whole head.
    match = TITLE_BYTES.search(html, 0, HEAD_CHARS)
    end = match.end() if match is not None else 4 * HEAD_CHARS + 3
    return html[:end].decode("utf-8", "ignore")


def page_title(html: str | bytes) -> str | None:
    """The page's <title> (within its first ``HEAD_CHARS`` characters), unescaped and with white
    space folded (None without one)."""
    match = TITLE.search(_head(html) if isinstance(html, bytes) else html, 0, HEAD_CHARS)
    if match is None:
        return None
    title = " ".join(unescape(match.group(1)).split())
    return title or None


def extract_page(html: str | bytes, engine: str, main_content: bool, links: bool,
                 deduplicate: bool = False) -> tuple[str, str | None]:
    """The text and title of one page, given as ``str`` or UTF-8 ``bytes`` (what the sandboxed child runs)."""
    if engine == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.html import HTMLTree

        # The tree is dropped here, in the thread that made it: one that the garbage collector
        # frees later may be freed on another thread of a Dask worker, which resiliparse forbids
        # ("unsendable ... dropped on another thread").
        tree = HTMLTree.parse_from_bytes(html, "utf-8") if isinstance(html, bytes) else html
        try:
            text = extract_plain_text(tree, main_content=main_content, links=links, alt_texts=False, noscript=False,
                                      comments=False)
        finally:
            del tree
        return text, page_title(html)
    import trafilatura

    if isinstance(html, bytes):
        html = html.decode("utf-8", "replace")  # not trafilatura's own guess of the encoding: the text is UTF-8

    # extract() without metadata: the metadata pass costs ~0.6x the extraction itself, and the
    # title comes from <title>, as for resiliparse
    text = trafilatura.extract(html, include_comments=False, favor_precision=main_content, with_metadata=False,
                               deduplicate=deduplicate)
    return text or "", page_title(html)
