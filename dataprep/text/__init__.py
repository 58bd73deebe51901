"""Vectorised text: statistics, the n-gram language model, hashing helpers."""
