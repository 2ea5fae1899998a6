"""02_evolve over a pool of servers: an attempt is answered and judged as soon as its evolution
returns (workbench/llm/chains.py), with the records of the phase-by-phase path."""

import hashlib
import json
import threading
import time

import pytest
from fakes import FakeBackend, scripted_model
from openai_stub import StubServer

from workbench.core.records import new_seed
from workbench.llm import Generator, GenParams
from workbench.llm.cache import ResponseCache, cache_key
from workbench.llm.multi import openai_pool
from workbench.stages.evolve import loop as EV
from workbench.stages.evolve.stage import Config

RUN = {"max_concurrency": 4, "max_retries": 1, "request_timeout": 20.0}


def kind(body) -> str:
    text = body["messages"][-1]["content"]
    return "evolve" if "<<New Task>>" in text else "judge" if "<<Second Task>>" in text else "answer"


def judge_logprobs(body):
    """Every way a verdict is reached: Equal or Not Equal from probabilities, or (no mass on
    either) from the judge's text."""
    which = int(hashlib.sha256(body["messages"][-1]["content"].encode()).hexdigest(), 16) % 3
    if which == 0:
        return [("Equal", -0.05, [("Equal", -0.05), ("Not", -3.0)])], "stop"
    if which == 1:
        return [("Not", -0.05, [("Not", -0.05), ("Equal", -3.0)]), (" Equal", -0.01, [(" Equal", -0.01)])], "stop"
    return [("Hmm", -0.05, [("Hmm", -0.05)])], "stop"


def seeds(n=9):
    return [new_seed(f"Name {k} rivers of {place}.") for k in range(n // 3) for place in ("Peru", "Chad", "Laos")]


def dump(records) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in records]


def pool_generator(server, cache=None, **kw):
    return Generator(openai_pool("m", server.url, RUN), cache, **kw)


def evolve(gen, cfg, rows, pipeline, monkeypatch):
    monkeypatch.setattr(EV, "PIPELINE", pipeline)
    return EV.run_evolution(rows, cfg, gen, gen, gen, seed=5)


def test_an_evolution_is_answered_before_the_last_evolution_of_the_round_returns(monkeypatch):
    """One evolution is held until a judge request arrives: only a pipelined round can send
    one, since phase by phase nothing is answered before every evolution is in."""
    judged, held = threading.Event(), []

    def on_request(body):
        if kind(body) == "evolve" and "SLOW" in body["messages"][-1]["content"] and not judged.is_set():
            held.append(judged.wait(timeout=15))
        elif kind(body) == "judge":
            judged.set()

    rows = [new_seed(t, response="An answer given with the seed.") for t in
            ("Name three SLOW rivers.", "Name two lakes.", "Name a sea.", "Name four capes.")]
    with StubServer(logprobs=judge_logprobs, on_request=on_request) as server:
        pipelined = evolve(pool_generator(server), Config(rounds=1), rows, True, monkeypatch)
        # the held evolution returned only after another attempt had been answered and judged
        assert held == [True]
        phased = evolve(pool_generator(server), Config(rounds=1), rows, False, monkeypatch)
    assert dump(pipelined.records) == dump(phased.records)
    assert all(r["status"] == "kept" for r in pipelined.records if r["round"] == 0)


@pytest.mark.parametrize("cfg", [Config(rounds=3), Config(rounds=2, judge_unparsable="eliminate"),
                                 Config(rounds=2, templates="code")], ids=["general", "eliminate", "code"])
def test_pipelined_rounds_write_the_records_of_the_phase_by_phase_path(cfg, monkeypatch):
    with StubServer(logprobs=judge_logprobs) as server:
        phased = evolve(pool_generator(server), cfg, seeds(12), False, monkeypatch)
        n = len(server.requests)
        pipelined = evolve(pool_generator(server), cfg, seeds(12), True, monkeypatch)
        assert len(server.requests) - n == n  # the same calls, in another order
    assert dump(pipelined.records) == dump(phased.records)
    judged = [r["checks"]["equal_judge"] for r in phased.records if r["round"] and "equal_judge" in r["checks"]]
    assert {j["source"] for j in judged} == {"probs", "text"}
    assert {"kept", "eliminated"} <= {r["status"] for r in phased.records}


def test_either_path_reads_the_cache_the_other_wrote(tmp_path, monkeypatch):
    cfg = Config(rounds=2)
    with StubServer(logprobs=judge_logprobs) as server:
        for first, second in ((False, True), (True, False)):
            cache = ResponseCache(tmp_path / f"{first}.sqlite")
            written = evolve(pool_generator(server, cache), cfg, seeds(), first, monkeypatch)
            n = len(server.requests)
            gen = pool_generator(server, cache)
            again = evolve(gen, cfg, seeds(), second, monkeypatch)
            assert len(server.requests) == n and gen.stats["calls"] == 0 and gen.stats["cache_hits"] > 0
            assert dump(again.records) == dump(written.records)


class Interrupt(Exception):
    pass


def stop_at_commit(n: int):
    """A progress tracker that stops the run when the n-th batch of replies is committed."""
    class Stop:
        commits = 0

        def begin(self, task, total):
            pass

        def update(self, calls=0, **counts):
            Stop.commits += bool(calls)
            if calls and Stop.commits == n:
                raise Interrupt

    return Stop


def cache_key_of(body) -> str:
    """The cache key of a request the stub received."""
    if body.get("logprobs"):
        return cache_key("openai:m", body["messages"], GenParams(max_new_tokens=1), 0, "choices:Equal|Not Equal")
    gen = GenParams(body["max_tokens"], body["temperature"], body["top_p"], body["seed"])
    return cache_key("openai:m", body["messages"], gen, 0)


@pytest.mark.parametrize("stop", [4, 12, 20])
def test_a_stopped_round_keeps_every_reply_committed_before_the_stop(stop, tmp_path, monkeypatch):
    """Replies are cached as they arrive: after a stop mid-round, the rerun asks nothing the
    cache holds and writes the records of an uninterrupted run."""
    cfg = Config(rounds=2)
    with StubServer(logprobs=judge_logprobs) as server:
        reference = evolve(pool_generator(server), cfg, seeds(), True, monkeypatch)
        cache = ResponseCache(tmp_path / "c.sqlite")
        with pytest.raises(Interrupt):
            evolve(pool_generator(server, cache, tracker=stop_at_commit(stop)), cfg, seeds(), True, monkeypatch)
        time.sleep(0.3)  # let the requests still out when it stopped arrive (their replies are dropped)
        held = set(cache.get_many([cache_key_of(r["body"]) for r in server.requests]))
        assert held and len(held) == len(cache)
        n = len(server.requests)
        resumed = evolve(pool_generator(server, cache), cfg, seeds(), True, monkeypatch)
        asked = [cache_key_of(r["body"]) for r in server.requests[n:]]
        assert asked and not held & set(asked) and len(set(asked)) == len(asked)
    assert dump(resumed.records) == dump(reference.records)


def test_in_process_models_still_get_one_batch_per_phase():
    """A backend that is not a pool of servers gets whole lists, one kind of request each,
    every evolution of a round before any answer of it."""
    batches = []

    class Recording(FakeBackend):
        def generate(self, prompts, gen):
            batches.append({kind({"messages": m}) for m in prompts})
            return super().generate(prompts, gen)

    gen = Generator(Recording(reply=scripted_model, chunk_size=64))
    EV.run_evolution(seeds(), Config(rounds=2), gen, gen, gen)
    assert all(len(b) == 1 for b in batches)
    assert [b.pop() for b in batches] == ["answer", "evolve", "answer", "judge", "evolve", "answer", "judge"]
