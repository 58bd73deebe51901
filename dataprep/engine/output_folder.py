"""The run's output folder: refuse one we must not use, prepare it, and remember what ran there.

Before any work, :meth:`OutputFolder.check` refuses a folder that is a file, or holds something
that neither ``--resume`` nor ``--overwrite`` allows (``--overwrite`` only deletes a folder that
holds a dataprep run).  :meth:`OutputFolder.claim` writes ``_run.json`` -- the fingerprint of the
resolved recipe (less the executor) and of the shard plan -- or, on resume, refuses when it
changed; and removes what interrupted writers left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

import fsspec

from dataprep.io.atomic import remove_leftovers, write_bytes_atomic
from dataprep.io.inputs import Shard
from dataprep.io.layout import LOCK_FILE, RUN_FILE


class OutputError(RuntimeError):
    """The output folder cannot be used: not writable, or not ours to replace."""


class OutputExistsError(OutputError):
    """The output folder holds something and neither resume nor overwrite was asked for."""


def fingerprint(recipe: dict[str, Any], shards: list[Shard]) -> dict[str, Any]:
    """What a resumed run must share with the interrupted one: the recipe and the shard plan."""
    recipe = {k: v for k, v in recipe.items() if k != "executor"}  # the cluster may change between the two
    plan = [[(p.relpath, p.size, p.start, p.end, p.row_groups) for p in s.pieces] for s in shards]
    digest = hashlib.sha256(json.dumps([recipe, plan], sort_keys=True, default=str).encode()).hexdigest()
    return {"recipe": recipe, "shards": len(shards), "plan_sha256": digest}


class OutputFolder:
    """``root`` on ``fs``; ``url`` is the path as the user gave it (for messages)."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, url: str) -> None:
        self.fs, self.root, self.url = fs, root, url

    @classmethod
    def at(cls, url: str, storage_options: dict | None = None) -> OutputFolder:
        fs, _, (root,) = fsspec.get_fs_token_paths(url, storage_options=storage_options or {})
        return cls(fs, root, url)

    def is_run(self) -> bool:
        return self.fs.exists(f"{self.root}/{RUN_FILE}")

    def entries(self) -> list[str]:
        """What the folder holds, less this run's lock."""
        if not self.fs.exists(self.root):
            return []
        return [p for p in self.fs.ls(self.root, detail=False) if p.rstrip("/").rsplit("/", 1)[-1] != LOCK_FILE]

    def check_is_folder(self) -> None:
        if self.fs.exists(self.root) and not self.fs.isdir(self.root):
            raise OutputError(f"output.path {self.url} is a file, not a folder: choose another output.path")

    def remove_if_empty(self) -> None:
        """Remove the folder if nothing is in it (a run that stopped before any work leaves no trace)."""
        with contextlib.suppress(OSError):
            if self.fs.exists(self.root) and not self.fs.ls(self.root, detail=False):
                self.fs.rmdir(self.root)

    def check(self, resume: bool, overwrite: bool) -> None:
        """Refuse a folder we must not use, before any work (nothing is changed here)."""
        self.check_is_folder()
        if self.entries():
            if overwrite and not self.is_run():
                raise OutputExistsError(f"output.path {self.url} exists and is not a dataprep run "
                                        f"(no {RUN_FILE}); refusing to delete it: choose another output.path")
            if resume and not self.is_run():
                raise OutputExistsError(f"output.path {self.url} exists but is not a dataprep run; nothing to resume")
            if not resume and not overwrite:
                raise OutputExistsError(f"output.path {self.url} already holds a run: pass --resume to "
                                        "continue it or --overwrite to replace it (or choose another output.path)")

    def prepare(self, overwrite: bool) -> None:
        """Delete the previous run (``overwrite``), create the folder, and check it is writable."""
        if overwrite and self.is_run():
            for entry in self.entries():  # all of it but the lock this run holds
                self.fs.rm(entry, recursive=True)
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            write_bytes_atomic(self.fs, f"{self.root}/.write-test", b"")
            self.fs.rm(f"{self.root}/.write-test")
        except OSError as exc:
            raise OutputError(f"output.path {self.url} is not writable ({exc}): choose another output.path") from exc

    def claim(self, run: dict[str, Any], resume: bool) -> None:
        """Record ``run`` (:func:`fingerprint`) in ``_run.json``; on resume, refuse a changed one."""
        path = f"{self.root}/{RUN_FILE}"
        if resume and self.fs.exists(path):
            previous = json.loads(self.fs.cat_file(path))
            if previous.get("plan_sha256") != run["plan_sha256"]:
                raise OutputExistsError(f"output.path {self.url}: the recipe or the input files changed since "
                                        "the interrupted run, so it cannot be resumed; use --overwrite to start again")
        else:
            write_bytes_atomic(self.fs, path, json.dumps(run, sort_keys=True, indent=1).encode())
        remove_leftovers(self.fs, self.root)

    def write_json(self, name: str, data: Any, indent: int = 1) -> None:
        write_bytes_atomic(self.fs, f"{self.root}/{name}", json.dumps(data, indent=indent).encode())

    @property
    def local(self) -> bool:
        protocols = self.fs.protocol if isinstance(self.fs.protocol, (tuple, list)) else (self.fs.protocol,)
        return bool({"file", "local"} & set(protocols))
