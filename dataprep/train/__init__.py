"""The pipeline-parallel trainer and the token loader that feeds it."""
