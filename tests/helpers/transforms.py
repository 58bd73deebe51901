"""Transforms used by the tests, referred to from recipes as ``tests.helpers.transforms:Name``."""

from __future__ import annotations

import os
import time
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dataprep import Drop, Filter, GlobalTransform, Map, Params, StageOutput, document_transform, split_by_reason
from dataprep.transforms.decontaminate import Decontaminate, DecontaminateParams


class SleepParams(Params):
    seconds: float = 0.0
    gate: str | None = None  # while this file exists, every batch waits (up to two minutes)


class Sleep(Map):
    """Waits per batch (to make runs long enough to kill) and changes nothing."""

    Params = SleepParams

    def map(self, batch: pa.Table) -> pa.Table:
        time.sleep(self.params.seconds)
        deadline = time.monotonic() + 120
        while self.params.gate and os.path.exists(self.params.gate) and time.monotonic() < deadline:
            time.sleep(0.05)
        return batch


class CountSetupParams(Params):
    log_dir: str


class CountSetup(Map):
    """Records each setup() call as a file named after the process id (models load once per worker)."""

    Params = CountSetupParams

    def setup(self) -> None:
        self.token = f"{os.getpid()}-{time.time_ns()}"
        with open(os.path.join(self.params.log_dir, self.token), "w"):
            pass

    def map(self, batch: pa.Table) -> pa.Table:
        assert self.token  # set by setup on this worker
        return batch


class MinLengthParams(Params):
    chars: int = 1


class MinLength(Filter):
    """Keeps documents with at least ``chars`` characters; stores ``n_chars``."""

    Params = MinLengthParams
    reason = "min_length:too_short"

    def score(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {"n_chars": pc.utf8_length(batch.column("text")).cast(pa.int64())}

    def keep(self, scored: pa.Table) -> pa.Array:
        return pc.greater_equal(scored.column("n_chars"), self.params.chars)


class BelowMedian(GlobalTransform):
    """A barrier: removes documents shorter than the median length over the whole corpus."""

    def summarize(self, batch: pa.Table) -> pa.Table:
        return pa.table({"n": pc.utf8_length(batch.column("text")).cast(pa.int64())})

    def combine(self, summaries) -> Any:
        lengths = pa.concat_tables(summaries.tables()).column("n")
        return sorted(lengths.to_pylist())[len(lengths) // 2] if len(lengths) else 0

    def apply(self, batch: pa.Table, state: Any) -> StageOutput:
        short = pc.less(pc.utf8_length(batch.column("text")), state)
        reasons = pc.if_else(short, pa.scalar("below_median"), pa.scalar(None, pa.string()))
        return split_by_reason(batch, reasons)


@document_transform(columns={"shouted": pa.bool_()})
def shout(doc: dict, marks: int = 1) -> Any:
    """Upper-cases titles; drops documents without one."""
    if not doc.get("title"):
        return Drop("shout:no_title")
    return {"title": doc["title"].upper() + "!" * marks, "shouted": True}


class FailParams(Params):
    when_source_contains: str = "never"


class Fail(Map):
    """Raises inside a worker (to test how a failing stage is reported)."""

    Params = FailParams

    def map(self, batch: pa.Table) -> pa.Table:
        if any(self.params.when_source_contains in s for s in batch.column("source").to_pylist()):
            raise ValueError("boom from a user stage")
        return batch


class CrashParams(Params):
    when_text_contains: str = "POISON"
    how: str = "segfault"  # segfault | memory
    gigabytes: float = 2.0


class Crash(Map):
    """Kills its own process on documents whose text holds a marker: a segfault, or memory far
    past the worker's limit (held until the nanny, or the poison search, kills the process)."""

    Params = CrashParams

    def map(self, batch: pa.Table) -> pa.Table:
        if any(self.params.when_text_contains in t for t in batch.column("text").to_pylist()):
            if self.params.how == "segfault":
                import signal

                os.kill(os.getpid(), signal.SIGSEGV)
            import numpy as np

            hog = np.ones(int(self.params.gigabytes * 2**30 // 8))
            time.sleep(30)
            del hog
        return batch


class CountingDecontaminateParams(DecontaminateParams):
    log_dir: str


class CountingDecontaminate(Decontaminate):
    """decontaminate, recording each setup() (its worker's pid) and each prepare_run() as files."""

    Params = CountingDecontaminateParams

    def prepare_run(self, workdir: str, storage_options: dict):  # noqa: ANN201 - as the parent's
        with open(os.path.join(self.params.log_dir, f"prepare-{time.time_ns()}"), "w"):
            pass
        return super().prepare_run(workdir, storage_options)

    def setup(self) -> None:
        with open(os.path.join(self.params.log_dir, f"setup-{os.getpid()}-{time.time_ns()}"), "w"):
            pass
        super().setup()
