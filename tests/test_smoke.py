"""The smoke chain: params/smoke.yaml through every pipeline notebook with the real embedded model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.io import read_json, read_jsonl
from workbench.records import schema_errors
from workbench.runner import stage_order

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "params/smoke.yaml", "--outputs", str(out)],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = list((out / "runs").iterdir())
    assert len(runs) == 1
    return runs[0]


@pytest.mark.slow
def test_every_stage_done(smoke_run):
    m = read_json(smoke_run / "manifest.json")
    for stage in stage_order():
        assert m["stages"][stage]["status"] == "done", stage
        assert (smoke_run / stage / "DONE").is_file()
        assert (smoke_run / stage / "notebook.ipynb").is_file()
        json.loads((smoke_run / stage / "stats.json").read_text())


@pytest.mark.slow
def test_seed_records_follow_schema(smoke_run):
    records = read_jsonl(smoke_run / "01_seed" / "records.jsonl")
    assert len(records) == 6
    for r in records:
        assert schema_errors(r) == []
        assert r["round"] == 0 and r["root_id"] == r["id"]
