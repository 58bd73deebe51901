"""The engine: plans a run into fused per-shard tasks and barriers, runs them on Dask, keeps the books."""
