"""The runner end to end: run folders, manifest, DONE markers, failures, resume."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

from workbench.io import read_json

REPO = Path(__file__).resolve().parent.parent


def workbench(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, cwd=cwd)


def only_run(outputs: Path) -> Path:
    runs = list((outputs / "runs").iterdir())
    assert len(runs) == 1
    return runs[0]


def test_failing_cell_names_stage_notebook_and_exception(tmp_path):
    bad = tmp_path / "seeds.jsonl"
    bad.write_text('{"instruction": "fine"}\n{"instruction": oops}\n')
    r = workbench("run", "params/smoke.yaml", "--stages", "01_seed", "--set", f"seed.source={bad}",
                  "--outputs", str(tmp_path / "out"))
    assert r.returncode == 1
    run_dir = only_run(tmp_path / "out")
    assert "stage 01_seed failed" in r.stderr and "BadLineError" in r.stderr
    assert f"{bad}:2" in r.stderr and str(run_dir / "01_seed" / "notebook.ipynb") in r.stderr
    m = read_json(run_dir / "manifest.json")
    assert m["stages"]["01_seed"]["status"] == "failed" and "BadLineError" in m["stages"]["01_seed"]["error"]
    assert not (run_dir / "01_seed" / "DONE").exists()


def test_run_folder_manifest_and_resume_skips_done_stages(tmp_path):
    out = tmp_path / "out"
    r = workbench("run", "params/smoke.yaml", "--stages", "seed", "--set", "run.name=unit test",
                  "--outputs", str(out))
    assert r.returncode == 0, r.stderr
    run_dir = only_run(out)
    name, _, phash = run_dir.name.rpartition("_")
    assert name.endswith("_unit-test") and len(phash) == 8
    m = read_json(run_dir / "manifest.json")
    assert m["run_id"] == run_dir.name and m["params_hash"] == phash
    assert m["params"]["seed"]["n"] == 6 and m["params"]["run"]["name"] == "unit test"
    assert yaml.safe_load((run_dir / "params.yaml").read_text()) == m["params"]
    assert set(m["git"]) == {"sha", "dirty"} and m["packages"]["transformers"]
    info = m["stages"]["01_seed"]
    assert info["status"] == "done" and info["seconds"] > 0 and "01_seed/records.jsonl" in info["outputs"]
    assert all(not o.startswith("/") for o in info["outputs"])
    assert (run_dir / "01_seed" / "DONE").is_file()
    nb = json.loads((run_dir / "01_seed" / "notebook.ipynb").read_text())
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "run_dir" in "".join(injected[0]["source"])
    records = (run_dir / "01_seed" / "records.jsonl").read_text().splitlines()
    assert len(records) == 6
    # resume: the done stage is skipped and its files are untouched
    before = (run_dir / "01_seed" / "records.jsonl").stat().st_mtime_ns
    r = workbench("run", "--resume", str(run_dir), "--stages", "seed")
    assert r.returncode == 0 and "01_seed] done already, skipped" in r.stdout
    assert (run_dir / "01_seed" / "records.jsonl").stat().st_mtime_ns == before
    # resuming with different params is refused
    r = workbench("run", "--resume", str(run_dir), "--set", "run.seed=9")
    assert r.returncode != 0 and "params differ" in r.stderr and r.stderr.count("error:") == 1


def test_validate_command(tmp_path):
    r = workbench("validate", "params/default.yaml")
    assert r.returncode == 0 and "ok" in r.stdout


def test_capped_takes_rows_from_every_group(tmp_path):
    from workbench.stage import Stage

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"run": {"limit": 4, "model": "embedded"}}))
    st = Stage(tmp_path, "04_difficulty")
    rows = [{"round": r, "i": i} for r in (0, 1, 2) for i in range(5)]
    assert [r["round"] for r in st.capped(rows)] == [0, 1, 2, 0]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"run": {"limit": 0, "model": "embedded"}}))
    assert len(Stage(tmp_path, "x").capped(rows)) == 15
    assert [r["round"] for r in Stage(tmp_path, "x").capped(rows, limit=5)] == [0, 1, 2, 0, 1]
