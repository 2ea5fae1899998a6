"""Sweeps: grid expansion and validation before any run, one run folder per combination, sweep.json."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workbench.core.io import read_json, read_jsonl
from workbench.pipeline import params as P
from workbench.pipeline import sweep as SW

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "params" / "smoke.yaml"
SWEEP_FILES = sorted((REPO / "params" / "sweeps").glob("*.yaml"))


def workbench(*args):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, cwd=REPO)


def sweep_file(tmp_path: Path, grid: dict, name="sw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"include": str(SMOKE), "grid": grid}, sort_keys=False))
    return path


@pytest.mark.parametrize("path", SWEEP_FILES, ids=lambda p: p.name)
def test_every_sweep_file_expands_and_validates(path):
    sweep = SW.expand(path)
    assert sweep.combinations and len({c.name for c in sweep.combinations}) == len(sweep.combinations)
    for combo in sweep.combinations:
        for key, value in combo.values.items():
            section, _, name = key.partition(".")
            assert combo.params[section][name] == value


def test_params_sweeps_rounds_is_the_smoke_job_at_one_and_two_rounds():
    sweep = SW.expand(REPO / "params" / "sweeps" / "rounds.yaml")
    assert [c.name for c in sweep.combinations] == ["smoke-rounds1", "smoke-rounds2"]
    assert [c.params["evolve"]["rounds"] for c in sweep.combinations] == [1, 2]
    assert sweep.combinations[0].params["seed"] == P.load(SMOKE)["seed"]


def test_grid_is_a_deterministic_cartesian_product_of_typed_values(tmp_path):
    path = sweep_file(tmp_path, {"evolve.rounds": [1, 2], "evolve.temperature": [0.0, 0.7], "seed.n": [3]})
    combos = SW.expand(path).combinations
    assert [c.name for c in combos] == [
        "smoke-rounds1-temperature0.0", "smoke-rounds1-temperature0.7",
        "smoke-rounds2-temperature0.0", "smoke-rounds2-temperature0.7",
    ]  # seed.n has one value: it is set everywhere but not part of the names
    assert combos[1].values == {"evolve.rounds": 1, "evolve.temperature": 0.7, "seed.n": 3}
    assert isinstance(combos[0].params["evolve"]["temperature"], float)
    assert all(c.params["seed"]["n"] == 3 and c.params["run"]["name"] == c.name for c in combos)
    assert len({P.params_hash(c.params) for c in combos}) == 4


@pytest.mark.parametrize("grid, named", [
    ({"seed.n": [2, 3], "evolve.temprature": [0.1]}, "evolve.temprature"),
    ({"seed.n": [2, -1]}, "seed.n"),
    ({"seed.n": 2}, "seed.n"),
    ({"rounds": [1, 2]}, "rounds"),
])
def test_invalid_grid_fails_before_any_run_folder(tmp_path, grid, named):
    out = tmp_path / "out"
    r = workbench("sweep", str(sweep_file(tmp_path, grid)), "--outputs", str(out))
    assert r.returncode == 2 and named in r.stderr, r.stderr
    assert not out.exists()


def test_dry_run_lists_the_runs_and_creates_nothing(tmp_path):
    out = tmp_path / "out"
    r = workbench("sweep", str(sweep_file(tmp_path, {"seed.n": [2, 3]})), "--dry-run", "--outputs", str(out))
    assert r.returncode == 0, r.stderr
    assert "smoke-n2" in r.stdout and "smoke-n3" in r.stdout and "seed.n=3" in r.stdout
    assert not out.exists()


def test_sweep_makes_one_run_per_value_and_a_sweep_manifest(tmp_path):
    out = tmp_path / "out"
    r = workbench("sweep", str(sweep_file(tmp_path, {"seed.n": [2, 3]})), "--stages", "01_seed",
                  "--outputs", str(out))
    assert r.returncode == 0, r.stderr
    [sweep_dir] = list((out / "sweeps").iterdir())
    assert sweep_dir.name.endswith("_smoke")
    manifest = read_json(sweep_dir / "sweep.json")
    assert manifest["status"] == "done" and manifest["failed"] == [] and manifest["stages"] == ["01_seed"]
    assert [(e["name"], e["values"], e["status"], e["error"]) for e in manifest["runs"]] == [
        ("smoke-n2", {"seed.n": 2}, "done", None), ("smoke-n3", {"seed.n": 3}, "done", None)]
    for entry, n in zip(manifest["runs"], (2, 3)):
        assert entry["run_dir"].startswith("runs/")
        run_dir = out / entry["run_dir"]
        assert len(read_jsonl(run_dir / "01_seed" / "records.jsonl")) == n
        run_manifest = read_json(run_dir / "manifest.json")
        assert run_manifest["params"]["run"]["name"] == entry["name"]
        assert run_manifest["sweep"] == {"sweep_id": sweep_dir.name, "values": {"seed.n": n}}
        assert run_manifest["stages"]["01_seed"]["status"] == "done"
    assert len(list((out / "runs").iterdir())) == 2


def test_a_failed_run_does_not_stop_the_others_and_the_sweep_exits_non_zero(tmp_path):
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text("".join(json.dumps({"instruction": f"Name {i} colours."}) + "\n" for i in range(3)))
    bad.write_text('{"instruction": "fine"}\n{"instruction": oops}\n')
    out = tmp_path / "out"
    r = workbench("sweep", str(sweep_file(tmp_path, {"seed.source": [str(bad), str(good)]})),
                  "--stages", "01_seed", "--outputs", str(out))
    assert r.returncode == 1
    assert "1 of 2 runs failed: smoke-sourcebad.jsonl" in r.stderr and "BadLineError" in r.stderr
    [sweep_dir] = list((out / "sweeps").iterdir())
    manifest = read_json(sweep_dir / "sweep.json")
    assert manifest["status"] == "failed" and manifest["failed"] == ["smoke-sourcebad.jsonl"]
    failed, done = manifest["runs"]
    assert failed["status"] == "failed" and f"{bad}:2" in failed["error"]
    assert done["status"] == "done" and done["error"] is None
    assert len(read_jsonl(out / done["run_dir"] / "01_seed" / "records.jsonl")) == 3
    assert read_json(out / failed["run_dir"] / "manifest.json")["stages"]["01_seed"]["status"] == "failed"
