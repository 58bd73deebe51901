"""Documents that crash the worker process (a native extension's segfault, a page that runs it
out of memory): what the poison search found about each, and how it is quarantined.

A :class:`Crash` names the stage (its index in the recipe) that was running on the document when
its process died, and how it died.  The shard then runs again with those documents quarantined
just before that stage, with reason ``worker_crash``, so the rest of the shard completes and the
ledger holds (for that stage: in = kept + removed + quarantined).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from dataprep.schema import ID, QUARANTINE_SCHEMA, SOURCE, TEXT

WORKER_CRASH = "worker_crash"
RAW_LIMIT = 64 * 1024  # bytes of a crashing document's text kept in its quarantine row


@dataclass(frozen=True)
class Crash:
    stage: int  # index in the recipe of the stage that was running on the document
    error: str  # how the process died: "signal 11 (SIGSEGV)", "memory: RSS 1.2 GB over the 1.0 GB limit"


def crash_rows(docs: pa.Table, crashes: dict[str, Crash], stage_name: str) -> pa.Table:
    """Quarantine rows (``QUARANTINE_SCHEMA``) for ``docs``, every one of which is in ``crashes``."""
    ids = docs.column(ID).to_pylist()
    text = pc.utf8_slice_codeunits(docs.column(TEXT), 0, RAW_LIMIT).to_pylist()
    return pa.table({
        ID: pa.array(ids, pa.string()),
        SOURCE: docs.column(SOURCE).cast(pa.string()),
        "reason": pa.array([WORKER_CRASH] * len(ids), pa.string()),
        "error": pa.array([f"stage {crashes[i].stage:02d} {stage_name}: the worker process died: {crashes[i].error}"
                           for i in ids], pa.string()),
        "raw_size": pc.binary_length(docs.column(TEXT)).cast(pa.int64()),
        "raw": pa.array([t.encode("utf-8", "replace") for t in text], pa.large_binary()),
    }, schema=QUARANTINE_SCHEMA)
