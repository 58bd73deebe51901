"""Build the small models that recipes/web_filters.yaml uses, from the bundled sample pages.

* ``recipes/models/{en,de,fr}.arpa``: 3-gram KenLM models of the sample's English, German and
  French main content (``recipes/ccnet_like.yaml`` buckets each language by its own model);
* ``recipes/models/quality.bin``: a tiny fastText classifier, sample English prose (hq) against
  navigation/boilerplate lines of the same pages (lq).

Toy models for a runnable example, not for production: train yours with ``dataprep lm train``
and ``dataprep classifier train`` on real reference text.

    .venv/bin/python scripts/make_sample_models.py
"""

from __future__ import annotations

from pathlib import Path

from dataprep.io.inputs import InputSpec, plan_shards
from dataprep.io.readers import read_shard
from dataprep.text.lm import write_model
from dataprep.transforms.classifier import train_classifier
from dataprep.transforms.extract import Extract

REPO = Path(__file__).resolve().parent.parent


def texts(pattern: str, main_content: bool) -> list[str]:
    spec = InputSpec(path=str(REPO / "recipes" / "data" / "web" / pattern), format="html")
    stage = Extract(main_content=main_content)
    out = []
    for shard in plan_shards(spec):
        for batch in read_shard(shard, spec):
            out += stage.process(batch.docs).kept.column("text").to_pylist()
    return out


def main() -> None:
    models = REPO / "recipes" / "models"
    models.mkdir(exist_ok=True)
    english = texts("en/*.html", main_content=True)
    write_model(english, models / "en.arpa", order=3)
    for lang in ("de", "fr"):
        write_model(texts(f"{lang}/*.html", main_content=True), models / f"{lang}.arpa", order=3)
    chrome = [line for page in texts("*/*.html", main_content=False) for line in page.splitlines()
              if line.strip() and len(line.split()) < 6]
    train_classifier(english, chrome, str(models / "quality.bin"), epoch=10, dim=8, bucket=10_000, seed=0)
    print(f"wrote {models}/{{en,de,fr}}.arpa and {models / 'quality.bin'}")


if __name__ == "__main__":
    main()
