"""The folders and files of a run's output (DESIGN §3), named once for every module that
reads or writes them."""

from __future__ import annotations

DATA = "data"  # the kept documents (the last group's output)
REMOVED = "removed"  # removed/<NN-stage>/: documents removed by each stage, with their reason
QUARANTINE = "quarantine"  # inputs that could not be read
STAGES = "stages"  # stages/<NN-stage>/: receipts, intermediate shards, barrier summaries and state
LOGS = "logs"  # worker logs of a run that failed or warned
LOCK_FILE = "_lock.json"  # the run that holds the folder (only while it runs)
RUN_FILE = "_run.json"  # the fingerprint of the resolved recipe and the shard plan (resume checks it)
STATS_FILE = "stats.json"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.html"


def stage_folder(index: int, slug: str) -> str:
    """``NN-slug``: a stage's position (as in ``--set stages.NN``) and its file-system-safe name."""
    return f"{index:02d}-{slug}"
