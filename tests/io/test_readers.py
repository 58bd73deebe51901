"""Readers and shard planning on real files of every format."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from dataprep.io.inputs import InputError, InputSpec, plan_shards
from dataprep.io.readers import read_shard
from tests.conftest import SAMPLE_WEB


def read_all(spec: InputSpec) -> tuple[pa.Table, pa.Table, int]:
    shards = plan_shards(spec)
    docs, bad = [], []
    for shard in shards:
        for batch in read_shard(shard, spec):
            docs.append(batch.docs)
            bad.append(batch.quarantine)
    return pa.concat_tables(docs), pa.concat_tables(bad), len(shards)


def jsonl_lines(n: int) -> list[bytes]:
    return [json.dumps({"text": f"document number {i} " + "word " * (i % 17), "url": f"http://x/{i}",
                        "meta": {"i": i}}).encode() + b"\n" for i in range(n)]


def test_html_files_are_grouped_into_bounded_shards():
    spec = InputSpec(path=str(SAMPLE_WEB / "**" / "*.html"), format="html", shard_size="64KB", batch_size=50)
    docs, bad, n_shards = read_all(spec)
    files = sorted(SAMPLE_WEB.rglob("*.html"))
    assert docs.num_rows == len(files) and bad.num_rows == 0
    assert n_shards >= len(files) * 1000 // (64 * 1024)  # about size / shard_size
    assert sorted(docs.column("source").to_pylist()) == sorted(str(f.relative_to(SAMPLE_WEB)) for f in files)
    assert len(set(docs.column("id").to_pylist())) == docs.num_rows
    again, _, _ = read_all(spec.model_copy(update={"shard_size": 10**9}))
    # ids do not depend on sharding
    assert sorted(again.column("id").to_pylist()) == sorted(docs.column("id").to_pylist())


def test_folder_path_finds_files_of_the_format(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.html").write_text("<p>hi there</p>")
    (tmp_path / "a" / "notes.txt").write_text("not html")
    docs, _, _ = read_all(InputSpec(path=str(tmp_path), format="html"))
    assert docs.column("source").to_pylist() == ["a/x.html"]


def test_large_jsonl_is_split_by_byte_range_without_losing_or_repeating_lines(tmp_path: Path):
    lines = jsonl_lines(3000)
    (tmp_path / "big.jsonl").write_bytes(b"".join(lines))
    spec = InputSpec(path=str(tmp_path / "*.jsonl"), format="jsonl", shard_size="10KB", batch_size=100,
                     keep_fields=["url", "meta"])
    docs, bad, n_shards = read_all(spec)
    assert n_shards > 10 and bad.num_rows == 0
    assert docs.column("text").to_pylist() == [json.loads(x)["text"] for x in lines]
    assert docs.column("url").to_pylist()[5] == "http://x/5"
    assert json.loads(docs.column("meta").to_pylist()[7]) == {"i": 7}
    whole, _, one = read_all(spec.model_copy(update={"shard_size": 10**9}))
    assert one == 1 and whole.column("id").to_pylist() == docs.column("id").to_pylist()


def two_zstd_frames(data: bytes) -> bytes:
    half = len(data) // 2
    return zstandard.ZstdCompressor().compress(data[:half]) + zstandard.ZstdCompressor().compress(data[half:])


@pytest.mark.parametrize("suffix,compress", [(".jsonl.gz", gzip.compress),
                                             (".jsonl.zst", zstandard.ZstdCompressor().compress),
                                             (".jsonl.zst", two_zstd_frames)], ids=["gzip", "zstd", "zstd-two-frames"])
def test_compressed_jsonl(tmp_path: Path, suffix, compress):
    lines = jsonl_lines(500)
    (tmp_path / f"c{suffix}").write_bytes(compress(b"".join(lines)))
    spec = InputSpec(path=str(tmp_path / f"*{suffix}"), format="jsonl", shard_size="1KB", batch_size=64)
    docs, bad, n_shards = read_all(spec)
    assert n_shards == 1  # a compressed stream is one shard, read in batches
    assert docs.column("text").to_pylist() == [json.loads(x)["text"] for x in lines]


def test_text_by_line_and_by_file(tmp_path: Path):
    (tmp_path / "a.txt").write_text("".join(f"line {i}\n" for i in range(1000)))
    (tmp_path / "b.txt").write_text("a whole file\nwith two lines\n")
    by_line, _, shards = read_all(InputSpec(path=str(tmp_path / "a.txt"), format="text", unit="line", shard_size="1KB"))
    assert by_line.column("text").to_pylist() == [f"line {i}" for i in range(1000)] and shards > 5
    by_file, _, _ = read_all(InputSpec(path=str(tmp_path / "*.txt"), format="text"))
    assert by_file.num_rows == 2 and by_file.column("text").to_pylist()[1] == "a whole file\nwith two lines\n"


def test_parquet_is_split_at_row_groups_and_keeps_columns(tmp_path: Path):
    table = pa.table({"id": [f"doc-{i}" for i in range(1000)], "content": [f"text {i} " * 20 for i in range(1000)],
                      "score": list(range(1000))})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=100)
    spec = InputSpec(path=str(tmp_path / "in.parquet"), format="parquet", text_field="content", shard_size="8KB",
                     batch_size=64)
    docs, bad, n_shards = read_all(spec)
    assert n_shards > 1 and bad.num_rows == 0
    assert docs.column("id").to_pylist() == table.column("id").to_pylist()
    assert docs.column("text").to_pylist() == table.column("content").to_pylist()
    assert docs.column("score").to_pylist() == list(range(1000))
    assert docs.column("source").to_pylist()[250] == "in.parquet#250"


def warc_record(kind: bytes, uri: bytes, payload: bytes) -> bytes:
    head = (b"WARC/1.0\r\nWARC-Type: " + kind + b"\r\nWARC-Record-ID: <urn:uuid:" + uri[-8:].rjust(8, b"0") +
            b">\r\nWARC-Target-URI: " + uri + b"\r\nContent-Type: application/http; msgtype=response\r\n"
            b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n")
    return head + payload + b"\r\n\r\n"


def http_response(body: bytes, ctype: bytes = b"text/html; charset=utf-8") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nContent-Length: " + str(len(body)).encode() +
            b"\r\n\r\n" + body)


def make_warc(n: int) -> list[bytes]:
    records = [warc_record(b"warcinfo", b"info", b"software: test\r\n")]
    for i in range(n):
        body = f"<html><body><p>Page {i} of the crawl with some words.</p></body></html>".encode()
        records.append(warc_record(b"request", f"http://site/{i}".encode(), b"GET / HTTP/1.1\r\n\r\n"))
        records.append(warc_record(b"response", f"http://site/{i}".encode(), http_response(body)))
    records.append(warc_record(b"response", b"http://site/img", http_response(b'{"a": 1}', b"application/json")))
    return records


@pytest.mark.parametrize("name", ["crawl.warc", "crawl.warc.gz"])
def test_warc_responses_become_documents(tmp_path: Path, name: str):
    records = make_warc(30)
    data = b"".join(gzip.compress(r) for r in records) if name.endswith(".gz") else b"".join(records)
    (tmp_path / name).write_bytes(data)
    docs, bad, _ = read_all(InputSpec(path=str(tmp_path / name), format="warc", batch_size=8))
    assert docs.num_rows == 31 and bad.num_rows == 0  # 30 pages + 1 JSON response; no request/warcinfo
    assert docs.column("url").to_pylist()[3] == "http://site/3"
    assert "Page 3 of the crawl" in docs.column("text").to_pylist()[3]
    assert docs.column("content_type").to_pylist()[-1] == "application/json"
    assert docs.column("source").to_pylist()[0] == f"{name}#0"


def test_missing_input_is_an_error_before_work(tmp_path: Path):
    with pytest.raises(InputError, match="no input files match"):
        plan_shards(InputSpec(path=str(tmp_path / "nothing" / "*.jsonl"), format="jsonl"))


def test_bad_inputs_are_quarantined_with_reasons(tmp_path: Path):
    (tmp_path / "good.html").write_text("<p>fine page</p>")
    (tmp_path / "zero.html").write_bytes(b"")
    (tmp_path / "blank.html").write_bytes(b"  \n\n ")
    (tmp_path / "junk.html").write_bytes(bytes(range(256)) * 40)
    # not UTF-8: detected
    (tmp_path / "latin1.html").write_bytes("<p>caf\xe9 cr\xe8me br\xfbl\xe9e</p>".encode("latin-1"))
    docs, bad, _ = read_all(InputSpec(path=str(tmp_path / "*.html"), format="html"))
    reasons = dict(zip(bad.column("source").to_pylist(), bad.column("reason").to_pylist()))
    assert reasons == {"zero.html": "empty_file", "blank.html": "empty_file", "junk.html": "binary_content"}
    assert sorted(docs.column("source").to_pylist()) == ["good.html", "latin1.html"]
    assert "crème brûlée" in docs.column("text").to_pylist()[docs.column("source").to_pylist().index("latin1.html")]
    assert bad.column("raw").to_pylist()[list(reasons).index("junk.html")][:4] == bytes(range(4))

    lines = jsonl_lines(20)
    bad_lines = [b'{"text": "caf\xe9"}\n', b"{not json\n", b'{"body": "no text field"}\n', b'{"text": 5}\n']
    broken = lines[:3] + bad_lines + lines[3:]
    (tmp_path / "mixed.jsonl").write_bytes(b"".join(broken))
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(b"".join(lines))[:-30])
    docs, bad, _ = read_all(InputSpec(path=str(tmp_path / "*.jsonl*"), format="jsonl"))
    assert sorted(bad.column("reason").to_pylist()) == ["invalid_json", "invalid_utf8", "missing_text_field",
                                                          "text_not_string", "truncated_input"]
    mixed = [s for s in docs.column("source").to_pylist() if s.startswith("mixed")]
    assert len(mixed) == 20
    assert 0 < sum(s.startswith("cut") for s in docs.column("source").to_pylist()) < 20  # what was readable is kept

    (tmp_path / "bad.txt").write_bytes(b"ok line\n\xff\xfe\xfa broken\n")
    docs, bad, _ = read_all(InputSpec(path=str(tmp_path / "bad.txt"), format="text", unit="line"))
    assert docs.column("text").to_pylist() == ["ok line"] and bad.column("reason").to_pylist() == ["invalid_utf8"]

    (tmp_path / "wrong.parquet").write_bytes(b"PAR1 this is not parquet")
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "noschema.parquet")
    docs, bad, _ = read_all(InputSpec(path=str(tmp_path / "*.parquet"), format="parquet"))
    assert docs.num_rows == 0
    assert dict(zip(bad.column("source").to_pylist(), bad.column("reason").to_pylist())) == {
        "noschema.parquet": "wrong_schema", "wrong.parquet": "read_error"}


def _jsonl_corpus() -> bytes:
    """Lines the Arrow fast path can take, blank lines, CRLF endings, non-ASCII text, lines
    it must hand to the per-line parser (numeric ids, nested keep fields, bad JSON, bad UTF-8,
    missing text) and a last line without a newline."""
    lines = []
    for i in range(400):
        record: dict = {"text": f"doc {i} ünï " + "word " * (i % 23), "id": f"x{i}", "url": f"http://x/{i}"}
        if i % 97 == 5:
            record["id"] = i  # a number: written as "5"
        if i % 89 == 7:
            record["url"] = {"nested": [i]}
        if i % 83 == 11:
            del record["id"]  # no id: derived from the source
        line = json.dumps(record, ensure_ascii=i % 2 == 0).encode()
        lines.append(line + (b"\r\n" if i % 7 == 0 else b"\n"))
        if i % 50 == 3:
            lines.append(b"   \n" if i % 100 == 3 else b"\n")
    lines[120] = b'{"text": "caf\xe9"}\n'
    lines[250] = b"{not json\n"
    lines[333] = b'{"body": "no text"}\n'
    return b"".join(lines) + b'{"text": "last line, no newline", "id": "end"}'


@pytest.mark.parametrize("shard_size,block", [("1MB", 4 << 20), ("2KB", 4 << 20), ("3KB", 1000), ("64MB", 300)])
def test_jsonl_block_parser_reads_what_the_line_parser_reads(tmp_path: Path, monkeypatch, shard_size, block):
    from dataprep.io import readers

    (tmp_path / "mixed.jsonl").write_bytes(_jsonl_corpus())
    spec = InputSpec(path=str(tmp_path / "*.jsonl"), format="jsonl", shard_size=shard_size, batch_size=64,
                     id_field="id", keep_fields=["url"])
    monkeypatch.setattr(readers, "LINE_BLOCK", block)
    monkeypatch.setattr(readers, "READ_CHUNK", min(block, 64 << 10))
    monkeypatch.setattr(readers, "MIN_RUN", 2000)
    fast_blocks = []
    real_block = readers._jsonl_block

    def counting_block(*args):
        table = real_block(*args)
        fast_blocks.append(table is not None)
        return table

    monkeypatch.setattr(readers, "_jsonl_block", counting_block)
    docs, bad, _ = read_all(spec)
    monkeypatch.setattr(readers, "_jsonl_block", lambda *args: None)
    slow_docs, slow_bad, _ = read_all(spec)
    assert docs.to_pylist() == slow_docs.to_pylist()
    assert bad.drop_columns(["raw"]).to_pylist() == slow_bad.drop_columns(["raw"]).to_pylist()
    assert docs.num_rows == 398 and sorted(bad.column("reason").to_pylist()) == ["invalid_json", "invalid_utf8",
                                                                                 "missing_text_field"]
    assert docs.column("id").to_pylist()[-1] == "end" and "5" in docs.column("id").to_pylist()
    assert any(fast_blocks) and not all(fast_blocks)  # both paths were taken (refused runs are halved)
