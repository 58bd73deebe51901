"""Atomic writes: every file a run (or the trainer) writes appears whole or not at all.

A file is written under a temporary name beside its final one -- the final name plus
:data:`TMP_MARK` and a random suffix -- and renamed into place when complete.  A reader, or a
resumed run, never sees half a file; what a killed writer leaves behind carries
:data:`TMP_MARK` in its name, so :func:`remove_leftovers` finds it.  Every writer in dataprep
goes through :class:`AtomicFile` (streaming writers; :func:`atomic_file` by URL),
:func:`write_bytes_atomic` (small files) -- both on any fsspec filesystem -- or, for libraries
that write to a file name of their own (fastText, matplotlib), :func:`atomic_path`.  The one
exception is the trainer's ``metrics.jsonl``, a log appended a line per step.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

import fsspec

TMP_MARK = ".tmp-"


def temporary_path(path: str) -> str:
    """A fresh temporary name beside ``path`` (same folder, so the rename stays on one filesystem)."""
    return f"{path}{TMP_MARK}{uuid.uuid4().hex[:8]}"


class AtomicFile:
    """A binary file open for writing under a temporary name; :meth:`commit` renames it to
    ``path``, :meth:`abort` removes it.  As a context manager it commits on success and aborts
    on an exception."""

    def __init__(self, fs: fsspec.AbstractFileSystem, path: str) -> None:
        self.fs, self.path = fs, path
        self.tmp = temporary_path(path)
        fs.makedirs(fs._parent(path), exist_ok=True)
        self.file: IO[bytes] = fs.open(self.tmp, "wb")
        self._done = False

    def commit(self) -> None:
        self.file.close()
        self.fs.mv(self.tmp, self.path)
        self._done = True

    def abort(self) -> None:
        """Close and delete the temporary file (best effort: it is our own leftover)."""
        if self._done:
            return
        self._done = True
        try:
            self.file.close()
            if self.fs.exists(self.tmp):
                self.fs.rm(self.tmp)
        except Exception:  # noqa: BLE001 - cleanup must not hide the error that caused it
            pass

    def __enter__(self) -> IO[bytes]:
        return self.file

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def atomic_file(path: str, storage_options: dict | None = None) -> AtomicFile:
    """:class:`AtomicFile` for a local path or fsspec URL."""
    fs, _, (p,) = fsspec.get_fs_token_paths(path, storage_options=storage_options or {})
    return AtomicFile(fs, p)


def write_bytes_atomic(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Write a small file (JSON, HTML) atomically."""
    with AtomicFile(fs, path) as f:
        f.write(data)


def write_local_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """:func:`write_bytes_atomic` for a local path (str data is written as UTF-8)."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    write_bytes_atomic(fsspec.filesystem("file"), str(path.absolute()), raw)
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary local file name beside ``path`` for a writer that takes a name; renamed to
    ``path`` when the block succeeds, removed when it raises."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(str(final))
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def remove_leftovers(fs: fsspec.AbstractFileSystem, root: str) -> int:
    """Delete the temporary files an interrupted writer left under ``root``; how many."""
    leftovers = fs.glob(f"{root}/**/*{TMP_MARK}*")
    for path in leftovers:
        fs.rm(path, recursive=True)
    return len(leftovers)
