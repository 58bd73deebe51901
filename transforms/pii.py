"""``pii``: redact e-mail addresses, IP addresses (v4 and v6) and phone numbers.

Each kind is replaced by a placeholder with one RE2 regular expression over the whole batch
(Arrow ``replace_substring_regex``); redactions are counted per kind into stats.json
(``pii:email`` ...) and per document (``pii_redactions``).  Kinds run in a fixed order --
e-mail, IPv6, IPv4, phone -- so that a later pattern never sees the inside of an earlier
placeholder.  Phone numbers are matched in international form (``+`` and country code) and
the North American ``(555) 123-4567`` / ``555-123-4567`` forms; dates such as 2024-03-15 are
not phone numbers.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.schema import TEXT
from dataprep.transform import Map, Params, StageOutput, set_columns

_BYTE = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_H = r"[0-9A-Fa-f]{1,4}"
PATTERNS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
             r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}",
    "ipv6": rf"(?:\b(?:{_H}:){{7}}{_H}\b|\b(?:{_H}:){{1,6}}:(?:{_H}(?::{_H}){{0,5}})?\b"
            rf"|::(?:ffff:)?{_H}(?::{_H}){{0,6}}\b)",
    "ipv4": rf"\b{_BYTE}\.{_BYTE}\.{_BYTE}\.{_BYTE}\b",
    "phone": r"(?:\+\d{1,3}[\s.\-]?(?:\(\d{1,4}\)[\s.\-]?)?\d{1,4}(?:[\s.\-]?\d{2,4}){2,4}\b"
             r"|(?:\(\d{3}\)\s?|\b\d{3}[.\-])\d{3}[.\-]\d{4}\b)",
}
Kind = Literal["email", "ip", "phone"]


class PiiParams(Params):
    kinds: list[Kind] = Field(default_factory=lambda: ["email", "ip", "phone"], description="what to redact")
    email_placeholder: str = Field("<EMAIL>", description="replaces e-mail addresses")
    ip_placeholder: str = Field("<IP_ADDRESS>", description="replaces IPv4 and IPv6 addresses")
    phone_placeholder: str = Field("<PHONE>", description="replaces phone numbers")


class Pii(Map):
    """Redact personal data in ``text``; add ``pii_redactions`` (int32)."""

    name = "pii"
    Params = PiiParams

    def _steps(self) -> list[tuple[str, str, str]]:
        p = self.params
        steps = []
        if "email" in p.kinds:
            steps.append(("email", PATTERNS["email"], p.email_placeholder))
        if "ip" in p.kinds:
            steps += [("ipv6", PATTERNS["ipv6"], p.ip_placeholder), ("ipv4", PATTERNS["ipv4"], p.ip_placeholder)]
        if "phone" in p.kinds:
            steps.append(("phone", PATTERNS["phone"], p.phone_placeholder))
        return steps

    def process(self, batch: pa.Table) -> StageOutput:
        text = batch.column(TEXT)
        total = np.zeros(batch.num_rows, np.int64)
        counters: dict[str, int] = {}
        for kind, pattern, placeholder in self._steps():
            found = np.asarray(pc.count_substring_regex(text, pattern), dtype=np.int64)
            if found.any():
                text = pc.replace_substring_regex(text, pattern, placeholder.replace("\\", "\\\\"))
            counters[f"pii:{kind}"] = int(found.sum())
            total += found
        out = set_columns(batch, {TEXT: text, "pii_redactions": pa.array(total.astype(np.int32))})
        return StageOutput(kept=out, counters=counters)
