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
    out = Quality(gopher_quality={"min_words": 50, "min_mean_word_length": None, "min_stop_words": None}).process(docs([chinese]))
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
