"""The document schema (DESIGN §4) and the schemas of the side datasets.

Every dataset a run writes has the three required columns ``id``, ``text`` and ``source``;
stages add typed columns and never drop columns they do not own.  Removed documents keep all
their columns and gain ``stage`` and ``reason``; quarantined inputs have a fixed schema of
their own, since they could not be turned into documents.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from dataprep.pandas_deferral import defer_pandas

defer_pandas()  # before any module of dataprep converts a value: pyarrow's probe must not import pandas

ID = "id"
TEXT = "text"
SOURCE = "source"

DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field(ID, pa.string(), nullable=False),
        pa.field(TEXT, pa.large_string(), nullable=False),
        pa.field(SOURCE, pa.string(), nullable=False),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field(ID, pa.string()),
        pa.field(SOURCE, pa.string()),
        pa.field("reason", pa.string()),
        pa.field("error", pa.string()),
        pa.field("raw_size", pa.int64()),
        # the first bytes of what could not be read (bounded: see io.readers.QUARANTINE_RAW_LIMIT)
        pa.field("raw", pa.large_binary()),
    ]
)


class SchemaError(ValueError):
    """A batch does not carry the required document columns with their types."""


def document_id(source: str) -> str:
    """A stable 16-hex-digit id derived from a document's source (file + position)."""
    return hashlib.blake2b(source.encode("utf-8"), digest_size=8).hexdigest()


def check_documents(table: pa.Table, where: str) -> None:
    """Raise SchemaError unless ``table`` has ``id``/``text``/``source`` with their types."""
    for field in DOCUMENT_SCHEMA:
        if field.name not in table.schema.names:
            raise SchemaError(f"{where}: required column {field.name!r} is missing "
                              f"(columns: {', '.join(table.schema.names)})")
        got = table.schema.field(field.name).type
        if got != field.type:
            raise SchemaError(f"{where}: column {field.name!r} has type {got}, expected {field.type}")
