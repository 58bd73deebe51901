"""``quality``: heuristic quality rules, vectorised over a batch.

Rule sets (each enabled by a preset, or by giving its section; every threshold can be
overridden, and ``null`` turns a single rule off):

* ``gopher_quality`` -- Gopher (Rae et al. 2021, Table A1): word count, mean word length,
  hash/ellipsis-to-word ratios, bullet and ellipsis line ratios, share of words with a letter,
  stop words (a list, or lists per language: ``stop_words: {en: [...], de: [...], '*': [...]}`` by
  the ``lang`` column langid writes, with ``min_stop_words`` a number or per language too).
* ``gopher_repetition`` -- Gopher repetition: duplicated paragraphs and lines (count and
  character fractions), top 2-4-gram character fractions, duplicated 5-10-gram fractions.
* ``c4`` -- C4 (Raffel et al. 2020): keeps only lines that end in terminal punctuation and have
  enough words, drops javascript/policy lines; drops documents with "lorem ipsum", a curly
  bracket, or too few sentences.  With ``rewrite`` (default, as C4) kept documents carry only
  their kept lines.
* ``fineweb`` -- FineWeb: share of lines ending in punctuation, share of short lines, characters
  in duplicated lines, newlines per word.

Presets: ``gopher`` (= gopher_quality + gopher_repetition), ``c4``, ``fineweb``.
Rule sets run in the order of the ``preset`` list (sections given without a preset follow, in
the order above), each on the text the ones before it left: a rule set after ``c4`` sees only
the lines C4 kept, exactly as it would in a separate stage after it, so one stage with
``preset: [gopher, c4, fineweb]`` makes the same decisions as three stages (FineWeb's and
datatrove's order).  A removed document's ``reason`` names the first rule it failed,
e.g. ``gopher:min_mean_word_length``.  Each rule's value is stored as a ``quality_*`` column.
Words are defined in :mod:`dataprep.text.stats` (Chinese and Japanese: one word per character).
Sentences (for C4, counted per line as datatrove counts them) end where the word split ends one
(:func:`dataprep.text.stats.sentence_ends`: a period where punkt would end a sentence, ``?``,
``!``) and at line end.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from dataprep.schema import TEXT
from dataprep.text.stats import TextStats, duplicates, ngram_ids, sentence_ends
from dataprep.transform import Params, StageOutput, Transform, set_columns, split_by_reason

STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]
TERMINAL = ".!?։؟۔܀܁܂।॥။።፧፨᙮᠃᠉‼‽⁇⁈⁉⸮。꓿꘎꘏꛳꛷﹒﹖﹗！．？｡…"
POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]
CITATION = r"\[\d*]|\[edit]|\[citation needed]"


class GopherQualityRules(Params):
    min_words: int | None = Field(50, description="fewest words (not counting punctuation)")
    max_words: int | None = Field(100_000, description="most words")
    min_mean_word_length: float | None = Field(3, description="shortest mean word length (characters)")
    max_mean_word_length: float | None = Field(10, description="longest mean word length")
    max_symbol_word_ratio: float | None = Field(0.1, description="most '#' per word, and most '...'/'…' per word")
    max_bullet_lines_ratio: float | None = Field(0.9, description="most lines starting with a bullet (• or -)")
    max_ellipsis_lines_ratio: float | None = Field(0.3, description="most lines ending with an ellipsis")
    min_alpha_words_ratio: float | None = Field(0.8,
                                                description="fewest words containing a letter, as a share of words")
    min_stop_words: int | None | dict[str, int | None] = Field(
        2, description="fewest distinct stop words present; or per language ({de: 3, '*': 2}; a language without "
        "an entry and no '*' is not checked)")
    stop_words: list[str] | dict[str, list[str]] = Field(
        default_factory=lambda: list(STOP_WORDS), description="the stop words (case-sensitive); or per language, by "
        "the lang column (e.g. {en: [the, and], de: [der, und], '*': [...]}; a language without an entry and no "
        "'*' is not checked)")


class GopherRepetitionRules(Params):
    max_dup_para_frac: float | None = Field(0.3, description="most paragraphs that repeat an earlier one")
    max_dup_para_char_frac: float | None = Field(0.2, description="most characters in repeated paragraphs")
    max_dup_line_frac: float | None = Field(0.3, description="most lines that repeat an earlier one")
    max_dup_line_char_frac: float | None = Field(0.2, description="most characters in repeated lines")
    top_ngram_char_frac: dict[int, float] = Field(default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16},
                                                  description="n -> most characters in the most frequent n-gram")
    dup_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="n -> most characters in repeated n-grams")


class C4Rules(Params):
    filter_no_terminal_punct: bool = Field(True, description="drop lines not ending in . ? ! \" ' (or ending in ...)")
    min_num_sentences: int | None = Field(5, description="fewest sentences in the kept lines")
    min_words_per_line: int | None = Field(3, description="drop lines with fewer words")
    max_word_length: int | None = Field(1000, description="drop lines with a longer word")
    filter_lorem_ipsum: bool = Field(True, description="drop documents containing 'lorem ipsum'")
    filter_javascript: bool = Field(True, description="drop lines mentioning javascript")
    filter_curly_bracket: bool = Field(True, description="drop documents containing '{'")
    filter_policy: bool = Field(True, description="drop lines about cookies and terms of use")
    remove_citations: bool = Field(True, description="remove [1], [edit], [citation needed] from lines")
    rewrite: bool = Field(True, description="kept documents keep only their kept lines (as C4 does)")


class FineWebRules(Params):
    line_punct_thr: float | None = Field(0.12, description="fewest lines ending in terminal punctuation, as a share")
    line_punct_exclude_zero: bool = Field(False,
                                          description="do not remove documents where no line ends in punctuation")
    short_line_thr: float | None = Field(0.67, description="most lines of at most short_line_length characters")
    short_line_length: int = Field(30, description="a short line has at most this many characters")
    char_duplicates_ratio: float | None = Field(0.01, description="most characters in repeated lines")
    new_line_ratio: float | None = Field(0.3, description="most newlines per word")


Preset = Literal["gopher", "gopher_quality", "gopher_repetition", "c4", "fineweb"]
SECTIONS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")


class QualityParams(Params):
    preset: list[Preset] | Preset = Field(default_factory=list, description="rule sets to enable with their defaults")
    gopher_quality: GopherQualityRules | None = Field(None, description="Gopher quality rules (thresholds)")
    gopher_repetition: GopherRepetitionRules | None = Field(None, description="Gopher repetition rules")
    c4: C4Rules | None = Field(None, description="C4 rules")
    fineweb: FineWebRules | None = Field(None, description="FineWeb rules")
    lang_field: str = Field("lang", description="the column of each document's language (langid's), for rules "
                            "given per language")

    @model_validator(mode="after")
    def _enable_presets(self) -> QualityParams:
        presets = [self.preset] if isinstance(self.preset, str) else list(self.preset)
        expanded = {p for name in presets
                    for p in (["gopher_quality", "gopher_repetition"] if name == "gopher" else [name])}
        defaults = {"gopher_quality": GopherQualityRules, "gopher_repetition": GopherRepetitionRules,
                    "c4": C4Rules, "fineweb": FineWebRules}
        for name in expanded:
            if getattr(self, name) is None:
                object.__setattr__(self, name, defaults[name]())
        if not any(getattr(self, n) is not None for n in defaults):
            raise ValueError("enable rules: preset: gopher | c4 | fineweb (or a list), or give a rule section")
        return self

    def rule_order(self) -> list[str]:
        """The enabled rule sets in the order they run: the preset list's, then the other sections."""
        presets = [self.preset] if isinstance(self.preset, str) else list(self.preset)
        order: list[str] = []
        for name in presets:
            for section in (["gopher_quality", "gopher_repetition"] if name == "gopher" else [name]):
                if section not in order:
                    order.append(section)
        return order + [n for n in SECTIONS if getattr(self, n) is not None and n not in order]


class _Decisions:
    """Collects per-rule values and the first failing rule of every document."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)
        self.columns: dict[str, pa.Array] = {}

    def value(self, name: str, values: np.ndarray, integer: bool = False) -> np.ndarray:
        arr = np.asarray(values)
        self.columns[f"quality_{name}"] = pa.array(arr.astype(np.int32) if integer else arr.astype(np.float32))
        return arr

    def fail(self, mask: np.ndarray, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool) & (self.reason == None)  # noqa: E711 - element-wise
        self.reason[mask] = reason


def _per_doc(doc: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``weights`` (or a count) per document ``0..n-1``, given the document of each piece."""
    return np.bincount(doc, weights=weights, minlength=n)[:n]


def _by_language(langs: np.ndarray, keys: list[str]) -> dict[str, np.ndarray]:
    """For each key of a per-language setting, the documents it applies to ('*': every language
    without a key of its own)."""
    listed = [k for k in keys if k != "*"]
    return {k: (langs == k) if k != "*" else ~np.isin(langs, listed) for k in keys}


def _stop_words(s: TextStats, words: list[str] | dict[str, list[str]], langs: np.ndarray) -> tuple[np.ndarray, ...]:
    """Distinct stop words per document, and which documents have a list to be checked against."""
    if not isinstance(words, dict):
        return (s.distinct_words_in(words) if words else np.zeros(s.n, np.int64)), np.ones(s.n, dtype=bool)
    counts, checked = np.zeros(s.n, np.int64), np.zeros(s.n, dtype=bool)
    for key, mask in _by_language(langs, list(words)).items():
        if mask.any() and words[key]:
            counts[mask] = s.distinct_words_in(words[key])[mask]
        checked |= mask
    return counts, checked


def _per_language(value: int | float | None | dict, langs: np.ndarray) -> np.ndarray:
    """A threshold per document (NaN: not checked) from a number, null, or ``{lang: value, '*': default}``."""
    if not isinstance(value, dict):
        return np.full(len(langs), np.nan if value is None else float(value))
    out = np.full(len(langs), np.nan)
    for key, mask in _by_language(langs, list(value)).items():
        out[mask] = np.nan if value[key] is None else float(value[key])
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), 0.0)


class Quality(Transform):
    """Apply the enabled rule sets; store each rule's value; remove with the first failed rule."""

    name = "quality"
    can_annotate = True
    Params = QualityParams

    def process(self, batch: pa.Table) -> StageOutput:
        text = batch.column(TEXT)
        stats = TextStats(text)
        d = _Decisions(batch.num_rows)
        p = self.params
        new_text = None
        for section in p.rule_order():
            if section == "gopher_quality":
                langs = (pc.fill_null(batch.column(p.lang_field).cast(pa.string()), "").to_numpy(zero_copy_only=False)
                         if p.lang_field in batch.schema.names else np.full(batch.num_rows, "", dtype=object))
                self._gopher_quality(stats, p.gopher_quality, d, langs)
            elif section == "gopher_repetition":
                self._gopher_repetition(stats, p.gopher_repetition, d)
            elif section == "c4":
                rewritten = self._c4(stats, p.c4, d)
                if rewritten is not None:  # the rule sets after C4 see the lines it kept
                    new_text = rewritten
                    stats = TextStats(rewritten)
            elif section == "fineweb":
                self._fineweb(stats, p.fineweb, d)
        scored = set_columns(batch, d.columns)
        reasons = pa.array(d.reason.tolist(), pa.string())
        if new_text is None:
            return split_by_reason(scored, reasons)
        return split_by_reason(set_columns(scored, {TEXT: new_text}), reasons, removed_source=scored)

    # -- Gopher quality ---------------------------------------------------------------------
    def _gopher_quality(self, s: TextStats, r: GopherQualityRules, d: _Decisions, langs: np.ndarray) -> None:
        words = d.value("words", s.n_non_symbol_words, integer=True)
        if r.min_words is not None:
            d.fail(words < r.min_words, "gopher:min_words")
        if r.max_words is not None:
            d.fail(words > r.max_words, "gopher:max_words")
        mean = d.value("mean_word_length", np.nan_to_num(s.mean_word_length, nan=0.0))
        if r.min_mean_word_length is not None:
            d.fail(mean < r.min_mean_word_length, "gopher:min_mean_word_length")
        if r.max_mean_word_length is not None:
            d.fail(mean > r.max_mean_word_length, "gopher:max_mean_word_length")
        hashes = d.value("hash_ratio", _ratio(s.count("#"), s.n_words))
        ellipsis = d.value("ellipsis_ratio", _ratio(s.count("...") + s.count("…"), s.n_words))
        if r.max_symbol_word_ratio is not None:
            d.fail(hashes > r.max_symbol_word_ratio, "gopher:hash_ratio")
            d.fail(ellipsis > r.max_symbol_word_ratio, "gopher:ellipsis_ratio")
        bullets = d.value("bullet_lines_ratio", _ratio(s.lines_matching(r"^\s*[•\-]"), s.n_lines))
        if r.max_bullet_lines_ratio is not None:
            d.fail(bullets > r.max_bullet_lines_ratio, "gopher:bullet_lines_ratio")
        end_ellipsis = d.value("ellipsis_lines_ratio", _ratio(s.lines_matching(r"(\.\.\.|…)\s*$"), s.n_lines))
        if r.max_ellipsis_lines_ratio is not None:
            d.fail(end_ellipsis > r.max_ellipsis_lines_ratio, "gopher:ellipsis_lines_ratio")
        alpha = d.value("alpha_words_ratio", _ratio(s.n_alpha_words, s.n_words))
        if r.min_alpha_words_ratio is not None:
            d.fail(alpha < r.min_alpha_words_ratio, "gopher:alpha_words_ratio")
        counts, checked = _stop_words(s, r.stop_words, langs)
        stop = d.value("stop_words", counts, integer=True)
        least = _per_language(r.min_stop_words, langs)
        d.fail(checked & ~np.isnan(least) & (stop < np.nan_to_num(least)), "gopher:stop_words")

    # -- Gopher repetition --------------------------------------------------------------------
    def _gopher_repetition(self, s: TextStats, r: GopherRepetitionRules, d: _Decisions) -> None:
        chars = s.chars.astype(np.float64)
        d.fail(chars == 0, "gopher:empty")
        pieces = {"para": _split(pc.utf8_trim_whitespace(s.text), r"\n{2,}"), "line": _split(s.text, r"\n+")}
        limits = {"para": (r.max_dup_para_frac, r.max_dup_para_char_frac),
                  "line": (r.max_dup_line_frac, r.max_dup_line_char_frac)}
        for kind, (values, doc) in pieces.items():
            dup, dup_chars = duplicates(values, doc, s.n)
            for name, value, limit in ((f"dup_{kind}_frac", _ratio(dup, _per_doc(doc, s.n)), limits[kind][0]),
                                       (f"dup_{kind}_char_frac", _ratio(dup_chars, chars), limits[kind][1])):
                frac = d.value(name, value)
                if limit is not None:
                    d.fail(frac > limit, f"gopher:{name}")
        codes, parents, lengths = s.word_codes, s.word_doc, s.word_len
        cum = np.concatenate([[0], np.cumsum(lengths)])
        for n, limit in sorted(r.top_ngram_char_frac.items()):
            frac = d.value(f"top_{n}gram_char_frac", _ratio(_top_ngram_chars(codes, parents, cum, n, s.n), chars))
            d.fail(frac > limit, f"gopher:top_{n}gram_char_frac")
        if r.dup_ngram_char_frac:
            repeated = _dup_ngram_chars(codes, parents, lengths, sorted(r.dup_ngram_char_frac), s.n)
            for n, limit in sorted(r.dup_ngram_char_frac.items()):
                frac = d.value(f"dup_{n}gram_char_frac", _ratio(repeated[n], chars))
                d.fail(frac > limit, f"gopher:dup_{n}gram_char_frac")

    # -- C4 ------------------------------------------------------------------------------------
    def _c4(self, s: TextStats, r: C4Rules, d: _Decisions) -> pa.Array | None:
        lines = pc.utf8_trim_whitespace(s.lines)
        line_doc = s.line_doc
        n_lines = len(lines)
        split_words = pc.utf8_split_whitespace(lines)
        line_words, word_line = pc.list_flatten(split_words), np.asarray(pc.list_parent_indices(split_words))
        n_words = np.bincount(word_line, minlength=n_lines)[:n_lines]
        keep = np.ones(n_lines, dtype=bool)
        if r.max_word_length is not None:
            longest = np.zeros(n_lines, np.int64)
            np.maximum.at(longest, word_line, np.asarray(pc.utf8_length(line_words), dtype=np.int64))
            keep &= longest <= r.max_word_length
        if r.remove_citations:
            lines = pc.replace_substring_regex(lines, CITATION, "")
        if r.filter_no_terminal_punct:
            ends = np.asarray(pc.match_substring_regex(lines, r"[.?!\"']$"), dtype=bool)
            ends &= ~np.asarray(pc.ends_with(lines, "..."), dtype=bool)
            keep &= ends
        if r.min_words_per_line is not None:
            keep &= n_words >= r.min_words_per_line
        lower = pc.utf8_lower(lines)
        doc_fail_line = np.full(s.n, np.iinfo(np.int64).max)
        doc_fail_reason = np.full(s.n, None, dtype=object)
        positions = np.arange(n_lines)

        def doc_level(mask: np.ndarray, reason: str) -> None:
            hit = keep & mask
            first = np.full(s.n, np.iinfo(np.int64).max)
            np.minimum.at(first, line_doc[hit], positions[hit])
            better = first < doc_fail_line
            doc_fail_line[better] = first[better]
            doc_fail_reason[better] = reason

        if r.filter_lorem_ipsum:
            doc_level(np.asarray(pc.match_substring(lower, "lorem ipsum"), dtype=bool), "c4:lorem_ipsum")
        if r.filter_javascript:
            keep &= ~np.asarray(pc.match_substring(lower, "javascript"), dtype=bool)
        if r.filter_curly_bracket:
            doc_level(np.asarray(pc.match_substring(lines, "{"), dtype=bool), "c4:curly_bracket")
        if r.filter_policy:
            policy = np.zeros(n_lines, dtype=bool)
            for phrase in POLICY:
                policy |= np.asarray(pc.match_substring(lower, phrase), dtype=bool)
            keep &= ~policy
        for reason in ("c4:lorem_ipsum", "c4:curly_bracket"):
            d.fail(doc_fail_reason == reason, reason)
        sentences = sentence_ends(lines) + 1
        n_sent = d.value("c4_sentences", _per_doc(line_doc, s.n, np.where(keep, sentences, 0)), integer=True)
        d.value("c4_kept_lines_ratio", _ratio(_per_doc(line_doc, s.n, keep.astype(float)), _per_doc(line_doc, s.n)))
        if r.min_num_sentences is not None:
            d.fail(n_sent < r.min_num_sentences, "c4:too_few_sentences")
        if not r.rewrite:
            return None
        kept_lines = lines.filter(pa.array(keep))
        counts = _per_doc(line_doc[keep], s.n)
        offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
        per_doc = pa.ListArray.from_arrays(offsets, kept_lines.cast(pa.large_string()))
        joined = pc.binary_join(per_doc, pa.scalar("\n", pa.large_string()))
        return pc.utf8_trim_whitespace(joined).cast(pa.large_string())

    # -- FineWeb ----------------------------------------------------------------------------------
    def _fineweb(self, s: TextStats, r: FineWebRules, d: _Decisions) -> None:
        lines, line_doc = _split(s.text, "\n", regex=False)
        nonblank = np.asarray(pc.match_substring_regex(lines, r"\S"), dtype=bool)
        lines, line_doc = lines.filter(pa.array(nonblank)), line_doc[nonblank]
        n_lines = _per_doc(line_doc, s.n)
        d.fail(n_lines == 0, "fineweb:empty")
        ends = np.asarray(pc.match_substring_regex(lines, f"[{TERMINAL}]$"), dtype=np.float64)
        punct = d.value("line_punct_ratio", _ratio(_per_doc(line_doc, s.n, ends), n_lines))
        if r.line_punct_thr is not None:
            low = punct < r.line_punct_thr
            if r.line_punct_exclude_zero:
                low &= punct != 0
            d.fail(low & (n_lines > 0), "fineweb:line_punct_ratio")
        short = np.asarray(pc.utf8_length(lines), dtype=np.int64) <= r.short_line_length
        short_ratio = d.value("short_line_ratio", _ratio(_per_doc(line_doc, s.n, short.astype(float)), n_lines))
        if r.short_line_thr is not None:
            d.fail(short_ratio > r.short_line_thr, "fineweb:short_line_ratio")
        _, dup_chars = duplicates(lines, line_doc, s.n)
        dup = d.value("char_dup_ratio", _ratio(dup_chars, s.chars - s.count("\n")))
        if r.char_duplicates_ratio is not None:
            d.fail(dup > r.char_duplicates_ratio, "fineweb:char_dup_ratio")
        newline = d.value("list_ratio", _ratio(s.count("\n"), s.n_words))
        if r.new_line_ratio is not None:
            d.fail(newline > r.new_line_ratio, "fineweb:list_ratio")


def _split(text: pa.Array, pattern: str, regex: bool = True) -> tuple[pa.Array, np.ndarray]:
    lists = pc.split_pattern_regex(text, pattern) if regex else pc.split_pattern(text, pattern)
    return pc.list_flatten(lists), np.asarray(pc.list_parent_indices(lists))


def _top_ngram_chars(codes: np.ndarray, parents: np.ndarray, cum: np.ndarray, n: int, n_docs: int) -> np.ndarray:
    """Per document: characters of its most frequent word n-gram (joined by spaces) times its
    count; ties go to the n-gram seen first."""
    out = np.zeros(n_docs, np.float64)
    ids, starts, docs = ngram_ids(codes, parents, n)
    if len(ids) == 0:
        return out
    counts = np.bincount(ids)
    first = np.full(len(counts), len(ids))
    np.minimum.at(first, ids, np.arange(len(ids)))
    order = np.lexsort((first[ids], -counts[ids], docs))
    docs_sorted = docs[order]
    lead = np.ones(len(order), dtype=bool)
    lead[1:] = docs_sorted[1:] != docs_sorted[:-1]
    pick = order[lead]
    length = cum[starts[pick] + n] - cum[starts[pick]] + (n - 1)
    out[docs[pick]] = length * counts[ids[pick]]
    return out


def _dup_ngram_chars(codes: np.ndarray, parents: np.ndarray, lengths: np.ndarray, ns: list[int],
                     n_docs: int) -> dict[int, np.ndarray]:
    """Per document and n: characters in n-grams that repeat an earlier one, scanning left to
    right and skipping past each repeat (Gopher's definition, sequential by nature).

    Only the n-grams that occur more than once in their document take part in the scan: one seen
    once can never be a repeat, and whether it was skipped or recorded changes nothing else.  The
    scan over those runs through every document at once (ids are per document, and a skip never
    reaches past a document's last n-gram into the next), and each longer n looks only where the
    shorter one repeated."""
    out = {n: np.zeros(n_docs, np.float64) for n in ns}
    cum = np.concatenate([[0], np.cumsum(lengths)])
    where = None
    for n in ns:
        ids, starts, docs = ngram_ids(codes, parents, n, where)
        if len(ids) == 0:
            break
        repeats = np.bincount(ids)[ids] > 1
        if not repeats.any():
            break  # no repeated n-gram anywhere: none of any longer n either
        where, ids, docs = starts[repeats], ids[repeats], docs[repeats]
        hits = _scan_repeats(where.tolist(), ids.tolist(), n)
        at = where[hits]
        out[n] = np.bincount(docs[hits], weights=(cum[at + n] - cum[at]).astype(np.float64),
                             minlength=n_docs)[:n_docs]
    return out


def _scan_repeats(starts: list[int], ids: list[int], n: int) -> np.ndarray:
    """Indices of the n-grams Gopher's scan counts as repeats: seen before at a visited position,
    itself not skipped (a repeat at p skips the positions before p + n)."""
    hits, seen, skip_to = [], set(), -1
    for k, (start, gram) in enumerate(zip(starts, ids)):
        if start < skip_to:
            continue
        if gram in seen:
            hits.append(k)
            skip_to = start + n
        else:
            seen.add(gram)
    return np.asarray(hits, dtype=np.int64)
