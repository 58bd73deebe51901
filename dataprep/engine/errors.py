"""The errors a run raises while it processes (the output folder's are in
:mod:`dataprep.engine.output_folder`, the ledger's in :mod:`dataprep.engine.ledger`)."""

from __future__ import annotations


class RunError(RuntimeError):
    """A run failed while processing (a stage raised, a worker failed repeatedly, ...).
    ``log`` is the file that holds Dask's worker logs of the failure, when one was written."""

    def __init__(self, message: str, log: str | None = None) -> None:
        super().__init__(message + (f" (Dask worker log: {log})" if log else ""))
        self.log = log

    def __reduce__(self) -> tuple:
        return (_run_error, (str(self), self.log))


def _run_error(text: str, log: str | None) -> RunError:
    error = RunError.__new__(RunError)
    RuntimeError.__init__(error, text)
    error.log = log
    return error


class StageError(RuntimeError):
    """A stage raised on a shard (or in its barrier's combine); the message names the stage
    (index and name) and the shard.  Raised on a worker, it reaches the client as is."""


def stage_error(index: int, name: str, where: str, exc: BaseException) -> StageError:
    return StageError(f"stage {index:02d} {name} failed {where}: {type(exc).__name__}: {exc}")
