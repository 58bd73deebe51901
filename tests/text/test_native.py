"""The compiled unit loops (dataprep.text.native) equal their NumPy twins bit for bit: the same
units, hashes and cut texts on random texts (upper case, Unicode white space, paragraph breaks)
and on random bytes that are not UTF-8, so workers with and without the module agree; they
reject bad input with a clear error; the module is built wherever a C compiler is."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dataprep.dedup import unit_hashes as unit_hashes_module
from dataprep.dedup.unit_hashes import unit_hashes_numpy
from dataprep.text import native
from dataprep.text.hashing import utf8_buffers
from dataprep.text.text_units import PARAGRAPH_BREAK, cut_units_numpy

needs_module = pytest.mark.skipif(native._unit_kernel is None, reason="dataprep.text._unit_kernel is not built")
SPICE = list("abcXYZ \t\n\n\n\x0b\x0c\r\x1c\x1f.,") + ["é", "É", "\u00a0", "\u2028", "ß", "\u3000", "中", "\u0085",
                                                      "\u205f", "\u2009", "\u1680", "\u200a", "\u200b"]
# bytes that make the decoder's edge cases: line feeds, blanks, every lead of a white-space code
# point, continuation bytes, overlong and invalid leads; and sequences: white space well formed,
# overlong, cut short, one inside another that reaches past it
RAW = [bytes([b]) for b in (10, 10, 32, 9, 13, 0x41, 0x61, 0xC2, 0xA0, 0x85, 0xE2, 0x80, 0x8A, 0xA8, 0x81, 0x9F, 0xE3,
                            0xE1, 0x9A, 0xF0, 0xF8, 0xE0, 0xC0, 0xC1, 0xFF, 0x1C)]
RAW += [b"\xc2\xa0", b"\xe2\x80\x8a", b"\xe3\x80\x80", b"\xe1\x9a\x80", b"\xe0\x82\x85", b"\xf0\x80\x82\x85",
        b"\xe2\x80", b"\xc2\xe0\xc2\x85", b"\xc2\xe0\x82\x85x", b"\xe2A\x9f"]


def _random_texts(rng: random.Random) -> list[str]:
    return ["".join(rng.choice(SPICE) for _ in range(rng.randint(0, 60))) for _ in range(rng.randint(1, 8))]


def _random_bytes(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    pieces = [RAW[k] for k in rng.integers(0, len(RAW), rng.integers(0, 40))]
    data = np.frombuffer(b"".join(pieces), dtype=np.uint8)
    cuts = np.sort(rng.integers(0, len(data) + 1, rng.integers(0, 6)))
    return data, np.concatenate([[0], cuts, [len(data)]]).astype(np.int64)


def _units_of(text: str, unit: str) -> int:
    return len(text.split("\n")) if unit == "line" else len(re.split(PARAGRAPH_BREAK, text))


@needs_module
def test_unit_hashes_equal_the_numpy_twin_on_texts_and_on_bytes_that_are_not_utf8() -> None:
    rng, byte_rng = random.Random(7), np.random.default_rng(7)
    units_seen = 0
    for trial in range(1500):
        if trial % 3 == 2:
            data, offsets = _random_bytes(byte_rng)
        else:
            data, offsets = utf8_buffers(pa.array(_random_texts(rng), pa.large_string()))
        for unit in ("line", "paragraph"):
            ours, twin = native.unit_hashes(data, offsets, unit), unit_hashes_numpy(data, offsets, unit)
            for got, want, name in zip(ours, twin, ("h1", "h2", "text", "index")):
                assert got.dtype == want.dtype and np.array_equal(got, want), (name, unit, data.tobytes(), offsets)
            units_seen += len(ours[0])
    assert units_seen > 10_000


@needs_module
def test_cut_units_equal_the_numpy_twin_in_any_order_with_repeats() -> None:
    rng = random.Random(11)
    for _ in range(800):
        texts = _random_texts(rng)
        array = pa.array(texts, pa.large_string())
        for unit in ("line", "paragraph"):
            pairs = [(i, u) for i, t in enumerate(texts) for u in range(_units_of(t, unit)) if rng.random() < 0.4]
            pairs += rng.sample(pairs, len(pairs) // 4)  # some cut twice
            rng.shuffle(pairs)
            rows = np.array([p[0] for p in pairs], dtype=np.int64)
            units = np.array([p[1] for p in pairs], dtype=np.int64)
            got = native.cut_units(*utf8_buffers(array), rows, units, unit)
            assert got.to_pylist() == cut_units_numpy(array, rows, units, unit).to_pylist(), (texts, unit, pairs)


@needs_module
def test_bad_input_is_refused_with_a_clear_error() -> None:
    data, offsets = utf8_buffers(pa.array(["a\nb", "c"], pa.large_string()))
    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="beyond its text's units"):
        native.cut_units(data, offsets, one, np.array([2]), "line")
    with pytest.raises(ValueError, match="beyond its text's units"):
        native.cut_units(data, offsets, one, np.array([-1]), "line")
    with pytest.raises(ValueError, match="beyond its text's units"):
        native.cut_units(data, offsets, np.array([2]), np.array([0]), "line")
    with pytest.raises(ValueError, match="offsets must rise"):
        native.unit_hashes(data, np.array([0, 3, 2], dtype=np.int64), "line")
    with pytest.raises(ValueError, match="offsets must rise"):
        native.unit_hashes(data, np.array([0, 9], dtype=np.int64), "line")
    from dataprep.text import _unit_kernel

    h, i = np.empty(4, np.uint64), np.empty(4, np.int64)
    with pytest.raises(ValueError, match="the same number of items"):
        _unit_kernel.unit_hashes(data, offsets, False, h, h, i, np.empty(3, np.int64))
    with pytest.raises(ValueError, match="fewer items than the units found"):
        _unit_kernel.unit_hashes(data, offsets, False, h[:1], h[:1], i[:1], i[:1])
    with pytest.raises(ValueError, match="unit must be one of"):
        native.unit_hashes(data, offsets, "sentence")


@needs_module
def test_the_stage_gives_the_same_summaries_and_texts_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataprep.schema import DOCUMENT_SCHEMA
    from dataprep.transforms.dedup_paragraphs import DedupParagraphs

    rng = random.Random(3)
    texts = ["\n".join(rng.choice(["Shared LINE  one", "  shared line one ", "Cookie\u00a0notice", "x", ""])
                       for _ in range(rng.randint(1, 12))) for _ in range(200)]
    ids = [f"d{i:03d}" for i in range(len(texts))]
    batch = pa.table({"id": ids, "text": pa.array(texts, pa.large_string()), "source": ids}, schema=DOCUMENT_SCHEMA)
    stage = DedupParagraphs(unit="line")
    state = pa.table({"id": ids[::3], "unit": pa.array([0] * len(ids[::3]), pa.int64())})
    results = []
    for available in (True, False):
        monkeypatch.setattr(native, "AVAILABLE", available)
        out = stage.apply(batch, state)
        results.append((stage.summarize(batch), out.kept, out.removed))
    assert results[0][0].equals(results[1][0])
    assert results[0][1].equals(results[1][1]) and results[0][2].equals(results[1][2])
    assert unit_hashes_module.native is native


def test_DATAPREP_NATIVE_0_turns_the_module_off() -> None:
    code = "from dataprep.text import native; print(native.AVAILABLE)"
    env = {**os.environ, "DATAPREP_NATIVE": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_module_is_built_wherever_a_c_compiler_and_the_python_headers_are() -> None:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if shutil.which(compiler) is None or not headers.exists():
        pytest.skip(f"no C compiler ({compiler}) or no {headers}: the NumPy code runs")
    assert native._unit_kernel is not None, ("a C compiler is here but dataprep.text._unit_kernel is not built: "
                                             "reinstall (bash scripts/setup.sh, or pip install .), read the build log")
