"""The ledger: the promise that nothing is lost, checked at the end of every run.

For the input, every record read is a document or a quarantine row; for every stage,
documents in = kept + removed + quarantined (documents isolated for crashing the worker); each
stage receives what the previous one kept; and the files on disk hold exactly those counts.
"""

from __future__ import annotations

from typing import Any


class LedgerError(RuntimeError):
    """Counts that do not add up: a bug (in a stage or in dataprep), never a data problem."""


def check_ledger(stats: dict[str, Any]) -> list[str]:
    """The violated ledger equations of a stats.json structure with ``_files`` (empty when the books balance)."""
    errors = []
    reader = stats["input"]
    quarantined = sum(reader["quarantined"].values())
    if reader["inputs"] != reader["docs"] + quarantined:
        errors.append(f"input: {reader['inputs']} records read != {reader['docs']} documents "
                      f"+ {quarantined} quarantined")
    upstream = reader["docs"]
    stage_quarantined = 0
    for s in stats["stages"]:
        removed = sum(s["removed"].values())
        crashed = sum(s.get("quarantined", {}).values())
        stage_quarantined += crashed
        name = f"stage {s['index']} {s['stage']}"
        if s["docs_in"] != upstream:
            errors.append(f"{name}: received {s['docs_in']} documents, previous stage kept {upstream}")
        if s["docs_in"] != s["docs_out"] + removed + crashed:
            errors.append(f"{name}: {s['docs_in']} in != {s['docs_out']} kept + {removed} removed "
                          f"+ {crashed} quarantined")
        upstream = s["docs_out"]
    files = stats.get("_files", {})
    on_disk = {
        "data": sum(n for p, n in files.items() if p.startswith("data/")),
        "quarantine": sum(n for p, n in files.items() if p.startswith("quarantine/")),
    }
    if on_disk["data"] != upstream:
        errors.append(f"output: data/ holds {on_disk['data']} rows, the last stage kept {upstream}")
    if on_disk["quarantine"] != quarantined + stage_quarantined:
        errors.append(f"quarantine/ holds {on_disk['quarantine']} rows, the readers quarantined {quarantined} "
                      f"and the stages {stage_quarantined}")
    for s in stats["stages"]:
        prefix = f"removed/{s['index']:02d}-"
        rows = sum(n for p, n in files.items() if p.startswith(prefix))
        removed = sum(s["removed"].values())
        if rows != removed:
            errors.append(f"stage {s['index']} {s['stage']}: {prefix}* holds {rows} rows, stats say {removed}")
    return errors
