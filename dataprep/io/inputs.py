"""Input description and shard planning.

:class:`InputSpec` is the recipe's ``input:`` section.  :func:`plan_shards` lists the input
files (any fsspec path or glob) and cuts them into :class:`Shard` s of bounded size, on the
client, from file sizes and Parquet footers only -- no document is read here:

* many small files (``html``, ``text`` with ``unit: file``) are grouped into one shard up to
  ``shard_size`` bytes;
* an uncompressed line-based file (``jsonl``, ``text`` with ``unit: line``) larger than
  ``shard_size`` is cut into byte ranges; a reader owns the lines that *start* in its range;
* Parquet files are cut at row-group boundaries;
* a compressed file (``.gz``, ``.zst``, ``.warc.gz``) cannot be entered in the middle, so it
  is one shard, read as a stream in batches of ``batch_size`` documents: memory stays
  bounded, only the task is long.  Split such inputs into several files to spread them.

The plan depends only on the input files and these settings, never on the number of
workers, which is what makes outputs identical across cluster sizes.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Literal

import fsspec
from pydantic import BaseModel, ByteSize, ConfigDict, Field, field_validator

Format = Literal["html", "warc", "jsonl", "parquet", "text"]

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "html": (".html", ".htm", ".xhtml"),
    "warc": (".warc", ".warc.gz", ".warc.zst", ".arc.gz"),
    "jsonl": (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".ndjson", ".json"),
    "parquet": (".parquet",),
    "text": (".txt", ".txt.gz", ".txt.zst", ".text"),
}
COMPRESSED = (".gz", ".zst", ".bz2", ".xz")
GLOB_CHARS = "*?["


class InputSpec(BaseModel):
    """The recipe's ``input:`` section."""

    model_config = ConfigDict(extra="forbid")

    path: str | list[str] = Field(description="local path, glob or fsspec URL (s3://, gs://, ...); a list of them")
    format: Format = Field(description="html | warc | jsonl | parquet | text")
    shard_size: ByteSize = Field(default=ByteSize(64 * 1024 * 1024),
                                 description="target input bytes per shard (e.g. 64MB)")
    batch_size: int = Field(default=512, ge=1, description="documents per batch inside a shard task")
    max_document_size: ByteSize | None = Field(
        default=ByteSize(16 * 1024 * 1024),
        description="documents whose text is larger (UTF-8 bytes) are quarantined as document_too_large; "
                    "null: no limit")
    text_field: str = Field(default="text", description="jsonl/parquet: the field holding the text")
    id_field: str | None = Field(default=None,
                                 description="jsonl/parquet: a field to use as id (default: derived from source)")
    keep_fields: list[str] = Field(default_factory=list, description="jsonl: other fields to carry as columns")
    unit: Literal["file", "line"] = Field(default="file", description="text: one document per file or per line")
    storage_options: dict = Field(default_factory=dict, description="fsspec options for the input filesystem")

    @field_validator("shard_size")
    @classmethod
    def _positive(cls, v: ByteSize) -> ByteSize:
        if v <= 0:
            raise ValueError("must be a positive size such as 64MB")
        return v

    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)


@dataclass(frozen=True)
class Piece:
    """A part of one input file: a byte range, a set of row groups, or the whole file."""

    path: str  # full path as the filesystem knows it
    relpath: str  # path relative to the input's base folder: part of every document's source
    size: int
    start: int = 0
    end: int | None = None  # None: to the end of the file
    row_groups: tuple[int, ...] | None = None

    @property
    def is_first(self) -> bool:
        """True for the piece that starts its file (each file has exactly one)."""
        return self.start == 0 and (not self.row_groups or self.row_groups[0] == 0)


@dataclass(frozen=True)
class Shard:
    """One unit of work: a list of pieces, read by one task into one output file."""

    index: int
    pieces: tuple[Piece, ...]
    size: int = field(default=0)

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}"


class InputError(ValueError):
    """The input section points at nothing readable (raised before any work)."""


def _base_of(pattern: str) -> str:
    """The folder part of a glob pattern before its first wildcard."""
    cut = min((i for i, c in enumerate(pattern) if c in GLOB_CHARS), default=None)
    head = pattern if cut is None else pattern[:cut]
    return head.rstrip("/") if cut is None else posixpath.dirname(head)


#: paths a run writes under its output folder, as patterns of an input would see them
_OUTPUT_SAMPLES = ("data/part-00000.parquet", "removed/00-stage/part-00000.parquet", "quarantine/part-00000.parquet",
                   "stages/00-stage/part-00000.parquet", "stages/00-stage/summary/part-00000.parquet",
                   "tokens/part-00000.bin", "report.html", "stats.json", "manifest.json", "logs/workers.log")


def _canonical(fs: fsspec.AbstractFileSystem, path: str) -> str:
    path = fs._strip_protocol(path).rstrip("/")
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    if {"file", "local"} & set(protocols):
        path = os.path.realpath(path)
    return path


def input_reads_output(spec: InputSpec, output: str, output_options: dict | None = None) -> str | None:
    """Why the input would read the run's own output (a message), or None: the output folder is
    an input folder or inside one, or an input glob matches files the run writes."""
    from fsspec.utils import glob_translate

    out_fs, _, _ = fsspec.get_fs_token_paths(output, storage_options=output_options or {})
    for pattern in spec.paths():
        fs, _, _ = fsspec.get_fs_token_paths(pattern, storage_options=spec.storage_options)
        if type(fs) is not type(out_fs):
            continue
        out = _canonical(out_fs, output)
        stripped = fs._strip_protocol(pattern)
        if any(c in stripped for c in GLOB_CHARS):
            base = _canonical(fs, _base_of(stripped) or ".")
            rest = stripped[len(_base_of(stripped)):].lstrip("/") if _base_of(stripped) else stripped
            matcher = re.compile(glob_translate(f"{base}/{rest}"))
            hit = next((s for s in _OUTPUT_SAMPLES if matcher.match(f"{out}/{s}")), None)
            if hit is not None:
                return f"input.path {pattern!r} matches what the run writes under output.path ({out}/{hit})"
        else:
            folder = _canonical(fs, stripped)
            if out == folder or out.startswith(folder.rstrip("/") + "/"):
                return f"output.path {output!r} is inside the input folder {pattern!r}"
    return None


def list_files(spec: InputSpec) -> tuple[fsspec.AbstractFileSystem, list[tuple[str, str, int]]]:
    """All input files as (path, relpath, size), sorted by path; InputError if none match."""
    found: dict[str, tuple[str, int]] = {}
    fs = None
    for pattern in spec.paths():
        fs, _, _ = fsspec.get_fs_token_paths(pattern, storage_options=spec.storage_options)
        stripped = fs._strip_protocol(pattern)
        if not any(c in stripped for c in GLOB_CHARS) and fs.isdir(stripped):
            base = stripped.rstrip("/")
            entries = fs.find(base, detail=True)
            entries = {p: d for p, d in entries.items() if p.endswith(EXTENSIONS[spec.format])}
        else:
            base = _base_of(stripped) if any(c in stripped for c in GLOB_CHARS) else posixpath.dirname(stripped)
            entries = fs.glob(stripped, detail=True)
            entries = {p: d for p, d in entries.items() if d.get("type") != "directory"}
        if not entries:
            what = "folder" if not any(c in stripped for c in GLOB_CHARS) and fs.isdir(stripped) else "path"
            raise InputError(
                f"no input files match {pattern!r} ({what}; format {spec.format} looks for "
                f"{', '.join(EXTENSIONS[spec.format])} in folders): check input.path"
            )
        for p, d in entries.items():
            rel = posixpath.relpath(p, base) if base else p
            found[p] = (rel, int(d.get("size") or 0))
    assert fs is not None
    return fs, [(p, rel, size) for p, (rel, size) in sorted(found.items())]


def _is_compressed(path: str) -> bool:
    return path.endswith(COMPRESSED)


def _line_based(spec: InputSpec) -> bool:
    return spec.format == "jsonl" or (spec.format == "text" and spec.unit == "line")


def plan_shards(spec: InputSpec) -> list[Shard]:
    """Cut the input into shards of about ``shard_size`` bytes (see the module docstring)."""
    fs, files = list_files(spec)
    limit = int(spec.shard_size)
    pieces: list[list[Piece]] = []
    current: list[Piece] = []
    current_size = 0

    def flush() -> None:
        nonlocal current, current_size
        if current:
            pieces.append(current)
        current, current_size = [], 0

    for path, rel, size in files:
        if spec.format == "parquet":
            flush()
            for group in _parquet_row_group_ranges(fs, path, limit):
                pieces.append([Piece(path, rel, size, row_groups=group)])
        elif _line_based(spec) and not _is_compressed(path) and size > limit:
            flush()
            for start in range(0, size, limit):
                pieces.append([Piece(path, rel, size, start=start, end=min(start + limit, size))])
        elif spec.format in ("html",) or (spec.format == "text" and spec.unit == "file"):
            if current and current_size + size > limit:
                flush()
            current.append(Piece(path, rel, size))
            current_size += size
        else:
            flush()
            pieces.append([Piece(path, rel, size)])
    flush()
    return [Shard(i, tuple(ps), sum((p.end or p.size) - p.start for p in ps)) for i, ps in enumerate(pieces)]


def _parquet_row_group_ranges(fs: fsspec.AbstractFileSystem, path: str, limit: int) -> list[tuple[int, ...] | None]:
    """Row-group ranges of about ``limit`` bytes; [None] (the whole file) if it is unreadable,
    so that the reader quarantines it with the error instead of the planner failing."""
    import pyarrow.parquet as pq

    try:
        with fs.open(path, "rb") as f:
            meta = pq.ParquetFile(f).metadata
    except Exception:  # noqa: BLE001 - an unreadable footer: one piece, and the reader quarantines the file
        return [None]
    groups: list[tuple[int, ...] | None] = []
    current: list[int] = []
    size = 0
    for i in range(meta.num_row_groups):
        rg_size = meta.row_group(i).total_byte_size
        if current and size + rg_size > limit:
            groups.append(tuple(current))
            current, size = [], 0
        current.append(i)
        size += rg_size
    if current or not groups:
        groups.append(tuple(current))
    return groups
