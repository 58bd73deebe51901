"""Write the bad-input fixture set next to this file (committed; re-run to regenerate).

    python tests/data/bad/make_fixtures.py

Each file is one way real crawls go wrong; tests/io/test_bad_inputs.py runs every folder through
`dataprep run` and checks where each input ends (kept, removed with a reason, or quarantined
with a reason) and that the ledger holds.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

HERE = Path(__file__).resolve().parent
GOOD = ("The harbour town woke slowly. Fishing boats came back with the tide, and the market "
        "filled with the smell of bread and salt. Children ran between the stalls while the old "
        "men argued about the weather, as they had every morning for forty years. By noon the "
        "square was full of visitors from the valley, who came for the fish and stayed for the "
        "music that the baker's sons played on the steps of the church until the evening came.")


def jsonl(*records: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def warc_record(uri: str, body: bytes, length: int | None = None) -> bytes:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: {uri}\r\n"
            f"WARC-Record-ID: <urn:uuid:{abs(hash(uri)) % 10**12:012d}-0000-0000-0000-000000000000>\r\n"
            f"Content-Type: application/http; msgtype=response\r\n"
            f"Content-Length: {len(http) if length is None else length}\r\n\r\n").encode()
    return head + http + b"\r\n\r\n"


def main() -> None:
    html = HERE / "html"
    html.mkdir(exist_ok=True)
    (html / "good.html").write_text(f"<html><head><title>Harbour</title></head><body><p>{GOOD}</p></body></html>")
    (html / "zero-bytes.html").write_bytes(b"")
    nul = b"<html><body><p>" + GOOD.encode() + b"\x00\x00\x00\x01\x02</p></body></html>"
    (html / "nul-bytes.html").write_bytes(nul)
    depth = 25_000  # > extract.max_depth (10,000): resiliparse would take minutes on it
    nested = "<html><body>" + "<div>" * depth + GOOD + "</div>" * depth + "</body></html>"
    (html / "deeply-nested.html").write_text(nested)

    lines = HERE / "jsonl"
    lines.mkdir(exist_ok=True)
    records = [{"text": f"{GOOD} Story {i}."} for i in range(20)]
    (lines / "good.jsonl").write_bytes(jsonl(*records))
    (lines / "truncated.jsonl.gz").write_bytes(gzip.compress(jsonl(*records), mtime=0)[:-40])
    (lines / "truncated.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(jsonl(*records))[:-25])
    (lines / "invalid-utf8.jsonl").write_bytes(jsonl(records[0]) + b'{"text": "caf\xe9 au lait"}\n' + jsonl(records[1]))
    (lines / "nul-bytes.jsonl").write_bytes(jsonl(records[2]) + b'{"text": "zero\x00byte"}\n' + b"\x00\x00\x00\n")
    (lines / "zero-bytes.jsonl").write_bytes(b"")
    big = (GOOD + " ") * (50 * 1024 * 1024 // (len(GOOD) + 1) + 1)  # one document of a little over 50 MB
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(jsonl({"text": big}))
    (lines / "huge-document.jsonl.gz").write_bytes(buf.getvalue())

    warc = HERE / "warc"
    warc.mkdir(exist_ok=True)
    page = f"<html><body><p>{GOOD}</p></body></html>".encode()
    (warc / "malformed.warc").write_bytes(
        warc_record("https://example.org/a", page)
        + b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: not-a-number\r\n\r\ngarbage\r\n\r\n"
        + warc_record("https://example.org/b", page))
    (warc / "bad-length.warc").write_bytes(warc_record("https://example.org/c", page, length=10**7))

    parquet = HERE / "parquet"
    parquet.mkdir(exist_ok=True)
    pq.write_table(pa.table({"text": [GOOD, GOOD + " Again."]}), parquet / "good.parquet")
    pq.write_table(pa.table({"body": [GOOD]}), parquet / "wrong-schema.parquet")
    (parquet / "not-parquet.parquet").write_bytes(b"PAR1 this file only starts like Parquet")


if __name__ == "__main__":
    main()
