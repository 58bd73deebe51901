"""`dataprep lm train` models: KenLM loads them, every context's distribution sums to one, and
in-domain text scores a lower perplexity than shuffled or garbled text."""

from __future__ import annotations

import random
from pathlib import Path

import kenlm
import pyarrow as pa
import pytest

from dataprep.text.lm import normalise_lines, write_model
from dataprep.transforms.extract import Extract
from tests.conftest import SAMPLE_WEB, run_cli


@pytest.fixture(scope="module")
def english_pages() -> list[str]:
    from dataprep.io.inputs import InputSpec, plan_shards
    from dataprep.io.readers import read_shard

    spec = InputSpec(path=str(SAMPLE_WEB / "en" / "*.html"), format="html")
    texts = []
    for shard in plan_shards(spec):
        for batch in read_shard(shard, spec):
            texts += Extract().process(batch.docs).kept.column("text").to_pylist()
    return texts


def perplexity(model: kenlm.Model, lines: list[str]) -> float:
    norm, _ = normalise_lines(lines)
    return 10 ** (-sum(model.score(x) for x in norm) / sum(len(x.split()) + 1 for x in norm))


def unigrams(arpa: Path) -> list[str]:
    words, section = [], None
    for line in arpa.read_text().splitlines():
        if line.startswith("\\"):
            section = line
        elif section == "\\1-grams:" and line:
            words.append(line.split("\t")[1])
    return words


@pytest.mark.parametrize("order", [2, 3, 4])
def test_arpa_loads_and_every_context_sums_to_one(tmp_path: Path, english_pages, order):
    arpa = write_model(english_pages[:30], tmp_path / "en.arpa", order=order)
    model = kenlm.Model(str(arpa))
    assert model.order == order
    vocab = [w for w in unigrams(arpa) if w != "<s>"]
    assert "<unk>" in vocab and "</s>" in vocab
    for context in ([], ["<s>"], ["the"], ["<s>", "the"], ["the", "old"], ["never", "seen"]):
        state = kenlm.State()
        if context[:1] == ["<s>"]:
            model.BeginSentenceWrite(state)
            context = context[1:]
        else:
            model.NullContextWrite(state)
        for word in context:
            nxt = kenlm.State()
            model.BaseScore(state, word, nxt)
            state = nxt
        total = sum(10 ** model.BaseScore(state, w, kenlm.State()) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-5), context


def test_in_domain_text_has_lower_perplexity(tmp_path: Path, english_pages):
    model = kenlm.Model(str(write_model(english_pages[:35], tmp_path / "en.arpa", order=3)))
    held_out = [line for page in english_pages[35:] for line in page.splitlines() if line.strip()]
    rng = random.Random(0)
    shuffled = [" ".join(rng.sample(line.split(), len(line.split()))) for line in held_out]
    garbled = ["".join(rng.sample(line, len(line))) for line in held_out]
    german = "Die alte Brücke wurde aus Stein wieder aufgebaut.\nDer Stadtrat hat am Dienstag beschlossen.".splitlines()
    ppl = {name: perplexity(model, lines) for name, lines in
           [("in", held_out), ("shuffled", shuffled), ("garbled", garbled), ("german", german)]}
    assert ppl["in"] * 5 < ppl["shuffled"] < ppl["garbled"]
    assert ppl["in"] * 5 < ppl["german"]


def test_normalisation_is_shared_and_unicode_aware():
    lines, parents = normalise_lines(pa.array(["Café 2024, ÉTÉ!\n\n  second   line ", ""], pa.large_string()))
    assert lines == ["café 0000 , été !", "second line"]
    assert parents.tolist() == [0, 0]


def test_cli_lm_train(tmp_path: Path, english_pages):
    (tmp_path / "ref.txt").write_text("\n".join(english_pages[:10]))
    res = run_cli("lm", "train", str(tmp_path / "ref.txt"), "-o", str(tmp_path / "m.arpa"), "--order", "3")
    assert res.returncode == 0, res.stderr
    assert kenlm.Model(str(tmp_path / "m.arpa")).order == 3
    assert (tmp_path / "m.arpa.json").exists()
    res = run_cli("lm", "train", str(tmp_path / "none*.txt"), "-o", str(tmp_path / "x.arpa"))
    assert res.returncode == 2 and "no input files match" in res.stderr
