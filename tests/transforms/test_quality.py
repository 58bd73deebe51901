"""`quality` rules on hand-made documents at and around each threshold."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from dataprep.transforms.quality import Quality
from tests.test_transform import docs


def pseudo_words(n: int, start: int = 0, length: int = 5) -> list[str]:
    """n distinct lower-case pseudo-words of the given length."""
    letters = "bcdfghjklmnprstvwz"
    combos = itertools.islice(itertools.product(letters, repeat=length), start, start + n)
    return ["".join(c) for c in combos]


def prose(n_words: int, start: int = 0) -> str:
    """n_words words (2 of them stop words), sentences of 10 words, no repetition."""
    own = pseudo_words(n_words - 2, start)
    words = own[:1] + ["the", "and"] + own[1:]
    sentences = [" ".join(words[i:i + 10]).capitalize() + "." for i in range(0, len(words), 10)]
    return " ".join(sentences)


def reason(stage: Quality, text: str) -> str | None:
    out = stage.process(docs([text]))
    return out.removed.column("reason")[0].as_py() if out.removed is not None else None


GOPHER_Q = Quality(gopher_quality={})
GOPHER_R = Quality(gopher_repetition={})


def test_gopher_word_count_threshold():
    assert reason(GOPHER_Q, prose(50)) is None
    assert reason(GOPHER_Q, prose(49)) == "gopher:min_words"
    assert reason(Quality(gopher_quality={"min_words": 10}), prose(12)) is None
    assert reason(Quality(gopher_quality={"max_words": 60}), prose(61)) == "gopher:max_words"
    assert reason(Quality(gopher_quality={"min_words": None}), prose(12)) is None  # null turns the rule off


def test_gopher_mean_word_length():
    base = " ".join(["the", "and"] + pseudo_words(58, length=2))  # mean just above 2
    assert reason(GOPHER_Q, base + ".") == "gopher:min_mean_word_length"
    long_words = " ".join(["the", "and"] + pseudo_words(58, length=11)) + "."
    assert reason(GOPHER_Q, long_words) == "gopher:max_mean_word_length"


def test_gopher_hash_and_ellipsis_ratios():
    text = prose(90)
    # 90 words + 9 periods = 99 tokens, plus the symbols themselves
    assert reason(GOPHER_Q, text + "\n" + " ".join(["#"] * 11)) is None  # 11 / 110 = 0.1: not more than 0.1
    assert reason(GOPHER_Q, text + "\n" + " ".join(["#"] * 12)) == "gopher:hash_ratio"  # 12 / 111
    assert reason(GOPHER_Q, text + "\n" + " ".join(["…"] * 12)) == "gopher:ellipsis_ratio"


def test_gopher_bullet_and_ellipsis_lines():
    lines = prose(100).split(". ")
    bullets = "\n".join(("• " if i else "") + line for i, line in enumerate(lines))  # 9 of 10 lines
    assert reason(GOPHER_Q, bullets) is None  # 0.9 is not more than 0.9
    all_bullets = "\n".join("- " + line for line in lines)
    assert reason(GOPHER_Q, all_bullets) == "gopher:bullet_lines_ratio"
    ellipses = "\n".join(line + ("..." if i < 4 else "") for i, line in enumerate(lines))  # 4 of 10
    assert reason(GOPHER_Q, ellipses) == "gopher:ellipsis_lines_ratio"


def test_gopher_alpha_words_and_stop_words():
    text = prose(80)
    # 80 words + 8 periods + the numbers
    assert reason(GOPHER_Q, text + "\n" + " ".join(["12"] * 12)) is None  # 80 / 100 = 0.8
    assert reason(GOPHER_Q, text + "\n" + " ".join(["12"] * 13)) == "gopher:alpha_words_ratio"  # 80 / 101
    no_stop = prose(80).replace(" the and ", " xyz qrs ")
    assert reason(GOPHER_Q, no_stop) == "gopher:stop_words"
    one_stop = prose(80).replace(" the and ", " The and ")
    assert reason(GOPHER_Q, one_stop) == "gopher:stop_words"


def test_gopher_repetition_lines_paragraphs_ngrams():
    paras = [prose(30, start=i * 40) for i in range(10)]
    assert reason(GOPHER_R, "\n\n".join(paras)) is None
    repeated = "\n\n".join(paras[:6] + paras[:4])  # 4 of 10 paragraphs repeat: > 0.3
    assert reason(GOPHER_R, repeated) == "gopher:dup_para_frac"
    lines = "\n".join(paras[:7] + paras[:3])  # 3 of 10 lines repeat (0.3, not more) but 30% of chars
    assert reason(GOPHER_R, lines) == "gopher:dup_line_char_frac"
    top = prose(60) + " " + " ".join(["alpha beta"] * 40)
    assert reason(GOPHER_R, top) == "gopher:top_2gram_char_frac"
    dup5 = prose(100) + " " + " ".join(prose(100).split()[:40])  # a long repeated run
    assert reason(GOPHER_R, dup5).startswith("gopher:dup_")


def test_gopher_values_are_typed_columns_and_kept_with_removed_documents():
    out = Quality(preset="gopher").process(docs([prose(60), prose(10)]))
    assert out.kept.schema.field("quality_words").type == pa.int32()
    assert out.kept.schema.field("quality_mean_word_length").type == pa.float32()
    assert out.removed.column("quality_words").to_pylist() == [10]
    assert out.kept.column("quality_words").to_pylist() == [60]


def test_c4_rewrites_lines_and_drops_documents():
    good = "\n".join(f"{s}." for s in prose(80).split(". "))
    menu = "Home | About | Contact\n"
    page = menu + good + "\nEnable javascript to see more of this page.\nWe use cookies on this site, read more."
    out = Quality(c4={}).process(docs([page]))
    assert out.kept.num_rows == 1
    kept_text = out.kept.column("text")[0].as_py()
    assert "Home" not in kept_text and "javascript" not in kept_text and "cookies" not in kept_text
    assert kept_text.splitlines()[0].startswith("Bbbbb the and")
    assert reason(Quality(c4={}), good + "\nLorem ipsum dolor sit amet.") == "c4:lorem_ipsum"
    assert reason(Quality(c4={}), good + "\nThe value is {x} here.") == "c4:curly_bracket"
    assert reason(Quality(c4={}), good + "\n{ a brace in a dropped line") is None  # only kept lines count
    assert reason(Quality(c4={}), "One. Two is here.\nThree is here too.") == "c4:too_few_sentences"
    keep_text = Quality(c4={"rewrite": False}).process(docs([page])).kept.column("text")[0].as_py()
    assert keep_text == page


def test_fineweb_rules():
    lines = [f"{line}." for line in prose(200).split(". ")]
    text = "\n".join(lines)
    fw = Quality(fineweb={})
    assert reason(fw, text) is None
    assert reason(fw, "\n".join(line.rstrip(".") for line in lines)) == "fineweb:line_punct_ratio"
    assert reason(fw, "\n".join(lines[:3] + ["short one."] * 0 + [f"item {w}." for w in pseudo_words(20)])) in (
        "fineweb:short_line_ratio", "fineweb:list_ratio")
    assert reason(fw, text + "\n" + lines[0]) == "fineweb:char_dup_ratio"
    assert reason(fw, "") == "fineweb:empty"


def test_cjk_words_are_characters():
    chinese = "我们今天在公园里散步然后去图书馆看书" * 3 + "。"
    rules = {"min_words": 50, "min_mean_word_length": None, "min_stop_words": None}
    out = Quality(gopher_quality=rules).process(docs([chinese]))
    assert out.kept.column("quality_words").to_pylist() == [54]
    japanese = "川に架かる古い橋は石で再建されました。"
    assert Quality(gopher_quality={}).process(docs([japanese])).removed.column("quality_words").to_pylist() == [18]


def test_empty_and_huge_documents():
    out = Quality(preset=["gopher", "c4", "fineweb"]).process(docs(["", "   ", prose(200_000)]))
    reasons = out.removed.column("reason").to_pylist() if out.removed is not None else []
    assert reasons[:2] == ["gopher:min_words", "gopher:min_words"]
    assert out.kept.num_rows + len(reasons) == 3
    assert Quality(preset="gopher").process(docs([])).kept.num_rows == 0


def test_quality_needs_a_rule_set():
    with pytest.raises(ValueError, match="enable rules"):
        Quality()
    with pytest.raises(ValueError):
        Quality(preset="gopher", gopher_quality={"min_wordz": 3})


def _only(section: str, **rule) -> Quality:
    """A Quality stage with one rule of one section enabled (every other rule off)."""
    from dataprep.transforms.quality import C4Rules, FineWebRules, GopherQualityRules, GopherRepetitionRules

    model = {"gopher_quality": GopherQualityRules, "gopher_repetition": GopherRepetitionRules,
             "c4": C4Rules, "fineweb": FineWebRules}[section]
    off = {}
    for name, field in model.model_fields.items():
        if name in rule:
            continue
        if field.annotation in (bool,):
            off[name] = False
        elif name in ("top_ngram_char_frac", "dup_ngram_char_frac"):
            off[name] = {}
        elif name in ("stop_words", "short_line_length", "rewrite", "line_punct_exclude_zero"):
            continue
        else:
            off[name] = None
    return Quality(**{section: {**off, **rule}})


REPEATED = "\n\n".join([prose(40, 0), prose(40, 100), prose(40, 0), "x y z " * 30 + "end.", prose(40, 200)])
# (section, parameter, value column, reason, "max" if values above the threshold are removed)
THRESHOLD_RULES = [
    ("gopher_quality", "min_words", "quality_words", "gopher:min_words", False),
    ("gopher_quality", "max_words", "quality_words", "gopher:max_words", True),
    ("gopher_quality", "min_mean_word_length", "quality_mean_word_length", "gopher:min_mean_word_length", False),
    ("gopher_quality", "max_mean_word_length", "quality_mean_word_length", "gopher:max_mean_word_length", True),
    ("gopher_quality", "max_bullet_lines_ratio", "quality_bullet_lines_ratio", "gopher:bullet_lines_ratio", True),
    ("gopher_quality", "max_ellipsis_lines_ratio", "quality_ellipsis_lines_ratio", "gopher:ellipsis_lines_ratio", True),
    ("gopher_quality", "min_alpha_words_ratio", "quality_alpha_words_ratio", "gopher:alpha_words_ratio", False),
    ("gopher_quality", "min_stop_words", "quality_stop_words", "gopher:stop_words", False),
    ("gopher_repetition", "max_dup_para_frac", "quality_dup_para_frac", "gopher:dup_para_frac", True),
    ("gopher_repetition", "max_dup_para_char_frac", "quality_dup_para_char_frac", "gopher:dup_para_char_frac", True),
    ("gopher_repetition", "max_dup_line_frac", "quality_dup_line_frac", "gopher:dup_line_frac", True),
    ("gopher_repetition", "max_dup_line_char_frac", "quality_dup_line_char_frac", "gopher:dup_line_char_frac", True),
    ("fineweb", "line_punct_thr", "quality_line_punct_ratio", "fineweb:line_punct_ratio", False),
    ("fineweb", "short_line_thr", "quality_short_line_ratio", "fineweb:short_line_ratio", True),
    ("fineweb", "char_duplicates_ratio", "quality_char_dup_ratio", "fineweb:char_dup_ratio", True),
    ("fineweb", "new_line_ratio", "quality_list_ratio", "fineweb:list_ratio", True),
    ("c4", "min_num_sentences", "quality_c4_sentences", "c4:too_few_sentences", False),
]


@pytest.mark.parametrize("section,param,column,expected,is_max", THRESHOLD_RULES, ids=[r[1] for r in THRESHOLD_RULES])
def test_every_rule_at_and_around_its_threshold(section, param, column, expected, is_max):
    doc = REPEATED + "\n- a bullet line\nand an ending...\n" + "\n".join(["short line."] * 3)
    probe = _only(section, **{param: 10**9 if is_max else 0}).process(docs([doc]))
    value = probe.kept.column(column)[0].as_py()
    assert value > 0, f"the document must give {column} a value to test around"
    if isinstance(value, int):  # counts: the threshold itself passes, one beyond fails
        at, beyond = value, (value - 1 if is_max else value + 1)
    else:  # ratios are stored as float32: "at" is within its precision
        tiny = abs(value) * 1e-6
        at, beyond = (value + tiny, value - 1e-3) if is_max else (value - tiny, value + 1e-3)
    assert reason(_only(section, **{param: at}), doc) is None
    assert reason(_only(section, **{param: beyond}), doc) == expected


@pytest.mark.parametrize("n", [2, 3, 4])
def test_top_ngram_rules_at_threshold(n):
    doc = prose(60) + " " + " ".join(["alpha beta gamma delta"] * 12)
    probe = _only("gopher_repetition", top_ngram_char_frac={n: 1.0}).process(docs([doc]))
    value = probe.kept.column(f"quality_top_{n}gram_char_frac")[0].as_py()
    assert reason(_only("gopher_repetition", top_ngram_char_frac={n: value + 1e-4}), doc) is None
    stricter = _only("gopher_repetition", top_ngram_char_frac={n: value - 1e-4})
    assert reason(stricter, doc) == f"gopher:top_{n}gram_char_frac"


@pytest.mark.parametrize("n", [5, 6, 7, 8, 9, 10])
def test_duplicated_ngram_rules_at_threshold(n):
    doc = prose(120) + " " + " ".join(prose(120).split()[10:40])
    probe = _only("gopher_repetition", dup_ngram_char_frac={n: 1.0}).process(docs([doc]))
    value = probe.kept.column(f"quality_dup_{n}gram_char_frac")[0].as_py()
    assert value > 0
    assert reason(_only("gopher_repetition", dup_ngram_char_frac={n: value + 1e-4}), doc) is None
    stricter = _only("gopher_repetition", dup_ngram_char_frac={n: value - 1e-4})
    assert reason(stricter, doc) == f"gopher:dup_{n}gram_char_frac"


def test_c4_line_rules():
    good = "\n".join(f"{s}." for s in prose(80).split(". "))
    c4 = Quality(c4={"rewrite": True})
    cases = {
        "Two words.": False,                      # fewer than 3 words: dropped line
        "A line that has " + "x" * 1001 + " in it.": False,   # a word over 1000 characters
        "This site uses cookies to work well.": False,         # policy
        "No final punctuation here at all": False,
        "A proper line [1] with a citation.": True,
    }
    for line, kept in cases.items():
        text = c4.process(docs([good + "\n" + line])).kept.column("text")[0].as_py()
        assert (line.split(" [1]")[0] in text) == kept, line
    assert "[1]" not in c4.process(docs([good + "\nA proper line [1] with a citation."])).kept.column("text")[0].as_py()


def test_stop_words_per_language_by_the_lang_column():
    german = prose(80).replace(" the and ", " der und ")
    english = prose(80)
    stage = Quality(gopher_quality={"stop_words": {"en": ["the", "and"], "de": ["der", "und", "die"]},
                                    "min_stop_words": {"en": 2, "de": 3}})
    out = stage.process(docs([english, german, german, english], lang=["en", "de", "fr", None]))
    reasons = dict(zip(out.removed.column("id").to_pylist(), out.removed.column("reason").to_pylist()))
    assert reasons == {"1": "gopher:stop_words"}  # German has 2 of its 3; French and unknown: no list, not checked
    assert out.removed.column("quality_stop_words").to_pylist() == [2]
    fallback = Quality(gopher_quality={"stop_words": {"de": ["der", "und"], "*": ["the", "and"]}, "min_stop_words": 2})
    out = fallback.process(docs([german, german.replace(" der und ", " the and "), english], lang=["de", "fr", "fr"]))
    assert out.removed is None  # German by its own list, the others by '*'
    out = fallback.process(docs([german], lang=["fr"]))
    assert out.removed.column("reason").to_pylist() == ["gopher:stop_words"]


def _web_like_corpus(n: int = 240) -> list[str]:
    """Pages of prose lines mixed with navigation lines (short, no end punctuation) that C4
    drops, in varying shares, some with a repeated line: C4 rewrites most of them, and what
    the FineWeb rules see depends on whether they run before or after it."""
    import random

    rng = random.Random(7)
    out = []
    for i in range(n):
        lines = [prose(rng.randint(12, 30), start=i * 400 + k * 40) for k in range(rng.randint(1, 8))]
        for _ in range(rng.randint(0, 40)):
            lines.insert(rng.randrange(len(lines) + 1), " ".join(pseudo_words(rng.randint(1, 3), rng.randint(0, 9000))))
        if rng.random() < 0.2:
            lines.append(lines[0])
        out.append("\n".join(lines))
    return out


def _run(stages: list[Quality], texts: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Chain ``stages`` over the documents: kept id -> text, removed id -> reason."""
    batch, removed = docs(texts), {}
    for stage in stages:
        out = stage.process(batch)
        if out.removed is not None:
            removed.update(zip(out.removed.column("id").to_pylist(), out.removed.column("reason").to_pylist()))
        batch = out.kept
    return dict(zip(batch.column("id").to_pylist(), batch.column("text").to_pylist())), removed


def test_one_stage_with_a_preset_list_decides_as_the_presets_as_separate_stages():
    texts = _web_like_corpus()
    one = _run([Quality(preset=["gopher", "c4", "fineweb"])], texts)
    separate = _run([Quality(preset="gopher"), Quality(preset="c4"), Quality(preset="fineweb")], texts)
    assert one == separate  # the same kept ids and texts, the same removed ids and reasons
    kept, removed = one
    assert len(kept) > 20 and {r.split(":")[0] for r in removed.values()} >= {"c4", "fineweb"}
    assert sum(kept[i] != texts[int(i)] for i in kept) > 20  # C4 removed lines from kept documents
    # the corpus tells the orders apart: FineWeb on the texts before C4 decides differently
    after_c4, _ = _run([Quality(preset="gopher"), Quality(preset="c4")], texts)
    before = _run([Quality(preset="fineweb")], [texts[int(i)] for i in after_c4])[1]
    after = _run([Quality(preset="fineweb")], list(after_c4.values()))[1]
    assert len(before) != len(after)
    # the list's order is the order the rule sets run in
    assert Quality(preset=["fineweb", "c4"]).params.rule_order() == ["fineweb", "c4"]
    assert Quality(preset="c4", gopher_quality={}).params.rule_order() == ["c4", "gopher_quality"]


def gopher_repeated_chars(words: list[str], n: int) -> int:
    """Gopher's duplicated n-gram characters, as its paper and datatrove define them: scan left
    to right; an n-gram seen before counts its characters and the scan jumps past it."""
    seen, repeated, i = set(), 0, 0
    while i < len(words) - n + 1:
        gram = tuple(words[i:i + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return repeated


def test_duplicated_ngram_fractions_equal_gophers_sequential_scan():
    """Random texts over a few words (repeats everywhere, overlapping, across documents of one
    batch) give exactly the fractions of the plain scan, for every n."""
    import random

    rng = random.Random(5)
    vocabulary = ["ab", "cde", "f", "ghij", "kl", "mnopq"]
    texts = [" ".join(rng.choice(vocabulary[:rng.randint(2, 6)]) for _ in range(rng.randint(1, 300)))
             for _ in range(300)]
    ns = [5, 6, 7, 8, 9, 10]
    out = _only("gopher_repetition", dup_ngram_char_frac=dict.fromkeys(ns, 1.0)).process(docs(texts))
    assert out.kept.num_rows == len(texts)
    for n in ns:
        got = out.kept.column(f"quality_dup_{n}gram_char_frac").to_pylist()
        want = [gopher_repeated_chars(t.split(), n) / len(t) for t in texts]
        assert got == pytest.approx(want, rel=1e-6, abs=1e-7), n
