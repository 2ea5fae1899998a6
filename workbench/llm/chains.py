"""Chains of dependent model requests, run phase by phase or pipelined.

A chain is a Python generator that yields `Ask`s, one model request each, and is sent each
reply (a Completion, or for `choices` the probabilities dict or None); what it returns is its
result. 02_evolve makes one per pool member per round: evolve, answer the evolution, judge
the two.

    results = run_chains(chains, [evolver, answerer, judge], task="round 1")

Phase by phase, every chain's first request goes out in one batch call per generator, then
every chain's second, and so on: in-process models (embedded, hf:, vllm:) and batch APIs are
efficient only on whole lists. Over pools of servers, where each request is its own call,
the chains run pipelined: a chain's next request is sent as soon as its previous reply is in,
so the slowest requests of one step no longer leave every server idle while the next step
waits for them.

Either way each request is looked up in, and its reply written to, the generator's response
cache under the key Generator.generate / choice_probs use (so caches of either path serve
the other), every reply is committed as it arrives (a kill loses only replies in flight),
and results come back in chain order, whatever order the replies arrived in.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Generator as Chain
from dataclasses import dataclass

from workbench.llm.base import Completion, GenParams, Messages
from workbench.llm.cache import cache_key
from workbench.llm.generator import Generator, _bar
from workbench.llm.multi import ServerPool


@dataclass(frozen=True)
class Ask:
    """One request of a chain: a generation with `gen`, or (gen None) the probabilities of
    the whole replies `choices`."""

    generator: Generator
    messages: Messages
    gen: GenParams | None = None
    choices: tuple[str, ...] = ()


def run_chains(chains: list[Chain], generators: list[Generator], task: str = "chains",
               pipeline: bool = True) -> list:
    """Every chain's result, in chain order. Pipelined where every generator the chains use
    (`generators`) is a pool of servers and `pipeline` is on; phase by phase otherwise."""
    if pipeline and all(isinstance(g.backend, ServerPool) for g in generators):
        return _Pipeline(chains, generators[0], task).run()
    return in_phases(chains)


def in_phases(chains: list[Chain]) -> list:
    """Step k of every chain still running, one batch call per (generator, request kind), then
    step k + 1: the calls a hand-written phase-by-phase loop would make, in chain order."""
    results: list = [None] * len(chains)
    asks: dict[int, Ask] = {}

    def advance(i: int, reply) -> None:
        try:
            asks[i] = chains[i].send(reply)
        except StopIteration as stop:
            results[i] = stop.value

    for i in range(len(chains)):
        advance(i, None)
    while asks:
        pending, asks = asks, {}
        groups: dict[tuple, list[int]] = {}
        for i in sorted(pending):
            ask = pending[i]
            groups.setdefault((id(ask.generator), ask.gen, ask.choices), []).append(i)
        for idx in groups.values():
            first = pending[idx[0]]
            prompts = [pending[i].messages for i in idx]
            replies = (first.generator.generate(prompts, first.gen) if first.gen is not None
                       else first.generator.choice_probs(prompts, list(first.choices)))
            for i, reply in zip(idx, replies):
                advance(i, reply)
    return results


def _request(ask: Ask) -> tuple:
    """cache_key's arguments after the model, exactly as Generator.generate / choice_probs make them."""
    if ask.gen is not None:
        return ask.messages, ask.gen, 0
    return ask.messages, GenParams(max_new_tokens=1), 0, "choices:" + "|".join(ask.choices)


def _send(ask: Ask) -> Completion:
    """One request to the pool (in a worker thread); probabilities as the JSON text the cache
    holds, and none as a failed item (not cached, asked again next time), as choice_probs does."""
    pool = ask.generator.backend
    if ask.gen is not None:
        return [c for batch in pool.generate_each([ask.messages], ask.gen) for _, c in batch][0]
    p = [p for batch in pool.choice_probs_each([ask.messages], list(ask.choices)) for _, p in batch][0]
    if p is None:
        return Completion(None, error="no probabilities")
    return Completion(json.dumps(p), prompt_tokens=getattr(p, "prompt_tokens", 0),
                      completion_tokens=getattr(p, "completion_tokens", 0))


def _reply(ask: Ask, c: Completion):
    """What the chain is sent: the completion, or the probabilities it carries."""
    if ask.gen is not None:
        return c
    return json.loads(c.text) if c.ok else None


class _Pipeline:
    """Chains driven as their replies arrive. All bookkeeping (cache, stats, progress) happens
    on the calling thread; worker threads, as many per pool as it takes requests at once (its
    servers bound the rest), only send."""

    def __init__(self, chains: list[Chain], lead: Generator, task: str):
        self.chains = chains
        self.results: list = [None] * len(chains)
        self.fresh: list[tuple[int, Ask]] = []  # asks not yet looked up in the cache
        self.arrived: queue.Queue = queue.Queue()
        self.inboxes: dict[int, tuple[queue.Queue, int]] = {}  # per pool: (requests for its workers, workers)
        self.in_flight = 0
        # one progress line per round, in chains done: the first generator's tracker and bar
        self.track = lead.tracker()
        self.track.begin(task, len(chains))
        self.bar = _bar(task, len(chains), 0) if lead.bar else None

    def run(self) -> list:
        try:
            for i in range(len(self.chains)):
                self.advance(i, None)
            while self.fresh or self.in_flight:
                self.look_up()
                if self.in_flight:
                    self.take_arrived()
        finally:
            self.stop_workers()
            if self.bar is not None:
                self.bar.close()
        return self.results

    def advance(self, i: int, reply) -> None:
        try:
            self.fresh.append((i, self.chains[i].send(reply)))
        except StopIteration as stop:
            self.results[i] = stop.value
            self.track.update(done=1)
            if self.bar is not None:
                self.bar.update(1)

    def look_up(self) -> None:
        """The fresh asks, one cache read per generator: hits go back to their chains at once
        (which may ask again), misses go to the pool's workers."""
        while self.fresh:
            batch, self.fresh = self.fresh, []
            for items in _by_generator(batch):
                g = items[0][1].generator
                requests = [_request(ask) for _, ask in items]
                keys = [cache_key(g.cache_id, *r) for r in requests]
                found = {}
                if g.cache is not None:  # as Generator._cached looks up, old server-naming keys included
                    found = g.cache.get_many(list(dict.fromkeys(keys)))
                    found.update(g._legacy_hits(keys, requests, [k for k, key in enumerate(keys) if key not in found]))
                hits = sum(key in found for key in keys)
                g.stats["cache_hits"] += hits
                self.track.update(cache_hits=hits)
                for (i, ask), key in zip(items, keys):
                    if key in found:
                        self.advance(i, _reply(ask, found[key]))
                    else:
                        self.submit(i, ask, key)

    def submit(self, i: int, ask: Ask, key: str) -> None:
        pool = ask.generator.backend
        if id(pool) not in self.inboxes:
            inbox, n = queue.Queue(), pool.max_concurrency * len(pool.servers)
            for _ in range(n):
                threading.Thread(target=_work, args=(inbox, self.arrived), daemon=True).start()
            self.inboxes[id(pool)] = inbox, n
        self.inboxes[id(pool)][0].put((i, ask, key))
        self.in_flight += 1

    def take_arrived(self) -> None:
        """Everything that has arrived (waiting for the first), committed to the cache in one
        transaction per generator before any chain goes on."""
        t0 = time.perf_counter()
        batch = [self.arrived.get()]
        while True:
            try:
                batch.append(self.arrived.get_nowait())
            except queue.Empty:
                break
        seconds = time.perf_counter() - t0
        self.in_flight -= len(batch)
        replies = [item for item in batch if isinstance(item[3], Completion)]
        for items in _by_generator(replies):
            self.commit(items[0][1].generator, items, seconds * len(items) / len(batch))
        broken = [item[3] for item in batch if not isinstance(item[3], Completion)]
        if broken:  # a bug, not a failed request (those are Completions): raised, as Generator would
            raise broken[0]
        for i, ask, _, c in replies:
            self.advance(i, _reply(ask, c))

    def commit(self, g: Generator, items: list, seconds: float) -> None:
        """Counted as Generator._cached counts a streamed batch; a probability call that got
        none is not an error (the judge then reads text)."""
        tokens = 0
        for _, ask, _, c in items:
            g.stats["prompt_tokens"] += c.prompt_tokens
            g.stats["completion_tokens"] += c.completion_tokens
            g.stats["errors"] += 0 if c.ok or ask.gen is None else 1
            tokens += c.completion_tokens
        g.stats["seconds"] += seconds
        g.stats["calls"] += len(items)
        if g.cache is not None:
            g.cache.put_many(g.cache_id, [(key, c) for _, _, key, c in items])
        self.track.update(calls=len(items), tokens=tokens, model_seconds=seconds)
        g._report_servers(self.track, self.bar)

    def stop_workers(self) -> None:
        """Drop what was never sent (a stop mid-round) and let every worker end."""
        for inbox, n in self.inboxes.values():
            while True:
                try:
                    inbox.get_nowait()
                except queue.Empty:
                    break
            for _ in range(n):
                inbox.put(None)


def _by_generator(items: list) -> list[list]:
    """Items (chain index, ask, ...) grouped by the ask's generator, in order."""
    groups: dict[int, list] = {}
    for item in items:
        groups.setdefault(id(item[1].generator), []).append(item)
    return list(groups.values())


def _work(inbox: queue.Queue, arrived: queue.Queue) -> None:
    while (job := inbox.get()) is not None:
        i, ask, key = job
        try:
            arrived.put((i, ask, key, _send(ask)))
        except BaseException as e:
            arrived.put((i, ask, key, e))
