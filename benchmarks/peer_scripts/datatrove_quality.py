"""Runs in the peers' environment: datatrove's Gopher, C4 and FineWeb filters on the texts of a
Parquet file, one document at a time through each filter's own ``filter`` method.

datatrove tokenizes English with NLTK's ``word_tokenize``/``sent_tokenize``, which use the
trained punkt model; that model is a download this machine cannot make, so sentences come from
an untrained ``PunktSentenceTokenizer`` (punkt's rules without learned abbreviations) and words
from NLTK's ``NLTKWordTokenizer`` applied to each of those sentences, as word_tokenize does."""

import json
import sys
import time

import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.utils.word_tokenizers import WordTokenizer
from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktSentenceTokenizer


class TreebankWords(WordTokenizer):
    def __init__(self):
        super().__init__("en")
        self._words = NLTKWordTokenizer()
        self._sentences = PunktSentenceTokenizer()

    def word_tokenize(self, text):
        return [t.strip() for s in self._sentences.tokenize(text) for t in self._words.tokenize(s) if t.strip()]

    def sent_tokenize(self, text):
        return [s.strip() for s in self._sentences.tokenize(text) if s.strip()]

    def span_tokenize(self, text):
        return list(self._sentences.span_tokenize(text))


def main(out, parquet):
    table = pq.read_table(parquet, columns=["id", "text"])
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    words = TreebankWords()
    presets = {
        "gopher": [GopherQualityFilter(language=words), GopherRepetitionFilter(language=words)],
        "c4": [C4QualityFilter(language=words)],
        "fineweb": [FineWebQualityFilter(language=words)],
        # FineWeb's chain as in datatrove's examples/fineweb.py; C4 rewrites doc.text for the next filter
        "fineweb_chain": [GopherRepetitionFilter(language=words), GopherQualityFilter(language=words),
                          C4QualityFilter(filter_no_terminal_punct=False, language=words),
                          FineWebQualityFilter(language=words)],
    }
    result = {}
    for name, filters in presets.items():
        decisions = {}
        t0 = time.perf_counter()
        for doc_id, text in zip(ids, texts):
            doc = Document(text=text, id=doc_id)
            reason = None
            for f in filters:
                verdict = f.filter(doc)
                if verdict is not True and (verdict is False or not verdict[0]):
                    reason = verdict[1] if isinstance(verdict, tuple) else f.name
                    break
            decisions[doc_id] = reason
        result[name] = {"seconds": time.perf_counter() - t0, "decisions": decisions}
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
