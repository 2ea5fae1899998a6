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


@pytest.mark.slow
def test_evolve_records_have_lineage_every_op_and_reasons(smoke_run):
    from workbench.records import OPS

    records = read_jsonl(smoke_run / "02_evolve" / "records.jsonl")
    evolved = [r for r in records if r["round"] > 0]
    assert {r["op"] for r in evolved} == set(OPS)
    ids = {r["id"] for r in records}
    for r in evolved:
        assert schema_errors(r) == []
        assert r["parent_id"] in ids and r["root_id"] in ids and r["template_sha"] and r["model"]
        assert (r["status"] == "kept") == (r["reasons"] == [])
    stats = read_json(smoke_run / "02_evolve" / "stats.json")
    assert stats["attempts"] == len(evolved) == 12
    assert sum(stats["reasons"].values()) >= sum(r["status"] != "kept" for r in evolved)
    assert stats["llm"][0]["calls"] > 0
    dataset = read_jsonl(smoke_run / "02_evolve" / "dataset.jsonl")
    assert all(r["status"] == "kept" and r["response"] for r in dataset)
    filtered = read_jsonl(smoke_run / "03_filter" / "dataset.jsonl")
    dropped = read_jsonl(smoke_run / "03_filter" / "dropped.jsonl")
    assert len(filtered) + len(dropped) == len(dataset)


@pytest.mark.slow
def test_explore_notebook_runs_headless_on_the_run(smoke_run, tmp_path):
    import jupytext
    import nbformat
    import papermill as pm

    nb = tmp_path / "explore.ipynb"
    nbformat.write(jupytext.read(REPO / "notebooks" / "00_explore.py"), nb)
    pm.execute_notebook(str(nb), str(nb), parameters={"run_dir": str(smoke_run)}, kernel_name="python3",
                        progress_bar=False)
    executed = json.loads(nb.read_text())
    html_out = [o for c in executed["cells"] for o in c.get("outputs", [])
                if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert html_out, "the browser widget was displayed"
