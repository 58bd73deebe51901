"""``tokenize``: token ids for every document, written as memory-mappable token shards.

With ``tokenizer: path/to/tokenizer.json`` each shard is encoded on its own (a per-shard
stage).  With ``train: {vocab_size, special_tokens, sample_docs}`` the stage becomes a barrier:
every document gets a key ``hash(seed, id)``; the ``sample_docs`` documents with the smallest
keys over the whole run are the training sample (so it does not depend on sharding or
workers), their texts are read back, one task per shard, and a byte-level BPE is trained on
them with Hugging Face ``tokenizers`` and saved in the run.  Encoding uses the fastest batch
API the installed ``tokenizers`` offers (``encode_batch_fast`` when present).  Every document
ends with the end-of-document token.  Documents keep their columns in ``data/`` and gain
``n_tokens``; the ids go to ``tokens/`` (see :mod:`dataprep.io.tokens`), with our index, a
Megatron-LM index, or both (``format``); stats count ``tokens``.  ``val_fraction`` holds out
documents, chosen by a seeded hash of their id (so the split does not depend on sharding), into
``tokens/val/``; ``data/`` then has a ``split`` column and stats count ``val_documents`` and
``val_tokens``.
"""

from __future__ import annotations

from typing import Any, Literal

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from dataprep.engine.summaries import Summaries
from dataprep.io.tokens import FORMATS, TOKENS, VAL, TokenShardWriter
from dataprep.schema import ID, TEXT
from dataprep.text.hashing import seeded_keys
from dataprep.transform import GlobalTransform, Params, StageOutput, set_columns

EOS = "<|endoftext|>"


class TrainParams(Params):
    vocab_size: int = Field(32_000, ge=256 + 1, le=1 << 20, description="vocabulary size of the byte-level BPE")
    special_tokens: list[str] = Field(default_factory=lambda: [EOS], description="special tokens (the first ids)")
    sample_docs: int = Field(100_000, ge=1, description="documents in the training sample, drawn across all shards")
    min_frequency: int = Field(2, ge=1, description="merges need at least this many occurrences")
    seed: int = Field(0, description="seed of the sample")


class TokenizeParams(Params):
    tokenizer: str | None = Field(None, description="a Hugging Face tokenizer.json to encode with")
    train: TrainParams | None = Field(None, description="train a byte-level BPE in the run instead")
    eos_token: str = Field(EOS, description="appended to every document; must be in the vocabulary")
    format: Literal["ours", "megatron", "both"] = Field(
        "ours", description="token shard index: ours (.idx.npy), megatron (a Megatron-LM .idx beside the same .bin, "
        "read by megatron.core's IndexedDataset), or both")
    val_fraction: float = Field(0.0, ge=0.0, le=0.5, description="documents held out into tokens/val/ (chosen by a "
                                "seeded hash of the id, so the same whatever the sharding); data/ gains a split column")
    val_seed: int = Field(0, description="seed of the validation split")

    @model_validator(mode="after")
    def _one_source(self) -> TokenizeParams:
        if (self.tokenizer is None) == (self.train is None):
            raise ValueError("give either tokenizer: path/to/tokenizer.json or train: {vocab_size: ...}")
        if self.train is not None and self.eos_token not in self.train.special_tokens:
            raise ValueError(f"eos_token {self.eos_token!r} must be one of train.special_tokens")
        return self


def sample_keys(ids: list[str], seed: int) -> np.ndarray:
    """The key that orders documents for the training sample (smallest first)."""
    return seeded_keys(ids, seed, sep=":", byteorder="little")


def train_bpe(texts: list[str], params: TrainParams) -> str:
    """A byte-level BPE trained on ``texts``; returns the tokenizer's JSON."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=params.vocab_size, min_frequency=params.min_frequency,
                                  special_tokens=params.special_tokens, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tokenizer.to_str()


def _texts_of(path: str, ids: list[str], storage_options: dict) -> dict[str, str]:
    """Texts of the listed documents of one shard file (a Dask task)."""
    with fsspec.open(path, "rb", **storage_options) as f:
        table = pq.read_table(f, columns=[ID, TEXT])
    table = table.filter(pc.is_in(table.column(ID), value_set=pa.array(ids, pa.string())))
    return dict(zip(table.column(ID).to_pylist(), table.column(TEXT).to_pylist()))


class Tokenize(GlobalTransform):
    """Encode ``text``; add ``n_tokens``; write ``tokens/`` shards."""

    name = "tokenize"
    Params = TokenizeParams

    @property
    def barrier(self) -> bool:  # type: ignore[override]
        return self.params.train is not None

    def setup(self) -> None:
        self._loaded: dict[str, Any] = {}

    def _tokenizer(self, source: str) -> Any:
        """A tokenizer from a file path or a JSON string, loaded once per worker."""
        from tokenizers import Tokenizer

        if source not in self._loaded:
            if source.lstrip().startswith("{"):
                tok = Tokenizer.from_str(source)
            else:
                with fsspec.open(source, "rt", encoding="utf-8") as f:
                    tok = Tokenizer.from_str(f.read())
            eos = tok.token_to_id(self.params.eos_token)
            if eos is None:
                raise ValueError(f"tokenize.eos_token: {self.params.eos_token!r} is not in the tokenizer's vocabulary")
            self._loaded[source] = (tok, eos, tok.to_str())
        return self._loaded[source]

    # -- training (barrier) -------------------------------------------------------------
    def summarize(self, batch: pa.Table) -> pa.Table:
        ids = batch.column(ID).to_pylist()
        return pa.table({ID: pa.array(ids, pa.string()), "key": pa.array(sample_keys(ids, self.params.train.seed))})

    def combine(self, summaries: Summaries) -> str:
        from distributed import worker_client

        table = pa.concat_tables(summaries.tables())
        order = np.lexsort((np.array(table.column(ID).to_pylist(), dtype=object).astype(str),
                            table.column("key").to_numpy()))[: self.params.train.sample_docs]
        chosen = table.take(pa.array(order))
        wanted: dict[str, list[str]] = {}
        for doc_id, shard in zip(chosen.column(ID).to_pylist(), chosen.column("shard").to_pylist()):
            wanted.setdefault(shard, []).append(doc_id)
        index = {s: i for i, s in enumerate(summaries.shards)}
        with worker_client() as client:
            futures = [client.submit(_texts_of, summaries.inputs[index[s]], ids, summaries.storage_options, pure=False)
                       for s, ids in sorted(wanted.items())]
            found: dict[str, str] = {}
            for part in client.gather(futures):
                found.update(part)
        texts = [found[i] for i in chosen.column(ID).to_pylist()]  # sample order: by key
        return train_bpe(texts, self.params.train)

    # -- encoding -------------------------------------------------------------------------
    def _encode(self, batch: pa.Table, source: str) -> StageOutput:
        tok, eos, _ = self._tokenizer(source)
        texts = batch.column(TEXT).to_pylist()
        encode = getattr(tok, "encode_batch_fast", tok.encode_batch)
        encodings = encode(texts, add_special_tokens=False) if texts else []
        lengths = np.fromiter((len(e.ids) + 1 for e in encodings), dtype=np.int64, count=len(encodings))
        ids = np.empty(int(lengths.sum()), dtype=np.uint32)
        ends = np.cumsum(lengths)
        for e, end, n in zip(encodings, ends, lengths):
            ids[end - n:end - 1] = e.ids
        ids[ends - 1] = eos
        columns = {"n_tokens": pa.array(lengths.astype(np.int32))}
        counters = {"tokens": int(lengths.sum())}
        extra = {"ids": ids, "lengths": lengths}
        if self.params.val_fraction > 0:
            val = held_out(batch.column(ID).to_pylist(), self.params.val_fraction, self.params.val_seed)
            columns["split"] = pa.array(np.where(val, "val", "train"), pa.string())
            counters["val_documents"], counters["val_tokens"] = int(val.sum()), int(lengths[val].sum())
            extra["val"] = val
        return StageOutput(kept=set_columns(batch, columns), counters=counters, extra=extra)

    def process(self, batch: pa.Table) -> StageOutput:
        return self._encode(batch, self.params.tokenizer)

    def apply(self, batch: pa.Table, state: str) -> StageOutput:
        return self._encode(batch, state)

    def open_sink(self, fs: Any, root: str, shard: str, state: Any = None) -> _TokenSink:
        source = state if self.barrier else self.params.tokenizer  # the trained tokenizer's JSON, or the file
        tok, eos, as_json = self._tokenizer(source)
        formats = FORMATS if self.params.format == "both" else (self.params.format,)
        vocab = tok.get_vocab_size(with_added_tokens=True)
        writers = {"train": TokenShardWriter(fs, root, shard, vocab, eos, as_json, TOKENS, formats)}
        if self.params.val_fraction > 0:
            writers["val"] = TokenShardWriter(fs, root, shard, vocab, eos, as_json, f"{TOKENS}/{VAL}", formats)
        return _TokenSink(writers)


def held_out(ids: list[str], fraction: float, seed: int) -> np.ndarray:
    """Whether each document is in the validation split: its seeded id key below ``fraction`` of 2^64."""
    return seeded_keys(ids, seed, sep="|val|") < np.uint64(int(fraction * 2**64) if fraction < 1 else 2**64 - 1)


class _TokenSink:
    """The token shards of one shard: the training part, and the validation part when there is one."""

    def __init__(self, writers: dict[str, TokenShardWriter]) -> None:
        self.writers = writers

    def write(self, output: StageOutput) -> None:
        ids, lengths = output.extra["ids"], output.extra["lengths"]
        val = output.extra.get("val")
        if val is None or not val.any():
            self.writers["train"].write_documents(ids, lengths)
            return
        token_val = np.repeat(val, lengths)
        self.writers["train"].write_documents(ids[~token_val], lengths[~val])
        self.writers["val"].write_documents(ids[token_val], lengths[val])

    def close(self) -> list:
        return [f for w in self.writers.values() for f in w.close()]

    def abort(self) -> None:
        for w in self.writers.values():
            w.abort()
