"""perplexity and perplexity_buckets stages, in process and on a real LocalCluster."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from dataprep import Pipeline
from dataprep.report.inspection import read_table
from dataprep.text.lm import write_model
from dataprep.transforms.perplexity import Perplexity
from tests.conftest import SAMPLE_WEB
from tests.test_transform import docs
from tests.text.test_lm import english_pages  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def en_model(tmp_path_factory, english_pages) -> str:  # noqa: F811 - the imported fixture, as an argument
    return str(write_model(english_pages, tmp_path_factory.mktemp("lm") / "en.arpa", order=3))


def test_perplexity_scores_filters_and_buckets(en_model, english_pages):  # noqa: F811 - the imported fixture, as an argument
    texts = [english_pages[0], "Zxq vbn qwpo lkjh mnbv.", "", "Die alte Brücke wurde wieder aufgebaut."]
    stage = Perplexity(model={"en": en_model}, max=200, cutoffs={"en": [50, 150]}).ensure_setup()
    out = stage.process(docs(texts, lang=["en", "en", "en", "de"]))
    kept = dict(zip(out.kept.column("text").to_pylist(), out.kept.column("perplexity").to_pylist()))
    assert kept[english_pages[0]] < 50
    assert out.kept.column("perplexity_bucket").to_pylist()[0] == "head"
    removed = dict(zip(out.removed.column("text").to_pylist(), out.removed.column("reason").to_pylist()))
    assert removed == {"Zxq vbn qwpo lkjh mnbv.": "perplexity:too_high"}
    assert kept[""] is None and kept["Die alte Brücke wurde wieder aufgebaut."] is None  # no text / no model: null
    strict = Perplexity(model={"en": en_model}, no_model="remove").ensure_setup()
    assert strict.process(docs(texts, lang=["en", "en", "en", "de"])).removed.column("reason").to_pylist() == [
        "perplexity:no_model"]


def test_cutoffs_are_validated():
    with pytest.raises(ValueError, match="two increasing values"):
        Perplexity(model="x.arpa", cutoffs={"en": [10]})


def test_ccnet_style_buckets_over_the_run(tmp_path: Path, client, en_model):
    out = tmp_path / "out"
    stages = [{"extract": {}}, {"langid": {}}, {"perplexity": {"model": {"en": en_model, "*": en_model}}},
              {"perplexity_buckets": {"percentiles": [33.3, 66.7], "keep": ["head", "middle"]}}]
    stats = Pipeline(input={"path": str(SAMPLE_WEB / "**" / "*.html"), "format": "html", "shard_size": "128KB"},
                     output=str(out), stages=stages).run(client=client).stats
    buckets = stats["stages"][3]
    kept = read_table(str(out / "data"))
    removed = read_table(str(out / "removed" / "03-perplexity_buckets"))
    assert set(buckets["removed"]) == {"perplexity_buckets:tail"}
    for lang in ("en", "de", "fr"):
        counts = Counter(kept.filter(kept.column("lang").to_numpy(zero_copy_only=False) == lang)
                         .column("perplexity_bucket").to_pylist())
        tail = sum(1 for x in removed.column("lang").to_pylist() if x == lang)
        total = counts["head"] + counts["middle"] + tail
        for n in (counts["head"], counts["middle"], tail):
            assert abs(n / total - 1 / 3) < 0.08, (lang, counts, tail)
    en = kept.filter(kept.column("lang").to_numpy(zero_copy_only=False) == "en").column("perplexity").to_numpy()
    de = kept.filter(kept.column("lang").to_numpy(zero_copy_only=False) == "de").column("perplexity").to_numpy()
    assert np.median(en) * 10 < np.median(de)  # an English model finds German text surprising
