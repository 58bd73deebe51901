"""dedup_paragraphs: repeated paragraphs and boilerplate lines across shards are cut, the first
occurrence kept by a rule that does not depend on sharding; the same output with 1 and 2 workers
and two shardings; the kept fraction is right.  Its vectorised parts equal their plain
references on random texts: the cut texts equal a Python rebuild, the units found in place
equal Arrow's split, and the normal form's hashes equal those of Arrow's normal form."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dataprep import Pipeline
from dataprep.dedup.byte_words import lower_nfc
from dataprep.dedup.unit_hashes import normal_form_bytes, span_hashes, unit_hashes
from dataprep.report.inspection import read_table
from dataprep.text.hashing import utf8_buffers
from dataprep.text.text_units import PARAGRAPH_BREAK, cut_units
from tests.conftest import output_bytes

SHARED = "This paragraph is copied into many documents of the corpus, word for word, as news sites syndicate."
BOILER = "Accept all cookies | Privacy policy | Contact us"


def _corpus(folder: Path) -> dict[str, str]:
    rng = random.Random(3)
    vocab = ["river", "stone", "lamp", "orchard", "violin", "harbour", "meadow", "ladder", "candle", "tower"]
    folder.mkdir()
    texts = {}
    with open(folder / "docs.jsonl", "w") as f:
        for i in range(60):
            own = [" ".join(rng.choice(vocab) + str(rng.randint(0, 999)) for _ in range(25)) for _ in range(3)]
            paragraphs = own[:1] + ([SHARED] if i % 3 == 0 else []) + own[1:]
            if i % 2 == 0:
                paragraphs.append(f"{BOILER}\n{BOILER.upper()}  ")  # a boilerplate line twice (case, blanks)
            text = "\n\n".join(paragraphs)
            doc_id = f"d{(i * 37) % 60:03d}"  # ids out of file order
            texts[doc_id] = text
            f.write(json.dumps({"id": doc_id, "text": text}) + "\n")
        f.write(json.dumps({"id": "d999", "text": SHARED}) + "\n")  # only a repeated paragraph: nothing left
    texts["d999"] = SHARED
    return texts


def _run(tmp_path: Path, name: str, workers: int, shard_size: str, **params) -> tuple[Path, dict]:
    out = tmp_path / name
    spec = {"path": str(tmp_path / "in"), "format": "jsonl", "id_field": "id", "shard_size": shard_size}
    stats = Pipeline(input=spec, output=str(out), stages=[{"dedup_paragraphs": params}]).run(workers=workers).stats
    return out, stats


def test_repeated_paragraphs_are_cut_after_the_first_and_boilerplate_lines_everywhere(tmp_path: Path) -> None:
    texts = _corpus(tmp_path / "in")
    out, stats = _run(tmp_path, "para", 2, "4KB", min_chars=10)
    assert stats["run"]["shards"] >= 3
    kept = {r["id"]: r for r in read_table(str(out / "data")).to_pylist()}
    holders = sorted(i for i, t in texts.items() if SHARED in t)
    first = holders[0]  # the smallest id, wherever it sits in the files
    assert SHARED in kept[first]["text"]
    assert all(SHARED not in kept[i]["text"] for i in holders[1:] if i in kept)
    removed = read_table(str(out / "removed")).to_pylist()
    assert [(r["id"], r["reason"]) for r in removed] == [("d999", "dedup_paragraphs:too_short")]
    for doc_id, row in kept.items():
        assert row["para_kept_frac"] == pytest.approx(len(row["text"]) / len(texts[doc_id]), rel=1e-6)

    lines, _ = _run(tmp_path, "lines", 2, "4KB", unit="line", max_count=1)
    kept = {r["id"]: r["text"] for r in read_table(str(lines / "data")).to_pylist()}
    assert all(BOILER not in t and BOILER.upper() not in t for t in kept.values())  # seen 60 times: cut everywhere
    assert all(t.count("\n") >= 2 for t in kept.values())  # the unique lines stay


def test_the_same_output_whatever_the_workers_and_the_sharding(tmp_path: Path) -> None:
    _corpus(tmp_path / "in")
    one, _ = _run(tmp_path, "one", 1, "4KB")
    two, _ = _run(tmp_path, "two", 2, "4KB")
    assert {k: v for k, v in output_bytes(one).items() if not k.startswith("stages/")} == \
        {k: v for k, v in output_bytes(two).items() if not k.startswith("stages/")}
    coarse, _ = _run(tmp_path, "coarse", 2, "64KB")
    def rows(out: Path) -> list:
        return sorted((r["id"], r["text"]) for r in read_table(str(out / "data")).to_pylist())

    assert rows(one) == rows(coarse)


def _arrow_normal_form(strings: pa.Array) -> pa.Array:
    """The reference normal form, in Arrow's kernels: NFC, lower case, white space runs made one
    space, trimmed."""
    strings = pc.utf8_trim_whitespace(pc.utf8_lower(pc.utf8_normalize(strings, "NFC")))
    return pc.binary_join(pc.utf8_split_whitespace(strings), pa.scalar(" ", strings.type))


def _split_units(text: pa.Array, unit: str) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The reference units: Arrow's split (values, the text of each, its index in it)."""
    split = pc.split_pattern(text, "\n") if unit == "line" else pc.split_pattern_regex(text, PARAGRAPH_BREAK)
    docs = np.asarray(pc.list_parent_indices(split), dtype=np.int64)
    offsets = np.asarray(split.offsets, dtype=np.int64)
    return pc.list_flatten(split), docs, np.arange(len(docs)) - (offsets[:-1] - offsets[0])[docs]


def _normal_hashes(strings: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The library's normal form of each whole string, hashed: (h1, h2, non-empty)."""
    out, starts, ends = normal_form_bytes(*utf8_buffers(lower_nfc(strings)))
    nonempty = ends > starts
    h1, h2 = np.zeros(len(strings), np.uint64), np.zeros(len(strings), np.uint64)
    h1[nonempty], h2[nonempty] = span_hashes(out, starts[nonempty], ends[nonempty])
    return h1, h2, nonempty


def _rebuild(text: str, cut: set[int], unit: str) -> str:
    """The plain reference: ``text`` without the units in ``cut``, each kept unit with the break
    that followed it but the last one kept."""
    if unit == "line":
        return "\n".join(line for i, line in enumerate(text.split("\n")) if i not in cut)
    parts = re.split(f"({PARAGRAPH_BREAK})", text)  # paragraphs at even positions, their breaks between
    kept = [i for i in range((len(parts) + 1) // 2) if i not in cut]
    return "".join(parts[2 * i] + (parts[2 * i + 1] if j < len(kept) - 1 else "") for j, i in enumerate(kept))


def _cut(texts: list[str], cut: dict[int, set[int]], unit: str) -> list[str]:
    rows = np.array([i for i in sorted(cut) for _ in sorted(cut[i])], dtype=np.int64)
    units = np.array([u for i in sorted(cut) for u in sorted(cut[i])], dtype=np.int64)
    return cut_units(pa.array(texts, pa.large_string()), rows, units, unit).to_pylist()


def test_cut_texts_keep_each_unit_with_its_break() -> None:
    text = "one\n\ntwo\n \nthree\n\n\nfour"
    assert _cut([text], {0: {1}}, "paragraph") == ["one\n\nthree\n\n\nfour"]
    assert _cut([text], {0: {3}}, "paragraph") == ["one\n\ntwo\n \nthree"]
    assert _cut([text], {0: {0, 1, 2, 3}}, "paragraph") == [""]
    assert _cut(["a\nb\nc\n", "x"], {0: {1}}, "line") == ["a\nc\n", "x"]
    with pytest.raises(ValueError, match="beyond"):
        _cut(["a\nb"], {0: {2}}, "line")


SPICE = list("abcXYZ \t\n\n\x0b\x0c\r\x1c\x1f.,") + ["é", "É", "e\u0301", "\u00a0", "\u2028", "ß", "İ", "\u3000", "中",
                                                     "\u0085", "\u205f", "\u2009"]


def _texts(rng: random.Random, ascii_only: bool) -> list[str]:
    alphabet = SPICE[:17] if ascii_only else SPICE
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(rng.randint(1, 10))]


def test_vectorised_units_equal_their_references_on_random_texts() -> None:
    rng = random.Random(5)
    for trial in range(400):
        texts = _texts(rng, ascii_only=trial % 2 == 0)
        arr = pa.array(texts, pa.large_string())
        # the normal form: NumPy white space after Arrow's lower case and NFC == Arrow's kernels
        h1, h2, nonempty = _normal_hashes(arr)
        reference = _arrow_normal_form(arr)
        data, offsets = utf8_buffers(reference)
        assert (nonempty == (offsets[1:] > offsets[:-1])).all(), texts
        r1, r2 = span_hashes(data, offsets[:-1][nonempty], offsets[1:][nonempty])
        assert (h1[nonempty] == r1).all() and (h2[nonempty] == r2).all(), texts
        assert not (h1[nonempty] == h2[nonempty]).any()
        for unit in ("line", "paragraph"):
            # units found in place == Arrow's split, hashed one by one
            values, docs, index = _split_units(arr, unit)
            v1, v2, keep = _normal_hashes(values)
            g1, g2, g_docs, g_index = unit_hashes(arr, unit)
            assert (g1 == v1[keep]).all() and (g2 == v2[keep]).all(), (texts, unit)
            assert (g_docs == docs[keep]).all() and (g_index == index[keep]).all(), (texts, unit)
            # cut texts == the Python rebuild
            counts = np.bincount(docs, minlength=len(texts))
            cut = {i: {u for u in range(counts[i]) if rng.random() < 0.4} for i in range(len(texts))}
            assert _cut(texts, cut, unit) == [_rebuild(t, cut[i], unit) for i, t in enumerate(texts)], (texts, unit)


def test_span_hashes_depend_on_the_bytes_alone_and_tell_spans_apart() -> None:
    from dataprep.text.hashing import span_hash_pair

    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, 20_000).astype(np.uint8)
    starts = rng.integers(0, 19_000, 3_000)
    ends = np.minimum(starts + rng.integers(0, 300, 3_000), len(data))
    first, second = span_hash_pair(data, starts, ends)
    # each span hashed alone, from a buffer of its own bytes: the same two hashes
    for i in range(0, 3_000, 97):
        one = span_hash_pair(data[starts[i]:ends[i]].copy(), np.array([0]), np.array([ends[i] - starts[i]]))
        assert (one[0][0], one[1][0]) == (first[i], second[i])
    spans = [data[s:e].tobytes() for s, e in zip(starts, ends)]
    distinct = len(set(spans))
    assert len(set(first.tolist())) == distinct and len(set(second.tolist())) == distinct
    assert len(set(zip(first.tolist(), second.tolist()))) == distinct
    # one byte changed anywhere, two 8-byte chunks swapped, a zero byte appended: other hashes
    base = rng.integers(0, 256, 64).astype(np.uint8)
    variants = [base]
    for k in range(64):
        for bit in (1, 128):
            v = base.copy()
            v[k] ^= bit
            variants.append(v)
    variants.append(np.concatenate([base[8:16], base[:8], base[16:]]))
    variants.append(np.concatenate([base, [0]]).astype(np.uint8))
    variants.append(base[:63])
    flat = np.concatenate(variants)
    lens = np.array([len(v) for v in variants])
    bounds = np.concatenate([[0], np.cumsum(lens)])
    a, b = span_hash_pair(flat, bounds[:-1], bounds[1:])
    assert len(set(a.tolist())) == len(variants) and len(set(b.tolist())) == len(variants)
    # the hashes are well spread: every bit is set in about half of them
    bits = (first[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    assert (abs(bits.mean(axis=0) - 0.5) < 0.05).all()
