#!/usr/bin/env bash
# Set up, then run the quickstart recipe on the bundled sample pages; prints where the output is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/dataprep run recipes/quickstart.yaml --overwrite "$@"
