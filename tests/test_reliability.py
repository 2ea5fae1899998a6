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

from workbench.core.io import read_json, read_jsonl
from workbench.llm import GenParams
from workbench.llm.openai_backend import OpenAIBackend

REPO = Path(__file__).resolve().parent.parent
MSG = [{"role": "user", "content": "hello"}]
SECRET = "sk-wb-test-7f3a9c1e5b"


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env=env)


@pytest.mark.parametrize("fault,expect", [
    ("timeout", "timed out"), ("malformed", "not JSON"), ("empty", "server returned no choices"),
    (502, "HTTP 502"), (400, "HTTP 400"),
])
def test_each_fault_becomes_a_recorded_failure(fault, expect):
    with StubServer(faults={1: fault, 2: fault}, timeout_s=2.0) as server:
        backend = OpenAIBackend("m", server.url, max_retries=1, backoff_base=0.01, timeout=0.5)
        [c] = backend.generate([MSG], GenParams())
    assert not c.ok and expect in c.error


@pytest.mark.parametrize("fault,expect", [
    ("retry_soon", "HTTP 429"),  # Retry-After: soon made the date parser raise out of the stage
    ("int_content", "content of type int"), ("null_message", "without a message"),
    ("no_choices", "no choices"), ("html", "not JSON"),
])
def test_malformed_replies_are_failed_items_not_crashes(fault, expect):
    with StubServer(faults={1: fault}) as server:
        backend = OpenAIBackend("m", server.url, max_retries=0, timeout=2.0)
        out = backend.generate([MSG, MSG, MSG], GenParams())
    failed = [c for c in out if not c.ok]
    assert len(failed) == 1 and expect in failed[0].error  # the other items of the batch went on


def test_retry_after_that_is_neither_seconds_nor_a_date_uses_backoff():
    from workbench.llm.openai_backend import retry_after_seconds

    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    waits = []
    with StubServer(faults={1: "retry_soon"}) as server:  # 429 Retry-After: soon, then an answer
        backend = OpenAIBackend("m", server.url, max_retries=1, backoff_base=0.4, sleep=waits.append)
        [c] = backend.generate([MSG], GenParams())
    # the first backoff step, jittered to 50-100 % of backoff_base
    assert c.ok and backend.retries == 1 and len(waits) == 1 and 0.2 <= waits[0] <= 0.4


def test_request_timeout_is_a_total_deadline_against_a_dripping_server():
    with StubServer(faults={1: "drip"}, drip_s=0.1) as server:  # ~300 bytes: 30 s if read to the end
        backend = OpenAIBackend("m", server.url, max_retries=0, timeout=1.0)
        [c] = backend.generate([MSG], GenParams())
    # read to the end, the dripped reply is a valid answer: only the deadline makes it a failure
    assert not c.ok and "timed out" in c.error


def test_an_echoed_key_is_scrubbed_from_the_error(monkeypatch):
    monkeypatch.setenv("WB_SECRET_KEY", SECRET)
    with StubServer(faults={1: "echo_key"}) as server:
        backend = OpenAIBackend("m", server.url, api_key_env="WB_SECRET_KEY", max_retries=0)
        [c] = backend.generate([MSG], GenParams())
    assert "HTTP 401" in c.error and SECRET not in c.error and "[API key removed]" in c.error


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


def test_a_key_echoed_by_the_server_reaches_no_file(tmp_path):
    with StubServer(fail_every=3, fail_status="echo_key") as server:
        r = _openai_run(tmp_path, server, ["--set", "evolve.max_failure_rate=0.9", "--set", "evolve.rounds=1"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert SECRET not in r.stdout + r.stderr
    run_dir = next((tmp_path / "out" / "runs").iterdir())
    failed = [x for x in read_jsonl(run_dir / "02_evolve" / "records.jsonl") if x["status"] == "failed"]
    assert failed and all("[API key removed]" in x["error"] for x in failed)
    for path in list(run_dir.rglob("*")) + list((tmp_path / "out" / "cache").rglob("*")):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_a_key_in_api_key_env_is_refused_before_it_reaches_params_yaml(tmp_path):
    r = cli("run", "params/smoke.yaml", "--set", f"run.api_key_env={SECRET}", "--outputs", str(tmp_path / "out"))
    assert r.returncode == 2 and "run.api_key_env: looks like an API key" in r.stderr
    assert not (tmp_path / "out").exists()


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


def _logprobs(positions, finish="stop"):
    """A stub reply: [(token, p, [(top token, p), ...]), ...] with probabilities given as p."""
    import math

    as_lp = [(t, math.log(p), [(a, math.log(b)) for a, b in top]) for t, p, top in positions]
    return lambda body: (as_lp, finish)


RATINGS = [str(r) for r in range(1, 11)]


@pytest.mark.parametrize("positions,finish,expect", [
    # a tokeniser that splits "10": "1" then "0" is the rating 10, not 1
    ([("1", .9, [("1", .9), ("7", .1)]), ("0", .95, [("0", .95), ("<|im_end|>", .05)])], "stop",
     {"10": .855, "1": .045, "7": .1}),
    # "1." opens a numbered list: no rating 1
    ([("1", .8, [("1", .8), ("5", .2)]), (".", .99, [(".", .99), (")", .01)]), (" First", .5, [(" First", .5)])],
     "length", {"1": 0.0, "5": .2}),
    # "7" and the end of the reply; an off-path "1" might be the start of "10": not counted
    ([("7", .7, [("7", .7), ("8", .2), ("1", .1)])], "stop", {"7": .7, "8": .2, "1": 0.0, "10": 0.0}),
    # "8 out of 10" is the rating 8
    ([("8", .9, [("8", .9)]), (" out", .6, [(" out", .6), ("/", .3)])], "length", {"8": .9}),
])
def test_choice_probs_are_of_the_whole_reply(positions, finish, expect):
    with StubServer(logprobs=_logprobs(positions, finish)) as server:
        backend = OpenAIBackend("m", server.url, max_retries=0)
        [probs] = backend.choice_probs([MSG], RATINGS)
        assert server.requests[0]["body"]["top_logprobs"] == 20 and server.requests[0]["body"]["max_tokens"] > 1
    for choice, p in expect.items():
        assert probs[choice] == pytest.approx(p, abs=1e-6), (choice, probs)


def test_a_split_ten_rates_near_ten_through_the_difficulty_judge(tmp_path):
    from workbench.llm.cache import ResponseCache
    from workbench.llm.generator import Generator
    from workbench.llm.rating import rate

    positions = [("1", .9, [("1", .9), ("9", .1)]), ("0", .99, [("0", .99)])]
    with StubServer(logprobs=_logprobs(positions)) as server:
        gen = Generator(OpenAIBackend("m", server.url, max_retries=0), ResponseCache(tmp_path / "c.sqlite"))
        [result] = rate([MSG], gen, mode="expected")
    assert result["rating"] > 9.0  # read as 1.8 when only the first token was seen
