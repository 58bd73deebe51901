"""Words as the quality rules count them: NLTK's ``word_tokenize`` on English.

Within one sentence ``word_tokenize`` is ``NLTKWordTokenizer`` (the Treebank rules), which needs
no model, so single sentences are compared with it directly.  Where one text holds several
sentences NLTK first splits them with punkt's trained English model, which cannot be downloaded
here; those cases state what that model does (each was checked against it by hand, and
``benchmarks/quality_vs_datatrove.py`` compares whole pages with it)."""

import pyarrow as pa
import pytest
from nltk.tokenize import NLTKWordTokenizer

from dataprep.text.stats import TextStats, sentence_ends

SENTENCES = [
    "Good muffins cost $3.88 (roughly 3,36 euros) in New York.",
    "She said \"don't\" and 'I can't' -- then left.",
    "Ratios: 3:4, a,b and [x] {y} <z> are all here!",
    "He's gone; they're here, we'll see & you've won #1 at 50% @ noon?",
    "Use `code` or ``quoted'' text, e.g., like this...",
    "I cannot wait, gonna leave, gotta go, wanna stay.",
    "The “curly” and ‘single’ quotes don’t join « guillemets ».",
    "Call os.path.join() with 3.14 and v1.2.3 today.",
    "Mr. Smith met Dr. Jones in the U.S. yesterday.",
    "It costs 5 * 3 – 2 — or so.",
    "The file 'a.txt' was read by id='x' again.",
    "Look at Python's and the users' rights.",
]


def ours(text: str) -> list[str]:
    return TextStats(pa.array([text])).words.to_pylist()


def nltk_words(sentence: str) -> list[str]:
    # NLTK writes opening and closing double quotes as `` and ''; ours keeps the character
    return ['"' if t in ("``", "''") and '"' in sentence else t for t in NLTKWordTokenizer().tokenize(sentence)]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_one_sentence_splits_into_nltks_words(sentence):
    assert ours(sentence) == nltk_words(sentence)


@pytest.mark.parametrize(("text", "words"), [
    # a period before white space ends a sentence, whatever follows, unless an exception holds
    ("See e.g. the docs.", ["See", "e.g", ".", "the", "docs", "."]),
    ("Ends here. then more", ["Ends", "here", ".", "then", "more"]),
    ("the list, etc.) and more", ["the", "list", ",", "etc", ".", ")", "and", "more"]),
    ("Use it:\n\nfoo(x) returns x.\n\nNew in version 3.3.\n\nBar", ["Use", "it", ":", "foo", "(", "x", ")",
                                                                 "returns", "x", ".", "New", "in", "version",
                                                                 "3.3", ".", "Bar"]),
    # ... not after an abbreviation, nor an initial or a number before a lower-case word
    ("Mr. Smith and Dr. Who", ["Mr.", "Smith", "and", "Dr.", "Who"]),
    ("the value of x. extend it", ["the", "value", "of", "x.", "extend", "it"]),
    ("New in version 3.3.\n\nextend(x)", ["New", "in", "version", "3.3.", "extend", "(", "x", ")"]),
    # ... nor an initial after a capitalised word, or before a CamelCase or upper-case word
    ("by Gregory P. Smith today", ["by", "Gregory", "P.", "Smith", "today"]),
    ("written in C. PyObject is", ["written", "in", "C.", "PyObject", "is"]),
    # ... nor before a closing bracket that another period ends; e.g., keeps its period
    ("(see the list, etc.). All", ["(", "see", "the", "list", ",", "etc.", ")", ".", "All"]),
    ("as in e.g., this", ["as", "in", "e.g.", ",", "this"]),
])
def test_periods_end_sentences_where_punkt_does(text, words):
    assert ours(text) == words


def test_counts_per_document_and_symbols():
    stats = TextStats(pa.array(["Hello, world.", "", "a -- b"]))
    assert stats.n_words.tolist() == [4, 0, 3]
    assert stats.n_non_symbol_words.tolist() == [2, 0, 2]
    assert stats.n_alpha_words.tolist() == [2, 0, 2]


def test_sentence_ends_are_where_the_word_split_ends_sentences():
    lines = ["One. Two.", "See e.g. the docs. Then", "Mr. Smith came. He left!  Why? no", "Wait... Then",
             "wait... then", "the value of x. extend it", "(see the list, etc.). All", "a single line"]
    assert sentence_ends(pa.array(lines)).tolist() == [1, 2, 3, 1, 0, 0, 1, 0]
