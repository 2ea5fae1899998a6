"""The runner end to end: run folders, manifest, DONE markers, failures, resume."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

from workbench.core.io import read_json
from workbench.pipeline import params as P

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
    # ... but not with other servers for the same models: the cache keys on the model name
    served = "openai:m@http://127.0.0.1:9/v1"
    r = workbench("run", "--resume", str(run_dir), "--stages", "seed", "--set", f"evaluate.judge_model={served}")
    assert r.returncode != 0 and "params differ" in r.stderr  # a judge where there was none: refused
    m = read_json(run_dir / "manifest.json")
    m["params"]["evaluate"]["judge_model"] = served  # as if the run had been made with that server
    m["params_hash"] = P.params_hash(m["params"])
    (run_dir / "manifest.json").write_text(json.dumps(m))
    moved = "openai:m@http://127.0.0.1:10/v1,http://127.0.0.1:11/v1"
    r = workbench("run", "--resume", str(run_dir), "--stages", "seed", "--set", f"evaluate.judge_model={moved}")
    assert r.returncode == 0, r.stderr
    m = read_json(run_dir / "manifest.json")
    assert m["params"]["evaluate"]["judge_model"] == moved and m["server_changes"][-1]["params"] == m["params"]
    assert yaml.safe_load((run_dir / "params.yaml").read_text())["evaluate"]["judge_model"] == moved


def test_validate_command(tmp_path):
    r = workbench("validate", "params/default.yaml")
    assert r.returncode == 0 and "ok" in r.stdout


def test_capped_takes_rows_from_every_group(tmp_path):
    from workbench.stages.base import Stage

    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"run": {"limit": 4, "model": "embedded"}}))
    st = Stage(tmp_path, "04_difficulty")
    rows = [{"round": r, "i": i} for r in (0, 1, 2) for i in range(5)]
    assert [r["round"] for r in st.capped(rows)] == [0, 1, 2, 0]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"run": {"limit": 0, "model": "embedded"}}))
    assert len(Stage(tmp_path, "x").capped(rows)) == 15
    assert [r["round"] for r in Stage(tmp_path, "x").capped(rows, limit=5)] == [0, 1, 2, 0, 1]


def test_resume_runs_only_the_stages_the_run_was_started_for(tmp_path):
    out = tmp_path / "out"
    r = workbench("run", "params/smoke.yaml", "--stages", "01_seed", "--outputs", str(out))
    assert r.returncode == 0, r.stderr
    run_dir = only_run(out)
    assert read_json(run_dir / "manifest.json")["requested_stages"] == ["01_seed"]
    r = workbench("run", "--resume", str(run_dir))  # no --stages: 01_seed only, not 02_evolve ... 07
    assert r.returncode == 0, r.stderr
    assert "01_seed] done already, skipped" in r.stdout and "02_evolve" not in r.stdout
    stages = read_json(run_dir / "manifest.json")["stages"]
    assert all(info["status"] == "pending" for s, info in stages.items() if s != "01_seed")


def test_a_run_folder_in_use_is_refused_naming_its_holder(tmp_path):
    import os
    import socket

    from workbench.pipeline.lock import RunLock

    out = tmp_path / "out"
    assert workbench("run", "params/smoke.yaml", "--stages", "01_seed", "--outputs", str(out)).returncode == 0
    run_dir = only_run(out)
    with RunLock(run_dir):
        r = workbench("run", "--resume", str(run_dir))
    assert r.returncode == 2 and r.stderr.count("error:") == 1
    assert f"is in use by pid {os.getpid()} on host {socket.gethostname()} since 20" in r.stderr
    assert "Traceback" not in r.stderr
    r = workbench("run", "--resume", str(run_dir))  # released: the next one goes ahead
    assert r.returncode == 0, r.stderr


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    from datetime import datetime
    from pathlib import Path as P

    from workbench.pipeline import runs as runner

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 1, 1, 12, 0, 0, tzinfo=tz)

    monkeypatch.setattr(runner, "datetime", Frozen)
    (tmp_path / "20260101-120000_x").mkdir()
    (tmp_path / "20260101-120000_x-2").mkdir()
    # another process wins the name between a look and the mkdir: the look says "free"
    monkeypatch.setattr(P, "exists", lambda self: False)
    assert runner.new_folder(tmp_path, "x").name == "20260101-120000_x-3"


def test_the_kernel_dies_with_the_runners_process_group(tmp_path):
    import os
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", "params/smoke.yaml", "--stages",
                             "01_seed", "--outputs", str(tmp_path / "out")], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kernel, deadline = None, time.monotonic() + 60
    while kernel is None and proc.poll() is None and time.monotonic() < deadline:
        kernel = next((int(p) for p in os.listdir("/proc") if p.isdigit() and _is_kernel_of(int(p), proc.pid)), None)
        time.sleep(0.05)
    assert kernel is not None, "no kernel seen"
    time.sleep(1.0)  # let it start up fully, parent poll included
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.1)  # ipykernel's own parent poll runs once a second: this is well before it
    assert not _alive(kernel)


def _is_kernel_of(pid: int, parent: int) -> bool:
    try:
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(stat[1]) == parent and b"ipykernel" in open(f"/proc/{pid}/cmdline", "rb").read()
    except (OSError, IndexError, ValueError):
        return False


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie nobody reaped is dead too


def test_files_honour_the_umask(tmp_path):
    import os

    from workbench.core.io import write_json

    old = os.umask(0o027)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
    write_json(tmp_path / "b.json", {"x": 1})
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o666 & ~old
