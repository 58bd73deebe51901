"""The fastText quality classifier: trained here on real text, scored in process and via the CLI."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dataprep.transforms.classifier import Classifier, train_classifier
from tests.conftest import run_cli
from tests.test_transform import docs
from tests.text.test_lm import english_pages  # noqa: F401 - fixture

BOILERPLATE = ["Home About Contact Login Subscribe", "Click here to buy now cheap deals free shipping",
               "Cookie settings accept all privacy terms", "Share on Facebook Twitter Email Print",
               "Copyright 2026 all rights reserved sitemap", "Next page previous page top of page"]


def junk(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(BOILERPLATE) for _ in range(rng.randint(2, 6))) for _ in range(n)]


@pytest.fixture(scope="module")
def model(tmp_path_factory, english_pages) -> str:  # noqa: F811 - the imported fixture, as an argument
    path = tmp_path_factory.mktemp("clf") / "hq.bin"
    return train_classifier(english_pages[:40], junk(200, 1), str(path), epoch=20, dim=16)


def test_classifier_separates_held_out_text(model, english_pages):  # noqa: F811 - the imported fixture, as an argument
    stage = Classifier(model=model, threshold=0.5).ensure_setup()
    held_out = english_pages[40:] + junk(20, 2)
    out = stage.process(docs(held_out))
    assert set(out.kept.column("text").to_pylist()) == set(english_pages[40:])
    kept, removed = out.kept.column("quality_score").to_pylist(), out.removed.column("quality_score").to_pylist()
    assert min(kept) > 0.5 > max(removed)
    assert set(out.removed.column("reason").to_pylist()) == {"classifier:low_score"}
    assert Classifier(model=model).ensure_setup().process(docs([])).kept.num_rows == 0


def test_classifier_training_is_reproducible(tmp_path: Path, english_pages):  # noqa: F811 - the imported fixture, as an argument
    a = train_classifier(english_pages[:20], junk(50, 3), str(tmp_path / "a.bin"), epoch=3, dim=8)
    b = train_classifier(english_pages[:20], junk(50, 3), str(tmp_path / "b.bin"), epoch=3, dim=8)
    assert Path(a).read_bytes() == Path(b).read_bytes()


def test_classifier_errors(tmp_path: Path, model):
    with pytest.raises(FileNotFoundError, match="classifier.model"):
        Classifier(model=str(tmp_path / "none.bin")).ensure_setup()
    with pytest.raises(ValueError, match="positive_label"):
        Classifier(model=model, positive_label="good").ensure_setup()


def test_cli_classifier_train(tmp_path: Path, english_pages):  # noqa: F811 - the imported fixture, as an argument
    (tmp_path / "good.txt").write_text("\n".join(p.replace("\n", " ") for p in english_pages[:20]))
    (tmp_path / "bad.txt").write_text("\n".join(junk(50, 4)))
    res = run_cli("classifier", "train", "--positive", str(tmp_path / "good.txt"),
                  "--negative", str(tmp_path / "bad.txt"), "-o", str(tmp_path / "m.bin"))
    assert res.returncode == 0, res.stderr
    assert Classifier(model=str(tmp_path / "m.bin")).ensure_setup().model.get_labels()
