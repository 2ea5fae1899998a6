"""Servers come and go in a long run: the cache keys on the model, not the servers; a failed
request goes to another server; a broken server is left out and probed back; probability
calls count their tokens."""

import json
import socket
import time

import pytest
from fakes import note_taker
from openai_stub import StubServer, obliging_reply

from workbench.core.run_folder import RunFolder
from workbench.llm import GenParams, get_generator
from workbench.llm.cache import ResponseCache, cache_key
from workbench.llm.generator import Generator
from workbench.llm.multi import ServerPool
from workbench.llm.openai_backend import OpenAIBackend
from workbench.llm.server_health import FAILURES_TO_REMOVE, ServerHealth
from workbench.pipeline import runner

RUN = {"max_concurrency": 4, "max_retries": 2, "request_timeout": 5.0, "cache": True}
GEN = GenParams(max_new_tokens=8)
RATINGS = [str(r) for r in range(1, 11)]


def _prompts(n):
    return [[{"role": "user", "content": f"question {i}"}] for i in range(n)]


def _free_port_url() -> str:
    """A loopback URL nothing listens on: connections to it are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _rating_logprobs(body):
    return [("7", -0.1, [("7", -0.1), ("8", -2.5)])], "stop"


# -- the cache keys on the model, not on the servers ------------------------------------------

def test_a_resume_through_other_servers_repeats_no_call(tmp_path):
    cache = tmp_path / "responses.sqlite"
    with StubServer(logprobs=_rating_logprobs) as a:
        first = get_generator(f"openai:m@{a.url}", RUN, cache)
        texts = [c.text for c in first.generate(_prompts(12), GEN)]
        probs = first.choice_probs(_prompts(3), RATINGS)
        assert len(a.requests) == 15
    # the same model behind another server, then behind two new ports: nothing is asked again
    with StubServer() as b, StubServer() as c:
        for model in (f"openai:m@{b.url}", f"openai:m@{b.url},{c.url}"):
            gen = get_generator(model, RUN, cache)
            again = gen.generate(_prompts(12), GEN)
            assert [x.text for x in again] == texts and all(x.cached for x in again)
            assert gen.choice_probs(_prompts(3), RATINGS) == probs
            assert gen.stats["calls"] == 0 and gen.stats["cache_hits"] == 15
        assert b.requests == [] and c.requests == []
        # the server set is still what the stats (and so the manifest) record
        assert gen.stats["model"] == f"openai:m@{','.join(sorted([b.url, c.url]))}"
        # another model is another answer, whatever the server
        other = get_generator(f"openai:m2@{b.url}", RUN, cache)
        other.generate(_prompts(2), GEN)
        assert len(b.requests) == 2


def test_rows_written_under_the_old_server_naming_key_are_read_and_copied(tmp_path):
    path = tmp_path / "responses.sqlite"
    old_id = "openai:m@http://gpu0:8000/v1,http://gpu1:8000/v1"  # a pool from before the fix
    prompts = _prompts(5)
    rows = ResponseCache(path)
    rows.put_many(old_id, [(cache_key(old_id, p, GEN, 0), _completion(f"old {i}")) for i, p in enumerate(prompts)])
    kind = "choices:" + "|".join(RATINGS)
    rows.put_many(old_id, [(cache_key(old_id, prompts[0], GenParams(max_new_tokens=1), 0, kind),
                            _completion(json.dumps({"7": 0.9})))])
    with StubServer() as server:
        gen = get_generator(f"openai:m@{server.url}", RUN, path)
        outs = gen.generate(prompts, GEN)
        assert [c.text for c in outs] == [f"old {i}" for i in range(5)] and server.requests == []
        assert gen.choice_probs(prompts[:1], RATINGS) == [{"7": 0.9}] and server.requests == []
        # copied under the new key: found there directly from now on
        new_key = cache_key(gen.cache_id, prompts[0], GEN, 0)
        assert new_key in ResponseCache(path).get_many([new_key])
        # a model whose name only starts the same is not read from those rows
        gen_other = get_generator(f"openai:m@x@{server.url}", RUN, path)
        gen_other.generate(prompts[:1], GEN)
        assert len(server.requests) == 1


def _completion(text):
    from workbench.llm.base import Completion

    return Completion(text, prompt_tokens=3, completion_tokens=2)


def test_the_manifest_records_the_servers_a_stage_used(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "04_difficulty").mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({"stages": {"04_difficulty": {"status": "running"}}}))
    servers = "openai:m@http://a:8000/v1,http://b:8000/v1"
    (run_dir / "04_difficulty" / "stats.json").write_text(json.dumps({"llm": [{"model": servers}, {"model": "embedded"}]}))
    run = RunFolder(run_dir)
    runner._finish(run, "04_difficulty", "done", time.perf_counter())
    assert json.loads((run_dir / "manifest.json").read_text())["stages"]["04_difficulty"]["models"] == [
        "embedded", servers]


# -- failover ---------------------------------------------------------------------------------

def test_a_dead_server_gets_a_few_attempts_and_the_live_one_does_the_rest(tmp_path):
    dead, shown = _free_port_url(), []
    with StubServer() as live:
        gen = get_generator(f"openai:m@{live.url},{dead}", RUN, tmp_path / "responses.sqlite",
                            tracker=note_taker(shown))
        outs = gen.generate(_prompts(24), GEN)
        assert all(c.ok for c in outs), [c.error for c in outs if not c.ok]
        assert [c.text for c in outs] == [obliging_reply(f"question {i}") for i in range(24)]
        assert len(live.requests) == 24
    by_url = {s["url"]: s for s in gen.stats["servers"]}
    assert 1 <= by_url[dead]["sent"] <= FAILURES_TO_REMOVE + RUN["max_concurrency"]
    assert by_url[dead]["failed"] == by_url[dead]["sent"] and by_url[dead]["removed"] == 1
    assert by_url[live.url] == {"url": live.url, "sent": 24, "failed": 0, "removed": 0, "in_rotation": True}
    assert not by_url[dead]["in_rotation"]
    note = f"server {dead} out after {FAILURES_TO_REMOVE} failures in a row: connection failed"
    assert any(n.startswith(note) for n in gen.stats["server_notes"])
    assert any(n.startswith(note) for n in shown)  # shown on the progress line


def test_a_server_answering_503_loses_its_share_to_the_other(tmp_path):
    with StubServer() as good, StubServer(fail_every=1, fail_status=503) as bad:
        gen = get_generator(f"openai:m@{good.url},{bad.url}", RUN, tmp_path / "responses.sqlite")
        outs = gen.generate(_prompts(30), GEN)
        assert all(c.ok for c in outs) and len(good.requests) == 30
        assert len(bad.requests) <= FAILURES_TO_REMOVE + RUN["max_concurrency"]
        # the probability calls of a judge fail over too
        probs = gen.choice_probs(_prompts(4), ["Equal", "Not Equal"])
        assert len(probs) == 4 and len(bad.requests) <= FAILURES_TO_REMOVE + RUN["max_concurrency"]


def test_with_every_server_out_requests_wait_for_the_probe_and_then_succeed():
    # the only server fails three times in a row, so it is out; the waiting requests are not failed
    with StubServer(faults={1: 503, 2: 503, 3: 503}) as server:
        one = OpenAIBackend("m", server.url, max_retries=4, backoff_base=0.001, timeout=5.0)
        pool = ServerPool([one], max_concurrency=1, cooldown_s=0.2)
        t0 = time.monotonic()
        outs = pool.generate(_prompts(3), GEN)
        assert all(c.ok for c in outs) and time.monotonic() - t0 >= 0.2  # waited for the probe
        assert pool.take_notes() == [f"server {server.url} out after 3 failures in a row: HTTP 503: injected 503",
                                     f"server {server.url} back in rotation"]
        assert pool.server_stats()[0] == {"url": server.url, "sent": 6, "failed": 3, "removed": 1,
                                          "in_rotation": True}


def test_a_request_still_fails_with_its_reason_when_its_retry_budget_is_spent():
    dead = _free_port_url()
    waits = []
    backend = OpenAIBackend("m", dead, max_retries=3, backoff_base=0.001, timeout=2.0, sleep=waits.append)
    pool = ServerPool([backend], max_concurrency=2, cooldown_s=0.05)
    [c] = pool.generate(_prompts(1), GEN)
    assert not c.ok and c.error.startswith("gave up after 4 attempts: ")
    assert "connection failed" in c.error  # the reason, even where the last try found every server out


def test_server_health_takes_out_probes_and_puts_back():
    now = [0.0]
    health = ServerHealth(["http://a/v1", "http://b/v1"], max_in_flight=2, failures_to_remove=3, cooldown_s=10,
                          clock=lambda: now[0])

    def attempt(outcome=None, avoid=()):
        k = health.acquire(avoid=avoid, timeout=0.01)
        if k is not None:
            health.release(k, outcome)
        return k

    assert [attempt("connection failed", avoid={0}) for _ in range(3)] == [1, 1, 1]
    assert not health.in_rotation(1) and [attempt(), attempt(avoid={0})] == [0, 0]  # b is out: a takes all
    now[0] = 10.0  # the cooldown has passed: one request goes to b as its probe
    assert attempt("connection failed") == 1  # a failed probe: out for another cooldown
    assert not health.in_rotation(1) and attempt() == 0
    now[0] = 20.0
    assert attempt() == 1  # the probe succeeds: b is back
    assert health.in_rotation(1) and health.notes[-1] == "server http://b/v1 back in rotation"
    assert [s["removed"] for s in health.stats()] == [0, 1]
    # with every server out and no probe due, a request waits at most its timeout, then has none
    for _ in range(3):
        attempt("HTTP 502", avoid={1}), attempt("HTTP 502", avoid={0})
    assert health.acquire(timeout=0.01) is None and "every server out of rotation" in health.why_none()
    # room is kept per server: a full server is not given more while another has room
    now[0] = 40.0
    assert health.acquire() == 0 and health.acquire() == 1  # both probes
    health.release(0), health.release(1)
    assert [health.acquire() for _ in range(4)] == [0, 1, 0, 1]


# -- token usage of probability calls -------------------------------------------------------

@pytest.mark.parametrize("pooled", [True, False])
def test_probability_calls_count_their_tokens_and_cache_them(tmp_path, pooled):
    path = tmp_path / "responses.sqlite"
    with StubServer(logprobs=_rating_logprobs) as server:
        backend = (get_generator(f"openai:m@{server.url}", RUN, path).backend if pooled
                   else OpenAIBackend("m", server.url, max_retries=0))
        gen = Generator(backend, ResponseCache(path))
        probs = gen.choice_probs(_prompts(4), RATINGS)
    assert all(p["7"] > 0.8 for p in probs)
    assert gen.stats["prompt_tokens"] == 4 * 10 and gen.stats["completion_tokens"] == 4 * 1  # the stub's usage
    with ResponseCache(path)._db as db:
        assert db.execute("SELECT SUM(prompt_tokens), SUM(completion_tokens) FROM responses").fetchone() == (40, 4)
