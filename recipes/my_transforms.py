"""Two transforms of a user's own, used by recipes/custom_transform.yaml (and the README)."""

import pyarrow.compute as pc

from dataprep import Filter, Params, document_transform


class MinWordsParams(Params):
    min_words: int = 50


class MinWords(Filter):
    """Keep documents with at least `min_words` words; store the count in `n_words`."""

    Params = MinWordsParams
    reason = "min_words:too_few"

    def score(self, batch):
        return {"n_words": pc.list_value_length(pc.utf8_split_whitespace(batch["text"]))}

    def keep(self, scored):
        return pc.greater_equal(scored["n_words"], self.params.min_words)


@document_transform
def tag_collection(doc: dict, prefix: str = "web") -> dict:
    """Add a `collection` column from the first folder of the document's source."""
    return {"collection": f"{prefix}:{doc['source'].split('/')[0]}"}
