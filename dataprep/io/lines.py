"""Whole lines out of a byte stream, a block at a time, in memory bounded whatever the lines hold.

:func:`line_blocks` reads a stream (a file, or a decompressed one) and yields runs of whole
lines of about :data:`LINE_BLOCK` bytes, with the offset of each run.  A line longer than
``max_line`` is never held: once it passes the limit the reader keeps its first bytes, reads on
to its end discarding the rest, and yields a :class:`LongLine` in its place (its offset, length
and first bytes), then goes on with the next line.  So memory is bounded by ``LINE_BLOCK +
max_line`` plus one read, and a multi-GB line in a small gzip costs a pass over it, not its size.

For a byte range of an uncompressed file (``start``/``end``), a reader owns the lines that
*start* in the range: it skips the line that straddles ``start`` (without holding it either) and
stops after the line that straddles ``end``.  If the stream breaks (``EOFError``: a gzip or zstd
stream cut inside a frame), the whole lines before the break come out first.

Written by hand: ``readline`` and Arrow's line readers hold a whole line, however long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

LINE_BLOCK = 4 << 20  # bytes of lines yielded (and, for JSONL, parsed) at a time
HEAD_BYTES = 64 * 1024  # bytes of a long line kept for inspection


@dataclass(frozen=True)
class LongLine:
    """A line longer than the reader's limit, passed over: its length (newline included) and first bytes."""

    size: int
    head: bytes


def line_blocks(read: Callable[[int], bytes], read_size: int, pos: int = 0, end: int | None = None,
                skip_first: bool = False, max_line: int | None = None) -> Iterator[tuple[int, bytes | LongLine]]:
    """(offset, run of whole lines or a :class:`LongLine`) from ``read(read_size)`` calls.

    ``pos`` is the stream's offset when reading starts; ``skip_first`` drops the bytes up to and
    including the first newline (the line that straddles a range's start); lines that start at or
    after ``end`` are not yielded.  Every run but the stream's last ends with a newline."""
    buf = bytearray()  # bytes read and not yet yielded; they start at offset `pos`
    tail = 0  # bytes of buf after its last newline: the line in progress
    long_line: tuple[int, int, bytes] | None = None  # a long line being passed over: start, size so far, head
    discard = skip_first  # dropping the partial first line
    while end is None or pos < end or discard:
        try:
            chunk = read(read_size)
        except EOFError:
            if long_line is not None:
                yield long_line[0], LongLine(long_line[1], long_line[2])
            elif not discard and len(buf) > tail:
                yield pos, starting_before(bytes(buf[: len(buf) - tail]), pos, end)
            raise
        eof = not chunk
        if discard or long_line is not None:  # drop bytes up to the end of the line being skipped
            cut = chunk.find(b"\n")
            if cut < 0 and not eof:
                if long_line is not None:
                    long_line = (long_line[0], long_line[1] + len(chunk), long_line[2])
                else:
                    pos += len(chunk)
                continue
            skipped = len(chunk) if cut < 0 else cut + 1
            if long_line is not None:
                start, size, head = long_line
                yield start, LongLine(size + skipped, head)
                pos = start + size + skipped
                long_line = None
            else:
                pos += skipped
            discard = False
            chunk = chunk[skipped:]
            if end is not None and pos >= end:
                return
        buf += chunk
        newline = chunk.rfind(b"\n")
        tail = len(chunk) - newline - 1 if newline >= 0 else tail + len(chunk)
        if max_line is not None and tail > max_line:  # the line in progress is too long: yield what precedes it
            complete = len(buf) - tail
            if complete:
                block = bytes(buf[:complete])
                yield pos, starting_before(block, pos, end)
                if end is not None and pos + len(block) > end:
                    return
                pos += complete
            if end is not None and pos >= end:  # the long line starts in the next range: not ours
                return
            long_line = (pos, tail, bytes(buf[complete:complete + HEAD_BYTES]))
            buf.clear()
            tail = 0
            if eof:
                yield long_line[0], LongLine(long_line[1], long_line[2])
                return
            continue
        if eof or (len(buf) >= LINE_BLOCK and len(buf) > tail):
            cut = len(buf) if eof else len(buf) - tail  # the stream's last line may lack a newline
            block = bytes(buf[:cut])
            del buf[:cut]
            if block:
                yield pos, starting_before(block, pos, end)
                if end is not None and pos + len(block) > end:
                    return
                pos += len(block)
            if eof:
                return


def starting_before(block: bytes, pos: int, end: int | None) -> bytes:
    """The lines of ``block`` (which starts at offset ``pos``) that start before ``end``."""
    if end is None or pos + len(block) <= end:
        return block
    cut = block.find(b"\n", end - pos - 1)
    return block[: cut + 1] if cut >= 0 else block


def block_lines(pos: int, block: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, line with its newline) of every line of a run from :func:`line_blocks`."""
    parts = block.split(b"\n")
    for i, part in enumerate(parts):
        line = part + b"\n" if i < len(parts) - 1 else part
        if line:
            yield pos, line
        pos += len(line)
