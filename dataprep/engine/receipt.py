"""A shard task's receipt: its counts and every file it wrote (with rows, bytes and SHA-256).

The task writes it last, as ``stages/<NN-stage>/<shard>.receipt.json``: it is the shard's
completion mark.  :meth:`Receipt.load_valid` is the resume check: a receipt counts only if every
file it names is still there with the recorded size and content, so a truncated or corrupted
file is recomputed, never used.  Only receipts travel back to the client.

The check costs a metadata lookup per file, not a read: a file with the recorded size *and*
the modification time it had when the task finished is taken as intact; any other is hashed
and must have the recorded SHA-256 (a copied or restored folder passes; a file changed in any
way fails).  ``verify`` hashes every file whatever its time says (``dataprep run --resume
--verify``), for the one corruption a time check cannot see: bytes changed with the
modification time put back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import fsspec

from dataprep.engine.counts import LengthCounts, ReadCounts, StageCounts
from dataprep.io.atomic import write_bytes_atomic
from dataprep.io.checksums import WrittenFile, modified_time, sha256_of


@dataclass
class Receipt:
    group: int
    shard: str
    #: the reader's counts, for the one group that read (and counted) the input; else None
    reader: ReadCounts | None
    #: per stage of the group, by the stage's index in the recipe
    stages: dict[int, StageCounts]
    outputs: list[WrittenFile]
    #: lengths of the documents written (None in receipts of dataprep versions before it counted them)
    lengths: LengthCounts | None = field(default_factory=LengthCounts)

    @property
    def docs(self) -> int:
        """Documents the task processed (for progress): the first stage's input, else what it read."""
        first = next(iter(self.stages.values()), None)
        if first is not None and first.docs_in:
            return first.docs_in
        return self.reader.docs if self.reader is not None else 0

    def to_json(self) -> dict:
        return {"group": self.group, "shard": self.shard,
                "reader": asdict(self.reader) if self.reader is not None else None,
                "lengths": asdict(self.lengths) if self.lengths is not None else None,
                "stages": {str(i): asdict(c) for i, c in self.stages.items()},
                "outputs": [f.to_json() for f in self.outputs]}

    @classmethod
    def from_json(cls, data: dict) -> Receipt:
        return cls(group=int(data["group"]), shard=data["shard"],
                   reader=ReadCounts(**data["reader"]) if data.get("reader") else None,
                   stages={int(i): StageCounts(**c) for i, c in data["stages"].items()},
                   outputs=[WrittenFile(**f) for f in data["outputs"]],
                   lengths=LengthCounts(**data["lengths"]) if data.get("lengths") is not None else None)

    def write(self, fs: fsspec.AbstractFileSystem, path: str) -> None:
        write_bytes_atomic(fs, path, json.dumps(self.to_json(), sort_keys=True, indent=1).encode())

    @classmethod
    def load_valid(cls, fs: fsspec.AbstractFileSystem, root: str, path: str, verify: bool = False) -> Receipt | None:
        """The receipt at ``root/path`` if it and every file it names are intact, else None
        (see the module docstring for what "intact" costs to check)."""
        full = f"{root}/{path}"
        if not fs.exists(full):
            return None
        try:
            receipt = cls.from_json(json.loads(fs.cat_file(full)))
            for f in receipt.outputs:
                out = f"{root}/{f.path}"
                if not fs.exists(out) or fs.size(out) != f.bytes:
                    return None
                unchanged = f.mtime is not None and modified_time(fs, out) == f.mtime
                if (verify or not unchanged) and sha256_of(fs, out) != f.sha256:
                    return None
        except (ValueError, KeyError, TypeError, OSError):
            return None
        return receipt
