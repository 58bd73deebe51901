"""Runs in the peers' environment: datatrove's Gopher, C4 and FineWeb filters on the texts of a
Parquet file, one document at a time through each filter's own ``filter`` method.

Words and sentences come from datatrove's own ``NLTKTokenizer`` for English, as FineWeb ran
(datatrove 0.10.1 assigns spaCy to English by default; FineWeb's filters split with NLTK): NLTK's
``word_tokenize``/``sent_tokenize`` with the trained English punkt model, which ``peers.py`` puts
in ``benchmarks/.work/nltk_data``.  Only its ``span_tokenize`` is replaced: datatrove loads it from punkt's old
pickle, which NLTK 3.9+ no longer reads; ``PunktTokenizer("english")`` is the same model."""

import json
import sys
import time
from pathlib import Path

import nltk
import pyarrow.parquet as pq
from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.utils.word_tokenizers import NLTKTokenizer
from nltk.tokenize.punkt import PunktTokenizer

nltk.data.path.insert(0, str(Path(__file__).resolve().parents[1] / ".work" / "nltk_data"))


class EnglishPunkt(NLTKTokenizer):
    def __init__(self):
        super().__init__("english")

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = PunktTokenizer("english")
        return self._tokenizer


def main(out, parquet):
    table = pq.read_table(parquet, columns=["id", "text"])
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    words = EnglishPunkt()
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
