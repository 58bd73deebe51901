"""Every file appears whole or not at all, and every writer in dataprep goes through one helper."""

from __future__ import annotations

import re
from pathlib import Path

import fsspec
import pytest

from dataprep.io.atomic import TMP_MARK, AtomicFile, atomic_path, remove_leftovers, write_bytes_atomic
from tests.conftest import REPO


def test_a_file_appears_only_when_committed(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    target = tmp_path / "a" / "b.bin"
    f = AtomicFile(fs, str(target))
    f.file.write(b"half")
    assert not target.exists() and len(list(target.parent.glob(f"b.bin{TMP_MARK}*"))) == 1
    f.commit()
    assert target.read_bytes() == b"half" and list(target.parent.iterdir()) == [target]


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    with pytest.raises(RuntimeError), AtomicFile(fs, str(tmp_path / "x.json")) as f:
        f.write(b"{")
        raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError), atomic_path(tmp_path / "y.bin") as name:
        Path(name).write_bytes(b"partial")
        raise ValueError("library failed")
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_killed_writers_are_found(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    write_bytes_atomic(fs, str(tmp_path / "keep.json"), b"{}")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / f"part.parquet{TMP_MARK}1234abcd").write_bytes(b"x")
    (tmp_path / f"report.html{TMP_MARK}00000000").write_bytes(b"x")
    assert remove_leftovers(fs, str(tmp_path)) == 2
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["keep.json"]


#: calls that write a file by themselves; outside dataprep/io/atomic.py each must go through it
DIRECT_WRITES = re.compile(r"""\.write_text\(|\.write_bytes\(|\bopen\([^)]*["'][wax]b?["']|\.mv\(|os\.replace\(|"""
                           r"""\.rename\(|savefig\(|save_model\(|torch\.save\(|np\.save\(""")
#: what such a call may write to: the temporary name atomic_path yields, a null device, a memory buffer
HARMLESS = re.compile(r"""\((tmp|buf)\b|os\.devnull""")
ALLOWED = {
    "dataprep/io/atomic.py": "the helper itself",
    "dataprep/train/trainer.py": "metrics.jsonl is a log appended one line per step; checkpoints are whole "
                                 "folders renamed into place (os.replace of the .tmp folder)",
    "cli/main.py": "no file writes (echo to the terminal only)",
    "dataprep/engine/run_lock.py": "the lock is created with exclusive create ('xb'): its own atomicity",
    "dataprep/engine/poison.py": "the search's private scratch files in a temporary folder (job, report)",
    "dataprep/engine/poison_probe.py": "its report is a log written line by line: what it holds when the "
                                       "process dies is the point",
}


def test_no_writer_bypasses_the_atomic_helper() -> None:
    offenders = []
    for folder in ("dataprep", "transforms", "cli"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            for n, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if DIRECT_WRITES.search(code) and not HARMLESS.search(code) and rel not in ALLOWED:
                    offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "write through dataprep.io.atomic (AtomicFile, write_bytes_atomic, atomic_path):\n" + \
        "\n".join(offenders)
