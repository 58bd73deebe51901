"""Readers: one shard's pieces in, batches of documents (and quarantined inputs) out.

Every reader yields :class:`ReadBatch` es of at most ``batch_size`` documents, streaming, so
a task's memory does not grow with the size of its input.  What cannot become a document is
not dropped: it becomes a quarantine row with a ``reason`` and the error, and the first
``QUARANTINE_RAW_LIMIT`` bytes of what was read, so the run's ledger holds
(inputs = documents + quarantined).

Document ids are derived from ``source``, which is the input path relative to the input's
base folder plus the position of the record (``:byte-offset`` for lines, ``#n`` for the n-th
WARC response or Parquet row), so ids are stable across runs and independent of sharding.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import fsspec
import numpy as np
import pyarrow as pa

from dataprep.io.inputs import InputSpec, Piece, Shard, _is_compressed
from dataprep.io.lines import LINE_BLOCK, LongLine, block_lines, line_blocks
from dataprep.schema import DOCUMENT_SCHEMA, QUARANTINE_SCHEMA, TEXT, document_id

QUARANTINE_RAW_LIMIT = 64 * 1024
READ_CHUNK = 64 << 10
MIN_RUN = 16 << 10  # a refused run of lines is halved down to this size


@dataclass
class ReadBatch:
    docs: pa.Table
    quarantine: pa.Table


class _Batcher:
    """Accumulates document rows and quarantine rows; emits ReadBatches of bounded size."""

    def __init__(self, schema: pa.Schema, batch_size: int, max_size: int | None = None) -> None:
        self.schema = schema
        self.batch_size = batch_size
        self.max_size = max_size
        self.rows: dict[str, list[Any]] = {f.name: [] for f in schema}
        self.bad: list[dict[str, Any]] = []
        self.bytes = 0

    def add(self, source: str, text: str, doc_id: str | None = None, **extra: Any) -> None:
        if self.max_size is not None and len(text) * 4 > self.max_size:  # a character is at most 4 UTF-8 bytes
            size = len(text) if len(text) > self.max_size else len(text.encode("utf-8", "surrogatepass"))
            if size > self.max_size:
                return self.quarantine(source, "document_too_large",
                                       f"text of {size:,} bytes > input.max_document_size ({self.max_size:,})",
                                       raw=text[:QUARANTINE_RAW_LIMIT].encode("utf-8", "replace"), raw_size=size)
        self.rows["id"].append(doc_id if doc_id is not None else document_id(source))
        self.rows["text"].append(text)
        self.rows["source"].append(source)
        for k in self.schema.names[3:]:
            self.rows[k].append(extra.get(k))

    def quarantine(self, source: str, reason: str, error: str, raw: bytes | None = None,
                   raw_size: int | None = None) -> None:
        self.bad.append({
            "id": document_id(source), "source": source, "reason": reason, "error": error[:2000],
            "raw_size": raw_size if raw_size is not None else (len(raw) if raw is not None else None),
            "raw": raw[:QUARANTINE_RAW_LIMIT] if raw is not None else None,
        })

    def full(self) -> bool:
        return len(self.rows["id"]) + len(self.bad) >= self.batch_size

    def emit_with(self, table: pa.Table) -> Iterator[ReadBatch]:
        """What is pending, then ``table`` (documents in this batcher's schema), in batches."""
        if self.rows["id"] or self.bad:
            yield self.emit()
        empty = QUARANTINE_SCHEMA.empty_table()
        for start in range(0, table.num_rows, self.batch_size):
            yield ReadBatch(table.slice(start, self.batch_size), empty)

    def emit(self) -> ReadBatch:
        batch = ReadBatch(pa.table(self.rows, schema=self.schema),
                          pa.Table.from_pylist(self.bad, schema=QUARANTINE_SCHEMA))
        self.rows = {f.name: [] for f in self.schema}
        self.bad = []
        return batch


def read_shard(shard: Shard, spec: InputSpec) -> Iterator[ReadBatch]:
    """Yield the documents of one shard in batches (see the module docstring)."""
    readers = {"html": _read_html, "text": _read_text, "jsonl": _read_jsonl, "warc": _read_warc,
               "parquet": _read_parquet}
    reader = readers[spec.format]
    yield from reader(shard, spec)


@contextlib.contextmanager
def _open(piece: Piece, spec: InputSpec) -> Iterator[IO[bytes]]:
    """A buffered binary stream of the piece's file, decompressed by its suffix.

    zstd is opened here rather than by fsspec so that files of several frames (as written
    by multi-threaded zstd) are read to the end, and readline() works."""
    with fsspec.open(piece.path, "rb", **spec.storage_options) as raw:
        if piece.path.endswith(".zst"):
            with io.BufferedReader(_ZstdFrames(raw), buffer_size=1 << 20) as f:
                yield f
        elif piece.path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as f:
                yield f
        elif piece.path.endswith((".bz2", ".xz")):
            import bz2
            import lzma

            with (bz2.BZ2File(raw) if piece.path.endswith(".bz2") else lzma.LZMAFile(raw)) as f:
                yield f
        else:
            yield raw


class _FrameWalker:
    """Follows the frame structure of a zstd stream as its bytes go by (frame and block headers
    only: RFC 8878 sections 3.1.1-3.1.2), to tell whether the stream ends on a frame boundary."""

    def __init__(self) -> None:
        self._need, self._header = 4, b""  # bytes still to collect for the current header
        self._skip = 0  # payload bytes to pass over
        self._state = "magic"
        self._checksum = False

    def feed(self, data: bytes) -> None:
        at = 0
        while at < len(data):
            if self._skip:
                n = min(self._skip, len(data) - at)
                self._skip -= n
                at += n
                continue
            take = data[at:at + self._need - len(self._header)]
            self._header += take
            at += len(take)
            if len(self._header) == self._need:
                self._advance(self._header)

    def _advance(self, header: bytes) -> None:
        self._header = b""
        if self._state == "magic":
            magic = int.from_bytes(header, "little")
            if magic == 0xFD2FB528:
                self._state, self._need = "descriptor", 1
            elif magic & 0xFFFFFFF0 == 0x184D2A50:  # a skippable frame: its size, then its bytes
                self._state, self._need = "skippable", 4
            else:
                raise ValueError(f"not a zstd frame (magic {magic:#010x})")
        elif self._state == "skippable":
            self._skip, self._state, self._need = int.from_bytes(header, "little"), "magic", 4
        elif self._state == "descriptor":
            fhd = header[0]
            single = (fhd >> 5) & 1
            self._checksum = bool((fhd >> 2) & 1)
            fcs = [1 if single else 0, 2, 4, 8][fhd >> 6]
            self._skip = (0 if single else 1) + [0, 1, 2, 4][fhd & 3] + fcs
            self._state, self._need = "block", 3
        elif self._state == "block":
            h = int.from_bytes(header, "little")
            self._skip = 1 if (h >> 1) & 3 == 1 else h >> 3  # an RLE block's payload is one byte
            if h & 1:  # the frame's last block, then its checksum
                self._skip += 4 if self._checksum else 0
                self._state, self._need = "magic", 4
            else:
                self._need = 3

    def at_frame_boundary(self) -> bool:
        return self._state == "magic" and not self._skip and not self._header


class _ZstdFrames(io.RawIOBase):
    """Every zstd frame of a stream, one after the other, in reads of bounded size (``zstandard``'s
    ``stream_reader``); ``EOFError`` if the stream ends inside a frame, which the stream reader
    alone reports as a silent short read (losing the documents of a truncated file without a
    trace): a :class:`_FrameWalker` follows the frames as the compressed bytes go by."""

    def __init__(self, raw: IO[bytes]) -> None:
        import zstandard

        self._walker = _FrameWalker()
        self._reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(
            _Watched(raw, self._walker.feed), read_across_frames=True)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer
        data = self._reader.read(len(buffer))
        if not data and not self._walker.at_frame_boundary():
            raise EOFError("zstd stream ended inside a frame (truncated file)")
        buffer[: len(data)] = data
        return len(data)


class _Watched(io.RawIOBase):
    """A readable stream that shows every chunk it reads to ``watch``."""

    def __init__(self, raw: IO[bytes], watch) -> None:  # noqa: ANN001 - a callable taking bytes
        self._raw, self._watch = raw, watch

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._watch(data)
        return data

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# -- whole-file formats ------------------------------------------------------------------


def _looks_binary(data: bytes) -> bool:
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return False  # a byte-order mark: UTF-16/UTF-8 text
    if b"\x00" in head:
        return True
    control = len(head.translate(None, _TEXT_BYTES))  # bytes below 32 other than \t \n \v \f \r
    return control > 0.05 * max(len(head), 1)


_TEXT_BYTES = bytes([9, 10, 11, 12, 13, *range(32, 256)])


def _whole_files(shard: Shard, spec: InputSpec, schema: pa.Schema, decode) -> Iterator[ReadBatch]:
    batcher = _Batcher(schema, spec.batch_size, spec.max_document_size)
    for piece in shard.pieces:
        source = piece.relpath
        try:
            with _open(piece, spec) as f:
                data = f.read()
        except EOFError as exc:
            batcher.quarantine(source, "truncated_input", f"{type(exc).__name__}: {exc}", raw_size=piece.size)
        except Exception as exc:  # noqa: BLE001 - any unreadable input is quarantined, not fatal
            batcher.quarantine(source, "read_error", f"{type(exc).__name__}: {exc}", raw_size=piece.size)
        else:
            if not data.strip():
                batcher.quarantine(source, "empty_file", f"file has {len(data)} bytes and no content", raw=data)
            elif _looks_binary(data):
                batcher.quarantine(source, "binary_content", "NUL or control bytes: not a text file", raw=data)
            else:
                try:
                    batcher.add(source, decode(data))
                except UnicodeDecodeError as exc:
                    batcher.quarantine(source, "invalid_utf8", str(exc), raw=data)
        if batcher.full():
            yield batcher.emit()
    yield batcher.emit()


def _decode_html(data: bytes) -> str:
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    # Web pages often lie about or omit their encoding: detect it, as browsers do.
    return bytes_to_str(data, detect_encoding(data))


def _read_html(shard: Shard, spec: InputSpec) -> Iterator[ReadBatch]:
    yield from _whole_files(shard, spec, DOCUMENT_SCHEMA, _decode_html)


def _read_text(shard: Shard, spec: InputSpec) -> Iterator[ReadBatch]:
    if spec.unit == "file":
        yield from _whole_files(shard, spec, DOCUMENT_SCHEMA, lambda b: b.decode("utf-8"))
    else:
        limit = spec.max_document_size
        yield from _lines(shard, spec, DOCUMENT_SCHEMA, _text_line, max_line=None if limit is None else limit + 2)


# -- line-based formats ------------------------------------------------------------------


def _line_blocks(piece: Piece, spec: InputSpec, max_line: int | None) -> Iterator[tuple[int, bytes | LongLine]]:
    """:func:`dataprep.io.lines.line_blocks` over the piece's byte range (or whole stream)."""
    with _open(piece, spec) as f:
        if _is_compressed(piece.path):  # small read1s: what was decompressed before a break comes out
            yield from line_blocks(getattr(f, "read1", f.read), READ_CHUNK, max_line=max_line)
            return
        start = max(piece.start - 1, 0)
        f.seek(start)
        yield from line_blocks(f.read, LINE_BLOCK, start, piece.end, skip_first=piece.start > 0, max_line=max_line)


def _parsed_runs(parse_block, block: bytes, pos: int, relpath: str, spec: InputSpec,
                 schema: pa.Schema) -> Iterator[tuple[int, bytes, pa.Table | None]]:
    """(offset, run of lines, its table or None): a block that ``parse_block`` refuses is halved
    at a line break, down to ``MIN_RUN`` bytes, so one bad line sends only a small run of lines
    to the per-line parser."""
    table = parse_block(block, pos, relpath, spec, schema)
    middle = block.find(b"\n", len(block) // 2) + 1
    if table is not None or len(block) <= MIN_RUN or not 0 < middle < len(block):
        yield pos, block, table
        return
    yield from _parsed_runs(parse_block, block[:middle], pos, relpath, spec, schema)
    yield from _parsed_runs(parse_block, block[middle:], pos + middle, relpath, spec, schema)


def _lines(shard: Shard, spec: InputSpec, schema: pa.Schema, parse, parse_block=None,
           max_line: int | None = None) -> Iterator[ReadBatch]:
    """Documents of line-based inputs.  ``parse(batcher, source, line, spec)`` handles one line;
    ``parse_block(block, offset, relpath, spec, schema)``, where given, may turn a whole run of
    lines into a table at once, or return None to have its lines parsed one by one.  A line of
    more than ``max_line`` bytes is not read into memory: it is quarantined as
    ``document_too_large`` with its first bytes, and the lines after it are read."""
    batcher = _Batcher(schema, spec.batch_size, spec.max_document_size)
    for piece in shard.pieces:
        pos = piece.start
        if piece.size == 0:  # a file with no bytes has no records: say so rather than vanish
            batcher.quarantine(piece.relpath, "empty_file", "file has 0 bytes", raw=b"")
            continue
        try:
            for block_pos, block in _line_blocks(piece, spec, max_line):
                pos = block_pos
                if isinstance(block, LongLine):
                    batcher.quarantine(f"{piece.relpath}:{block_pos}", "document_too_large",
                                       f"a line of {block.size:,} bytes: longer than any document within "
                                       f"input.max_document_size ({spec.max_document_size:,}) can be; not read",
                                       raw=block.head, raw_size=block.size)
                    if batcher.full():
                        yield batcher.emit()
                    continue
                runs = (_parsed_runs(parse_block, block, block_pos, piece.relpath, spec, schema) if parse_block
                        else [(block_pos, block, None)])
                for run_pos, run, table in runs:
                    if table is not None:
                        yield from batcher.emit_with(table)
                        continue
                    for pos, line in block_lines(run_pos, run):
                        if not line.strip():
                            continue  # blank lines are separators, not documents
                        parse(batcher, f"{piece.relpath}:{pos}", line, spec)
                        if batcher.full():
                            yield batcher.emit()
        except EOFError as exc:
            batcher.quarantine(f"{piece.relpath}@truncated", "truncated_input",
                               f"{type(exc).__name__}: {exc} (after offset {pos})", raw_size=piece.size)
        except Exception as exc:  # noqa: BLE001 - whatever a reader raises, the rest of the file is quarantined
            batcher.quarantine(f"{piece.relpath}@error", "read_error",
                               f"{type(exc).__name__}: {exc} (after offset {pos})", raw_size=piece.size)
    yield batcher.emit()


def _text_line(batcher: _Batcher, source: str, line: bytes, spec: InputSpec) -> None:
    try:
        batcher.add(source, line.rstrip(b"\r\n").decode("utf-8"))
    except UnicodeDecodeError as exc:
        batcher.quarantine(source, "invalid_utf8", str(exc), raw=line)


def _jsonl_schema(spec: InputSpec) -> pa.Schema:
    schema = DOCUMENT_SCHEMA
    for name in spec.keep_fields:
        schema = schema.append(pa.field(name, pa.string()))
    return schema


def _as_column_value(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _jsonl_line(batcher: _Batcher, source: str, line: bytes, spec: InputSpec) -> None:
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return batcher.quarantine(source, "invalid_utf8", str(exc), raw=line)
    except ValueError as exc:
        return batcher.quarantine(source, "invalid_json", str(exc), raw=line)
    if not isinstance(record, dict):
        return batcher.quarantine(source, "invalid_json", f"expected an object, got {type(record).__name__}", raw=line)
    text = record.get(spec.text_field)
    if text is None:
        return batcher.quarantine(source, "missing_text_field", f"no field {spec.text_field!r} (input.text_field)",
                                  raw=line)
    if not isinstance(text, str):
        return batcher.quarantine(source, "text_not_string", f"{spec.text_field!r} is {type(text).__name__}", raw=line)
    doc_id = _as_column_value(record.get(spec.id_field)) if spec.id_field else None
    batcher.add(source, text, doc_id, **{k: _as_column_value(record.get(k)) for k in spec.keep_fields})


def _jsonl_block(block: bytes, pos: int, relpath: str, spec: InputSpec, schema: pa.Schema) -> pa.Table | None:
    """Every line of a run of JSONL lines as a document, parsed at once by Arrow's JSON reader;
    None when any line needs :func:`_jsonl_line`'s look (not an object, invalid JSON or UTF-8,
    a missing or non-string field, a document over the size limit)."""
    import pyarrow.compute as pc
    import pyarrow.json as pj

    buf = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], newlines + 1])
    ends = np.concatenate([newlines, [len(buf)]])
    starts, ends = starts[starts < len(buf)], ends[starts < len(buf)]
    maybe_blank = np.flatnonzero((starts == ends) | _BLANK[buf[np.minimum(starts, len(buf) - 1)]])
    blank = [i for i in maybe_blank.tolist() if not block[starts[i]:ends[i]].strip()]
    starts = np.delete(starts, blank)  # blank lines are separators, not documents
    carried = [name for name in [spec.id_field, *spec.keep_fields] if name]
    fields = {spec.text_field: pa.large_string(), **{name: pa.string() for name in carried}}
    try:
        options = pj.ReadOptions(use_threads=False, block_size=len(block) + 1)
        parsed = pj.read_json(pa.BufferReader(block), read_options=options,
                              parse_options=pj.ParseOptions(explicit_schema=pa.schema(fields),
                                                            unexpected_field_behavior="ignore"))
        parsed.validate(full=True)  # the JSON reader does not check UTF-8
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    text = parsed.column(spec.text_field)
    if parsed.num_rows != len(starts) or text.null_count:
        return None
    limit = spec.max_document_size
    if limit is not None and len(text) and pc.max(pc.binary_length(text)).as_py() > limit:
        return None
    sources = pc.binary_join_element_wise(f"{relpath}:", pa.array(pos + starts).cast(pa.string()), "")
    ids = parsed.column(spec.id_field) if spec.id_field else pa.nulls(len(starts), pa.string())
    if ids.null_count:
        ids = pa.array([i if i is not None else document_id(s) for i, s in zip(ids.to_pylist(), sources.to_pylist())],
                       pa.string())
    columns = {"id": ids, "text": text, "source": sources, **{name: parsed.column(name) for name in spec.keep_fields}}
    return pa.table({name: columns[name] for name in schema.names}, schema=schema)


_BLANK = np.zeros(256, dtype=bool)  # what bytes.strip() strips
_BLANK[list(b" \t\n\r\x0b\x0c")] = True


def jsonl_line_limit(max_document_size: int | None) -> int | None:
    """The longest JSONL line that can hold a text of ``max_document_size`` UTF-8 bytes: JSON
    escapes take at most 6 bytes per byte of text (``\\u0001``), plus room for the other fields."""
    return None if max_document_size is None else 6 * max_document_size + (64 << 10)


def _read_jsonl(shard: Shard, spec: InputSpec) -> Iterator[ReadBatch]:
    yield from _lines(shard, spec, _jsonl_schema(spec), _jsonl_line, _jsonl_block,
                      max_line=jsonl_line_limit(spec.max_document_size))


# -- WARC ---------------------------------------------------------------------------------

WARC_SCHEMA = DOCUMENT_SCHEMA.append(pa.field("url", pa.string())).append(
    pa.field("warc_record_id", pa.string())).append(pa.field("content_type", pa.string()))


def _read_warc(shard: Shard, spec: InputSpec) -> Iterator[ReadBatch]:
    """Response records become documents (HTML decoded; other content types are kept with
    their ``content_type`` for the extract stage to judge); request, metadata and warcinfo
    records are not documents and are not counted."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    batcher = _Batcher(WARC_SCHEMA, spec.batch_size, spec.max_document_size)
    for piece in shard.pieces:
        n = 0
        try:
            with fsspec.open(piece.path, "rb", **spec.storage_options) as f:
                for record in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True):
                    source = f"{piece.relpath}#{n}"
                    n += 1
                    payload = record.reader.read()
                    if len(payload) < record.content_length:  # the file ends inside this record
                        batcher.quarantine(source, "truncated_input", f"record declares {record.content_length:,} "
                                           f"body bytes, the file holds {len(payload):,}", raw=payload)
                        continue
                    content_type = (record.http_content_type or "").lower() or None
                    if not payload.strip():
                        batcher.add(source, "", url=record.headers.get("WARC-Target-URI"),
                                    warc_record_id=record.record_id, content_type=content_type)
                    elif _looks_binary(payload) and not (content_type or "").startswith("text/"):
                        batcher.quarantine(source, "binary_content", f"response of type {content_type}", raw=payload)
                    else:
                        batcher.add(source, _decode_html(payload), url=record.headers.get("WARC-Target-URI"),
                                    warc_record_id=record.record_id, content_type=content_type)
                    if batcher.full():
                        yield batcher.emit()
        except Exception as exc:  # noqa: BLE001 - whatever a reader raises, the rest of the file is quarantined
            reason = "truncated_input" if isinstance(exc, EOFError) else "read_error"
            batcher.quarantine(f"{piece.relpath}#{n}@error", reason, f"{type(exc).__name__}: {exc} (after {n} records)",
                               raw_size=piece.size)
    yield batcher.emit()


# -- Parquet ------------------------------------------------------------------------------


def _read_parquet(shard: Shard, spec: InputSpec) -> Iterator[ReadBatch]:
    """Every column of the input is carried; ``text_field`` becomes ``text``; an existing
    ``id`` column (or ``id_field``) is kept as the id."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for piece in shard.pieces:
        try:
            with fsspec.open(piece.path, "rb", **spec.storage_options) as f:
                pf = pq.ParquetFile(f)
                if spec.text_field not in pf.schema_arrow.names:
                    raise _WrongSchema(f"no column {spec.text_field!r} (input.text_field); "
                                       f"columns: {', '.join(pf.schema_arrow.names)}")
                groups = list(piece.row_groups) if piece.row_groups is not None else list(range(pf.num_row_groups))
                row0 = sum(pf.metadata.row_group(i).num_rows for i in range(groups[0])) if groups else 0
                for rb in pf.iter_batches(batch_size=spec.batch_size, row_groups=groups):
                    table = pa.Table.from_batches([rb])
                    sources = [f"{piece.relpath}#{row0 + i}" for i in range(table.num_rows)]
                    row0 += table.num_rows
                    yield _split_too_large(_parquet_documents(table, sources, spec, pc), spec.max_document_size, pc)
        except _WrongSchema as exc:
            yield _one_quarantined(piece, "wrong_schema", str(exc))
        except Exception as exc:  # noqa: BLE001 - an unreadable Parquet file is quarantined, not fatal
            yield _one_quarantined(piece, "read_error", f"{type(exc).__name__}: {exc}")


def _split_too_large(docs: pa.Table, limit: int | None, pc) -> ReadBatch:
    """Parquet rows whose text exceeds ``limit`` UTF-8 bytes go to quarantine (vectorised)."""
    if limit is None or docs.num_rows == 0:
        return ReadBatch(docs, QUARANTINE_SCHEMA.empty_table())
    sizes = pc.binary_length(docs.column(TEXT))
    big = pc.greater(sizes, limit)
    if not pc.any(big).as_py():
        return ReadBatch(docs, QUARANTINE_SCHEMA.empty_table())
    batcher = _Batcher(DOCUMENT_SCHEMA, 1)
    large = docs.filter(big)
    for source, size, text in zip(large.column("source").to_pylist(), pc.filter(sizes, big).to_pylist(),
                                  pc.utf8_slice_codeunits(large.column(TEXT), 0, QUARANTINE_RAW_LIMIT).to_pylist()):
        batcher.quarantine(source, "document_too_large",
                           f"text of {size:,} bytes > input.max_document_size ({limit:,})",
                           raw=text.encode("utf-8", "replace"), raw_size=size)
    return ReadBatch(docs.filter(pc.invert(big)), batcher.emit().quarantine)


class _WrongSchema(ValueError):
    pass


def _one_quarantined(piece: Piece, reason: str, error: str) -> ReadBatch:
    batcher = _Batcher(DOCUMENT_SCHEMA, 1)
    batcher.quarantine(piece.relpath, reason, error, raw_size=piece.size)
    return batcher.emit()


def _parquet_documents(table: pa.Table, sources: list[str], spec: InputSpec, pc) -> pa.Table:
    text = table.column(spec.text_field).cast(pa.large_string())
    text = pc.fill_null(text, "")
    id_column = spec.id_field or ("id" if "id" in table.schema.names else None)
    if id_column and id_column in table.schema.names:
        ids = table.column(id_column).cast(pa.string())
    else:
        ids = pa.array([document_id(s) for s in sources], pa.string())
    rest = [n for n in table.schema.names if n not in (spec.text_field, "id", "source", TEXT)]
    out = pa.table({"id": ids, "text": text, "source": pa.array(sources, pa.string())}, schema=DOCUMENT_SCHEMA)
    for name in rest:
        out = out.append_column(table.schema.field(name), table.column(name))
    return out
