"""Recipes and training configs: YAML with line numbers, validation, errors that name the key and the fix."""
