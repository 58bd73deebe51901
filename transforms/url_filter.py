"""``url_filter``: remove documents whose URL is on a block list.

Block lists are files (one entry per line, ``#`` comments) or inline lists.  A *domain* entry
blocks that host and every subdomain (``example.com`` blocks ``www.example.com``); a
*substring* entry blocks any URL containing it (case-insensitive).  Hosts are extracted and
lower-cased with Arrow kernels; each level of parent domain is looked up in a hash set, so the
cost does not grow with the length of the domain list.
"""

from __future__ import annotations

import re
from typing import Literal

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.transform import Filter, Params

HOST = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//(?:[^@/?#]*@)?(?P<host>\[[^\]]*\]|[^:/?#]+)"
MAX_LABELS = 12


def read_list(path: str) -> list[str]:
    """Entries of a block-list file: stripped, lower-cased, without blanks and # comments."""
    with fsspec.open(path, "rt", encoding="utf-8") as f:
        return [line.split("#", 1)[0].strip().lower() for line in f if line.split("#", 1)[0].strip()]


class UrlFilterParams(Params):
    domains_file: str | None = Field(None, description="file of blocked domains (subdomains are blocked too)")
    substrings_file: str | None = Field(None, description="file of blocked URL substrings")
    domains: list[str] = Field(default_factory=list, description="blocked domains, inline")
    substrings: list[str] = Field(default_factory=list, description="blocked URL substrings, inline")
    url_field: str = Field("url", description="column holding the URL")
    missing: Literal["keep", "remove"] = Field(
        "keep", description="documents without a URL: keep or remove (url_filter:no_url)")


class UrlFilter(Filter):
    """Adds ``url_domain``; removes ``url_filter:blocked_domain`` / ``url_filter:blocked_substring``."""

    name = "url_filter"
    Params = UrlFilterParams

    def setup(self) -> None:
        p = self.params
        domains = [d.lower().strip(".") for d in p.domains] + (read_list(p.domains_file) if p.domains_file else [])
        substrings = [s.lower() for s in p.substrings] + (read_list(p.substrings_file) if p.substrings_file else [])
        self.blocked = pa.array(sorted(set(domains)), pa.string())
        self.substring_re = "|".join(re.escape(s) for s in sorted(set(substrings))) or None

    def _urls(self, batch: pa.Table) -> pa.Array:
        if self.params.url_field not in batch.schema.names:
            return pa.nulls(batch.num_rows, pa.string())
        return batch.column(self.params.url_field).cast(pa.string())

    def score(self, batch: pa.Table) -> dict[str, pa.Array]:
        hosts = pc.struct_field(pc.extract_regex(self._urls(batch), HOST), "host")
        hosts = pc.utf8_lower(pc.utf8_rtrim(hosts, characters="."))
        return {"url_domain": hosts.cast(pa.string())}

    def keep(self, scored: pa.Table) -> pa.Array:
        n = scored.num_rows
        hosts = scored.column("url_domain")
        urls = self._urls(scored)
        blocked_domain = np.zeros(n, dtype=bool)
        if len(self.blocked):
            suffix = hosts
            for _ in range(MAX_LABELS):
                blocked_domain |= np.asarray(pc.fill_null(pc.is_in(suffix, value_set=self.blocked), False), dtype=bool)
                shorter = pc.replace_substring_regex(suffix, r"^[^.]*\.", "")
                if pc.all(pc.fill_null(pc.equal(shorter, suffix), True)).as_py():
                    break
                suffix = shorter
        blocked_sub = np.zeros(n, dtype=bool)
        if self.substring_re:
            found = pc.match_substring_regex(pc.utf8_lower(urls), self.substring_re)
            blocked_sub = np.asarray(pc.fill_null(found, False), dtype=bool)
        missing = np.asarray(pc.is_null(urls), dtype=bool) | (np.asarray(pc.fill_null(pc.utf8_length(urls), 0)) == 0)
        reasons = np.full(n, None, dtype=object)
        if self.params.missing == "remove":
            reasons[missing] = "url_filter:no_url"
        reasons[blocked_domain & (reasons == None)] = "url_filter:blocked_domain"  # noqa: E711 - element-wise on a NumPy array
        reasons[blocked_sub & (reasons == None)] = "url_filter:blocked_substring"  # noqa: E711 - element-wise on a NumPy array
        return pa.array(reasons.tolist(), pa.string())
