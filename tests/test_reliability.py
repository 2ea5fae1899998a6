"""Promises a long, paid run depends on: faults, secrets, kills mid-write, determinism."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai_stub import StubServer

from workbench.io import read_json, read_jsonl
from workbench.llm import GenParams
from workbench.llm.openai_backend import OpenAIBackend

REPO = Path(__file__).resolve().parent.parent
MSG = [{"role": "user", "content": "hello"}]
SECRET = "sk-wb-test-7f3a9c1e5b"


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env=env)


@pytest.mark.parametrize("fault,expect", [
    ("timeout", "APITimeoutError"), ("malformed", "JSONDecodeError"), ("empty", "server returned no choices"),
    (502, "HTTP 502"), (400, "HTTP 400"),
])
def test_each_fault_becomes_a_recorded_failure(fault, expect):
    with StubServer(faults={1: fault, 2: fault}, timeout_s=2.0) as server:
        backend = OpenAIBackend("m", server.url, max_retries=1, backoff_base=0.01, timeout=0.5)
        [c] = backend.generate([MSG], GenParams())
    assert not c.ok and expect in c.error


def test_transient_faults_are_retried_to_success():
    with StubServer(faults={1: 429, 2: 500, 3: 503, 4: "timeout"}, timeout_s=1.5) as server:
        backend = OpenAIBackend("m", server.url, max_retries=5, backoff_base=0.01, timeout=0.5)
        [c] = backend.generate([MSG], GenParams())
    assert c.ok and backend.retries == 4 and len(server.requests) == 5


def _openai_run(tmp_path, server, extra=()):
    env = dict(os.environ, WB_SECRET_KEY=SECRET)
    return cli("run", "params/smoke.yaml", "--stages", "01_seed,02_evolve", "--outputs", str(tmp_path / "out"),
               "--set", f"run.model=openai:stub-model@{server.url}", "--set", "run.api_key_env=WB_SECRET_KEY",
               "--set", "run.max_retries=0", "--set", "run.max_concurrency=2", *extra, env=env)


def test_openai_run_records_failures_keeps_going_and_leaks_no_key(tmp_path):
    with StubServer(fail_every=9, fail_status=500) as server:
        r = _openai_run(tmp_path, server, ["--set", "evolve.max_failure_rate=0.5"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert all(q["auth"] == f"Bearer {SECRET}" for q in server.requests)  # the key was used...
    run_dir = next((tmp_path / "out" / "runs").iterdir())
    records = read_jsonl(run_dir / "02_evolve" / "records.jsonl")
    failed = [x for x in records if x["status"] == "failed"]
    assert failed and all(x["reasons"] == ["backend_error"] and "HTTP 500" in x["error"] for x in failed)
    stats = read_json(run_dir / "02_evolve" / "stats.json")
    assert stats["backend_failures"] == sum(1 for x in failed if x["round"] > 0)
    assert any(x["status"] == "kept" for x in records if x["round"] > 0)
    # ...and written nowhere: not in the run folder, not in the cache
    for path in list(run_dir.rglob("*")) + list((tmp_path / "out" / "cache").rglob("*")):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_too_many_failures_fail_the_stage_with_a_clear_message(tmp_path):
    with StubServer(fail_every=2, fail_status=503) as server:
        r = _openai_run(tmp_path, server, ["--set", "evolve.max_failure_rate=0.1"])
    assert r.returncode == 1
    assert "stage 02_evolve failed" in r.stderr and "max_failure_rate" in r.stderr
    run_dir = next((tmp_path / "out" / "runs").iterdir())
    assert read_json(run_dir / "manifest.json")["stages"]["02_evolve"]["status"] == "failed"
    assert (run_dir / "02_evolve" / "records.jsonl").is_file()  # the attempts are kept for a resume


WRITER = """
import sys
from workbench.llm.cache import ResponseCache
from workbench.llm.base import Completion
cache = ResponseCache(sys.argv[1])
i = 0
while True:
    cache.put_many("m", [(f"k{i}-{j}", Completion("x" * 2000)) for j in range(50)])
    i += 1
"""


def test_cache_survives_kill_mid_transaction(tmp_path):
    db = tmp_path / "responses.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], cwd=REPO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if db.exists() and db.stat().st_size > 2_000_000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert n > 0 and n % 50 == 0  # whole batches only: no half-written transaction


@pytest.mark.slow
def test_same_params_give_byte_identical_records_without_cache(tmp_path):
    args = ["--stages", "01_seed,02_evolve", "--set", "run.cache=false", "--set", "evolve.rounds=1",
            "--set", "evolve.temperature=0", "--set", "evolve.max_new_tokens=24",
            "--set", "evolve.answer_max_new_tokens=24", "--set", "seed.n=4"]
    outs = []
    for k in range(2):
        r = cli("run", "params/smoke.yaml", *args, "--outputs", str(tmp_path / f"o{k}"))
        assert r.returncode == 0, r.stderr[-2000:]
        run_dir = next((tmp_path / f"o{k}" / "runs").iterdir())
        stats = read_json(run_dir / "02_evolve" / "stats.json")
        assert stats["llm"][0]["cache_hits"] == 0  # really generated twice
        outs.append((run_dir / "02_evolve" / "records.jsonl").read_bytes())
    assert outs[0] == outs[1]
