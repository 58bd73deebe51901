#!/usr/bin/env bash
# Set up, then run the test suite. Extra arguments go to pytest (e.g. -k resume).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
# the report tests open report.html in a real headless Chromium (Debian's package)
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -E"
  echo "installing chromium for the report tests" >&2
  $SUDO apt-get install -y -q chromium >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium >/dev/null 2>&1; } \
    || echo "warning: could not install chromium; the report tests will fail" >&2
fi
# style first: ruff (its rules and line length are in pyproject.toml) over the whole repository
.venv/bin/ruff check . || { echo "error: ruff found style problems (run .venv/bin/ruff check . to see them)" >&2; exit 1; }
# two pytest workers (PYTEST_WORKERS=0: none), a test file's tests on one worker (module fixtures are built once):
# much of the suite waits on subprocesses, so two workers fit a 2-core machine
.venv/bin/pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
code=$?
if [ "$code" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$code"
