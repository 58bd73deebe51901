"""Every reader, fed random and mutated bytes (truncations, bit flips, random WARC lengths, gzip
and zstd streams cut anywhere), ends each input in documents or in quarantine with a reason:
never an exception, a hang, or a document over the size limit."""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataprep.io.inputs import InputSpec, plan_shards
from dataprep.io.readers import read_shard
from tests.conftest import REPO

LIMIT = 4096  # max_document_size of the fuzzed runs
REASONS = {"empty_file", "binary_content", "invalid_utf8", "invalid_json", "missing_text_field", "text_not_string",
           "truncated_input", "document_too_large", "wrong_schema", "read_error"}
#: examples per property (CI: 300, the same ones every run; DATAPREP_FUZZ_EXAMPLES=N: N new ones)
EXAMPLES = os.environ.get("DATAPREP_FUZZ_EXAMPLES")
FUZZ = settings(max_examples=int(EXAMPLES or 300), deadline=5000, derandomize=EXAMPLES is None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

JSONL = b"".join(json.dumps({"text": f"line {i} " + "word " * (i % 9), "url": f"https://x/{i}"}).encode() + b"\n"
                 for i in range(40))
TEXT = b"".join(f"a line of text {i}\n".encode() for i in range(40))
HTML = (REPO / "tests" / "data" / "bad" / "html" / "good.html").read_bytes()


def _warc(records: list[tuple[bytes, int | None]]) -> bytes:
    """WARC response records; a length of None writes the true Content-Length."""
    out = io.BytesIO()
    for i, (body, length) in enumerate(records):
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
        head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{i:08d}-0000-0000-0000-000000000000>\r\n"
                f"WARC-Target-URI: http://example.com/{i}\r\nContent-Type: application/http; msgtype=response\r\n"
                f"Content-Length: {len(http) if length is None else length}\r\n\r\n").encode()
        out.write(head + http + b"\r\n\r\n")
    return out.getvalue()


WARC = _warc([(HTML, None), (b"<html><body><p>second page</p></body></html>", None)])


def _parquet() -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(30)]}), buf, row_group_size=10)
    return buf.getvalue()


PARQUET = _parquet()


def _read_all(path: Path, fmt: str, **options: object) -> tuple[int, int]:
    """Read every shard of ``path``; check every row; (documents, quarantined)."""
    spec = InputSpec(path=str(path), format=fmt, max_document_size=LIMIT, shard_size="1KB", batch_size=16,
                     **options)
    docs = bad = 0
    for shard in plan_shards(spec):
        for batch in read_shard(shard, spec):
            docs += batch.docs.num_rows
            bad += batch.quarantine.num_rows
            for text in batch.docs.column("text").to_pylist():
                assert len(text.encode("utf-8", "surrogatepass")) <= LIMIT
            assert set(batch.quarantine.column("reason").to_pylist()) <= REASONS
    return docs, bad


def _mutate(data: bytes, cut: float, flips: list[tuple[float, int]]) -> bytes:
    out = bytearray(data[: max(0, int(len(data) * cut))])
    for where, bit in flips:
        if out:
            out[int(where * (len(out) - 1))] ^= 1 << bit
    return bytes(out)


mutations = st.tuples(st.floats(0, 1), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)), max_size=6))


@FUZZ
@given(data=st.binary(max_size=3000), fmt=st.sampled_from(["jsonl", "text", "html", "warc", "parquet"]))
def test_random_bytes(tmp_path: Path, data: bytes, fmt: str) -> None:
    suffix = {"jsonl": ".jsonl", "text": ".txt", "html": ".html", "warc": ".warc", "parquet": ".parquet"}[fmt]
    path = tmp_path / f"random{suffix}"
    path.write_bytes(data)
    docs, bad = _read_all(path, fmt, **({"unit": "line"} if fmt == "text" else {}))
    if fmt in ("html", "parquet"):
        assert docs + bad == 1 or fmt == "parquet"  # a whole-file format: one document or one quarantine


@FUZZ
@given(mutation=mutations, name=st.sampled_from(["jsonl", "text", "html", "warc", "parquet"]))
def test_mutated_inputs(tmp_path: Path, mutation: tuple, name: str) -> None:
    data, fmt, suffix = {"jsonl": (JSONL, "jsonl", ".jsonl"), "text": (TEXT, "text", ".txt"),
                         "html": (HTML, "html", ".html"), "warc": (WARC, "warc", ".warc"),
                         "parquet": (PARQUET, "parquet", ".parquet")}[name]
    path = tmp_path / f"mutated{suffix}"
    path.write_bytes(_mutate(data, *mutation))
    _read_all(path, fmt, **({"unit": "line"} if fmt == "text" else {}))


@FUZZ
@given(cut=st.floats(0, 1), kind=st.sampled_from(["gzip", "zstd", "zstd-frames", "warc.gz"]),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)), max_size=3))
def test_compressed_streams_cut_anywhere(tmp_path: Path, cut: float, kind: str, flips: list) -> None:
    if kind == "gzip":
        data, name, fmt = gzip.compress(JSONL), "c.jsonl.gz", "jsonl"
    elif kind == "zstd":
        data, name, fmt = zstandard.ZstdCompressor().compress(JSONL), "c.jsonl.zst", "jsonl"
    elif kind == "zstd-frames":
        half = len(JSONL) // 2
        z = zstandard.ZstdCompressor()
        data, name, fmt = z.compress(JSONL[:half]) + z.compress(JSONL[half:]), "c.jsonl.zst", "jsonl"
    else:
        data, name, fmt = gzip.compress(WARC), "c.warc.gz", "warc"
    path = tmp_path / name
    path.write_bytes(_mutate(data, cut, flips))
    docs, bad = _read_all(path, fmt)
    if cut == 1 and not flips:
        assert bad == 0 and docs > 0


@FUZZ
@given(lengths=st.lists(st.one_of(st.none(), st.integers(0, 10**12)), min_size=1, max_size=4))
def test_warc_records_with_random_lengths(tmp_path: Path, lengths: list[int | None]) -> None:
    path = tmp_path / "lengths.warc"
    path.write_bytes(_warc([(f"<html><body><p>page {i}</p></body></html>".encode(), n) for i, n in enumerate(lengths)]))
    _read_all(path, "warc")


def test_the_fuzzed_fixtures_are_valid_unmutated(tmp_path: Path) -> None:
    for data, fmt, name, expect in ((JSONL, "jsonl", "a.jsonl", 40), (TEXT, "text", "a.txt", 40),
                                    (WARC, "warc", "a.warc", 2), (PARQUET, "parquet", "a.parquet", 30)):
        (tmp_path / fmt).mkdir()
        (tmp_path / fmt / name).write_bytes(data)
        docs, bad = _read_all(tmp_path / fmt, fmt, **({"unit": "line"} if fmt == "text" else {}))
        assert (docs, bad) == (expect, 0), fmt
    assert zlib.crc32(JSONL)  # the corpus is not empty
