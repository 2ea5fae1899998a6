"""Kill -9 during 02_evolve, resume: byte-identical records to an uninterrupted run made without
the cache, no call repeated."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.core.io import read_json

REPO = Path(__file__).resolve().parent.parent
GREEDY = ["--set", "evolve.temperature=0", "--set", "evolve.max_new_tokens=32",
          "--set", "evolve.answer_max_new_tokens=32", "--set", "run.batch_size=2", "--set", "seed.n=4",
          "--stages", "01_seed,02_evolve"]


def cli(*args):
    return [sys.executable, "-m", "workbench.cli", *args]


def cached_rows(outputs: Path) -> int:
    db = outputs / "cache" / "responses.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def evolve_calls(run_dir: Path) -> dict:
    llm = read_json(run_dir / "02_evolve" / "stats.json")["llm"]
    return {"calls": sum(g["calls"] for g in llm), "hits": sum(g["cache_hits"] for g in llm)}


@pytest.mark.slow
def test_kill_during_evolve_then_resume(tmp_path):
    # the reference: one uninterrupted run that never reads or writes the cache
    ref_out = tmp_path / "ref"
    r = subprocess.run(cli("run", "params/smoke.yaml", *GREEDY, "--set", "run.cache=false", "--outputs", str(ref_out)),
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    ref_run = next((ref_out / "runs").iterdir())
    ref_calls = evolve_calls(ref_run)
    assert ref_calls["hits"] == 0

    # the same run, killed with SIGKILL (whole process group: runner and kernel) mid-evolve
    out = tmp_path / "killed"
    proc = subprocess.Popen(cli("run", "params/smoke.yaml", *GREEDY, "--outputs", str(out)), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while cached_rows(out) < 7 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before_kill = cached_rows(out)
    assert 7 <= done_before_kill < ref_calls["calls"]
    run_dir = next((out / "runs").iterdir())
    manifest = read_json(run_dir / "manifest.json")  # still valid JSON after the kill
    assert manifest["stages"]["01_seed"]["status"] == "done"
    assert manifest["stages"]["02_evolve"]["status"] == "running"
    assert not (run_dir / "02_evolve" / "DONE").exists()

    r = subprocess.run(cli("run", "--resume", str(run_dir), "--stages", "01_seed,02_evolve"),
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "01_seed] done already" in r.stdout
    calls = evolve_calls(run_dir)
    # every call finished before the kill came from the cache; none was made twice
    assert calls["hits"] == done_before_kill
    assert calls["calls"] + done_before_kill == ref_calls["calls"]
    # the same bytes: generation is deterministic with and without the cache, killed or not
    assert not (ref_out / "cache" / "responses.sqlite").exists()
    for name in ("records.jsonl", "dataset.jsonl"):
        assert (run_dir / "02_evolve" / name).read_bytes() == (ref_run / "02_evolve" / name).read_bytes()
