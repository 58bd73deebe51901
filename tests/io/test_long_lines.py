"""A line far longer than input.max_document_size is quarantined without being held in memory,
and every other line of the file is read: plain, gzip and zstd JSONL, text by line, and a line
that straddles the byte ranges of two shards."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from dataprep.io.inputs import InputSpec, plan_shards
from dataprep.io.lines import LongLine, line_blocks
from dataprep.io.readers import jsonl_line_limit, read_shard

LIMIT = 1 << 20  # max_document_size of these tests: 1 MB


def _jsonl(big_bytes: int) -> bytes:
    good = [json.dumps({"text": f"normal document number {i}", "n": i}).encode() for i in range(2)]
    big = json.dumps({"text": "x" * big_bytes}).encode()
    return good[0] + b"\n" + big + b"\n" + good[1] + b"\n"


def _read(spec: InputSpec) -> tuple[list[str], list[dict]]:
    texts, bad = [], []
    for shard in plan_shards(spec):
        for batch in read_shard(shard, spec):
            texts += batch.docs.column("text").to_pylist()
            bad += batch.quarantine.to_pylist()
    return texts, bad


@pytest.mark.parametrize("suffix,compress", [(".jsonl", lambda b: b), (".jsonl.gz", gzip.compress),
                                             (".jsonl.zst", zstandard.ZstdCompressor().compress)],
                         ids=["plain", "gzip", "zstd"])
def test_the_long_line_is_quarantined_and_the_others_are_read(tmp_path: Path, suffix, compress) -> None:
    big = 40 * LIMIT
    (tmp_path / f"docs{suffix}").write_bytes(compress(_jsonl(big)))
    texts, bad = _read(InputSpec(path=str(tmp_path), format="jsonl", max_document_size=LIMIT))
    assert texts == ["normal document number 0", "normal document number 1"]
    (row,) = bad
    assert row["reason"] == "document_too_large" and row["raw_size"] == big + len('{"text": ""}\n')
    assert row["raw"].startswith(b'{"text": "xxx') and len(row["raw"]) == 64 * 1024  # its first bytes, kept
    first_line = _jsonl(big).split(b"\n")[0]
    assert row["source"] == f"docs{suffix}:{len(first_line) + 1}"  # the offset of the long line


def test_a_line_just_within_the_limit_is_still_read(tmp_path: Path) -> None:
    # escapes inflate JSON: a 1 MB text of \u0001 is a 6 MB line, and still a document
    text = "\x01" * LIMIT
    line = json.dumps({"text": text}).encode()
    assert LIMIT * 6 < len(line) < jsonl_line_limit(LIMIT)
    (tmp_path / "escaped.jsonl").write_bytes(b'{"text": "a"}\n' + line + b"\n")
    texts, bad = _read(InputSpec(path=str(tmp_path), format="jsonl", max_document_size=LIMIT))
    assert texts == ["a", text] and bad == []


def test_text_lines_and_a_long_line_across_two_shards(tmp_path: Path) -> None:
    lines = [b"first line", b"y" * (5 * LIMIT), b"third line", b"fourth line"]
    (tmp_path / "t.txt").write_bytes(b"\n".join(lines) + b"\n")
    spec = InputSpec(path=str(tmp_path), format="text", unit="line", max_document_size=LIMIT, shard_size="2MB")
    assert len(plan_shards(spec)) == 3  # the long line straddles the first range boundaries
    texts, bad = _read(spec)
    assert texts == ["first line", "third line", "fourth line"]
    assert [(b["reason"], b["raw_size"], b["source"]) for b in bad] == [
        ("document_too_large", 5 * LIMIT + 1, "t.txt:11")]


def test_line_blocks_hold_no_long_line(tmp_path: Path) -> None:
    data = b"a\n" + b"z" * 10_000 + b"\nb\nc"
    chunks = iter([data[i:i + 333] for i in range(0, len(data), 333)] + [b""])
    out = list(line_blocks(lambda n: next(chunks), 333, max_line=1000))
    # the long line is noticed in the read that takes it past 1000 bytes: 4 reads of 333, less "a\n"
    assert out == [(0, b"a\n"), (2, LongLine(10_001, b"z" * (4 * 333 - 2))), (10_003, b"b\nc")]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_reading_a_huge_compressed_line_stays_small_in_memory(tmp_path: Path, suffix: str) -> None:
    """A file of a few MB that expands to a 1 GB line: the reading process grows by less than
    40 MB (the line limit for a 1 MB max_document_size is ~6 MB, held once and copied once; the
    same measurement without a limit grows by ~3x the line)."""
    path = tmp_path / f"bomb{suffix}"
    with open(path, "wb") as raw:
        if suffix.endswith(".gz"):
            f = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9)
        else:
            f = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False)
        with f:
            f.write(b'{"text": "before"}\n{"text": "')
            block = b"x" * (1 << 20)
            for _ in range(1024):
                f.write(block)
            f.write(b'"}\n{"text": "after"}\n')
    assert path.stat().st_size < 5 << 20
    code = f"""
from dataprep.io.inputs import InputSpec, plan_shards
from dataprep.io.readers import read_shard
def status(key):
    return next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith(key))
spec = InputSpec(path={str(path)!r}, format="jsonl", max_document_size={LIMIT})
shard, = plan_shards(spec)
next(read_shard(shard, spec))  # imports and first-use costs: not the reading's
open("/proc/self/clear_refs", "w").write("5")  # Linux: reset the peak RSS to the current RSS
before = status("VmRSS:")
texts, bad = [], []
for batch in read_shard(shard, spec):
    texts += batch.docs.column("text").to_pylist()
    bad += batch.quarantine.column("reason").to_pylist()
print(texts, bad, (status("VmHWM:") - before) // 1024)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    growth_mb = int(done.stdout.split()[-1])
    assert "['before', 'after'] ['document_too_large']" in done.stdout
    assert growth_mb < 40, f"reading grew the process by {growth_mb} MB"
    print(f"peak RSS growth while reading a 1 GB line: {growth_mb} MB")
