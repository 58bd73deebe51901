"""Near-duplicate and exact-duplicate machinery: MinHash signatures, byte words, components, removals."""
