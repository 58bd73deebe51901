"""The NumPy word splitter gives exactly the words of the Arrow reference (``simplify`` then a
whitespace split), in word and character mode, on hand-picked and random Unicode text."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from dataprep.dedup.byte_words import (
    COMPOSITION_SECONDS,
    byte_words,
    composition_seconds_from_unicodedata,
    is_nfc_inert,
)
from dataprep.dedup.minhash import shingle_hash, shingle_hashes, simplify

TRICKY = [
    "", "   ", "!!! ... ---", "one", "The quick brown fox, again and again!",
    "Ünïcödé wörds, Ünïcödé WÖRDS: 42 times",
    "cafe\u0301 vs caf\u00e9 (decomposed and precomposed)",  # NFC composes e + U+0301
    "\u1100\u1161\u11a8 and \uac00\u11a8 Hangul jamo that compose",
    "İstanbul ΣΊΣΥΦΟΣ straße ǅemal",  # lower-casing that grows or changes length
    "東京都は日本の首都です。漢字とかなカナ",
    "emoji 👍🏽 and flags 🇫🇷 between words",
    "عَرَبِيّ مع تشكيل", "हिन्दी में शब्द", "ไทยไม่มีช่องว่าง",
    "tabs\tand\nnew\r\nlines\u2028and\u00a0no-break\u3000spaces",
    "snake_case x-y a.b c/d e'f «quoted» “curly” ‘single’",
    "a" * 7 + " " + "b" * 8 + " " + "c" * 9 + " " + "d" * 17 + " " + "é" * 13,
    "digits ½ ² ٣ ३ and roman Ⅻ",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "\U0001d400\U0001d401 math letters and \U000e0100 variation selector",
    "ends with a combining mark\u0301",
    "Bengali \u0995\u09c7\u09be composes with a second part of combining class 0",
]


def random_text(rng: random.Random) -> str:
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x3040, 0x30FF), (0x4E00, 0x4E80),
              (0xAC00, 0xAC80), (0x1F300, 0x1F64F), (0x10FF00, 0x10FFFD)]
    out = []
    for _ in range(rng.randint(0, 60)):
        lo, hi = rng.choice(ranges)
        out.append(chr(rng.randint(lo, hi)) if rng.random() < 0.8 else " ")
    return "".join(out)


def reference_words(texts: list[str], mode: str) -> list[list[str]]:
    simple = simplify(pa.array(texts, pa.large_string())).to_pylist()
    if mode == "char":
        return [[c for c in s if c != " "] for s in simple]
    return [s.split() for s in simple]


def words_of(texts: list[str], mode: str) -> list[list[str]]:
    words = byte_words(pa.array(texts, pa.large_string()), mode)
    data = words.data.tobytes()
    out: list[list[str]] = [[] for _ in texts]
    for s, e, d in zip(words.starts.tolist(), words.ends.tolist(), words.docs.tolist()):
        out[d].append(data[s:e].decode("utf-8"))
    return out


@pytest.mark.parametrize("mode", ["word", "char"])
def test_words_equal_the_arrow_reference(mode):
    rng = random.Random(3)
    texts = TRICKY + [random_text(rng) for _ in range(400)] + ["plain ascii text only"] * 3
    assert words_of(texts, mode) == reference_words(texts, mode)
    ascii_only = ["Plain ASCII, only: 3 docs!", "", "x_y z"]
    assert words_of(ascii_only, mode) == reference_words(ascii_only, mode)


def test_documents_never_share_a_word():
    texts = ["abc", "def", "", "ghi jkl", "mno"]  # adjacent in one buffer, boundaries between letters
    assert words_of(texts, "word") == [["abc"], ["def"], [], ["ghi", "jkl"], ["mno"]]


def test_shingle_hash_of_one_shingle_matches_the_batch():
    text = "Alpha beta, GAMMA delta epsilon zeta éta 東京"
    hv, doc = shingle_hashes(pa.array([text], pa.large_string()), 3)
    words = reference_words([text], "word")[0]
    expected = [shingle_hash(" ".join(words[i:i + 3])) for i in range(len(words) - 2)]
    assert hv.tolist() == expected and doc.tolist() == [0] * len(expected)
    hv, doc = shingle_hashes(pa.array(["", "two words", "", "three words here"], pa.large_string()), 3)
    assert doc.tolist() == [1, 3] and hv.tolist() == [shingle_hash("two words"), shingle_hash("three words here")]
    assert len(np.unique(hv)) == 2


def test_composition_seconds_match_the_unicode_database():
    assert composition_seconds_from_unicodedata() == COMPOSITION_SECONDS


def test_text_of_nfc_inert_code_points_is_left_alone_by_nfc():
    """The premise of skipping NFC: a string of code points judged inert is its own NFC, for
    every pair of precomposed characters, composition starters and a spread of other inert ones."""
    import unicodedata

    cps = np.arange(0x30000)
    inert = cps[is_nfc_inert(cps)]
    precomposed = [c for c in inert.tolist() if unicodedata.decomposition(chr(c))[:1] not in ("", "<")]
    firsts = sorted({int(d.split()[0], 16) for c in range(0x30000)
                     if (d := unicodedata.decomposition(chr(c))) and not d.startswith("<")} & set(inert.tolist()))
    assert chr(0xE9) in map(chr, precomposed) and 0x301 not in inert and 0x212B not in inert  # é; a mark; Angstrom sign
    others = inert[:: max(1, len(inert) // 400)].tolist()
    risky = [c for c in inert.tolist() if c in COMPOSITION_SECONDS or unicodedata.combining(chr(c))]  # none, if right
    left = precomposed + firsts
    right = sorted(set(precomposed[:: 3] + firsts + others + risky))
    assert len(left) > 1500 and len(right) > 1000
    bad = [(a, b) for a in left for b in right if unicodedata.normalize("NFC", chr(a) + chr(b)) != chr(a) + chr(b)]
    assert not bad, [tuple(map(hex, p)) for p in bad[:5]]
