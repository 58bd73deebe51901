"""dataprep's processes convert with pyarrow without importing pandas, and pyarrow still handles
pandas objects exactly as usual once the process imports pandas itself
(:mod:`dataprep.pandas_deferral`).  Each case is a fresh interpreter: the deferral acts once per
process, at the first import of dataprep.schema."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("pandas")

# what pyarrow makes of pandas objects, and a round trip through to_pandas
PANDAS_USES = """
import pandas as pd
import pyarrow as pa
df = pd.DataFrame({"t": pd.to_datetime(["2024-01-01"]).tz_localize("UTC"), "c": pd.Categorical(["a"]),
                   "n": pd.array([1], dtype="Int64")})
out["series"] = [str(pa.array(df[c]).type) for c in df]
out["table"] = pa.table(df).schema.to_string()
out["back"] = pa.table({"a": [1, None]}).to_pandas()["a"].tolist()
"""


def _run(code: str) -> dict:
    script = f"import json, sys\nout = {{}}\n{code}\nprint(json.dumps(out, default=str))"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=True)
    return json.loads(done.stdout)


def test_conversions_do_not_import_pandas():
    out = _run("import dataprep.schema\nimport pyarrow as pa\npa.array(['x']); pa.scalar(1); pa.table({'a': [1]})\n"
               "out['pandas'] = 'pandas' in sys.modules\nout['have'] = pa.lib._pandas_api.have_pandas")
    assert out == {"pandas": False, "have": False}


@pytest.mark.parametrize("where", ["main thread", "another thread"])
def test_pandas_imported_later_is_seen_by_pyarrow(where):
    plain = _run(PANDAS_USES)
    importing = "import pandas" if where == "main thread" else \
        "import threading\nt = threading.Thread(target=lambda: __import__('pandas'))\nt.start(); t.join()"
    deferred = _run("import dataprep.schema\nimport pyarrow as pa\npa.array([1])\n"
                    f"{importing}\nout['have'] = pa.lib._pandas_api.have_pandas\n{PANDAS_USES}")
    assert deferred.pop("have") is True
    assert deferred == plain
    assert "pandas" in plain["table"]  # the pandas metadata: pyarrow saw a DataFrame


def test_nothing_deferred_when_pandas_came_first():
    out = _run("import pandas\nimport dataprep.schema\nimport sys\n"
               "out['finders'] = [type(f).__name__ for f in sys.meta_path]")
    assert "_PandasFinder" not in out["finders"]
