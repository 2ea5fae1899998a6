"""Request pools over OpenAI-compatible servers.

    openai:<model>@http://gpu0:8000/v1,http://gpu1:8000/v1

One server per GPU is how evolution scales; `ServerPool` spreads requests over the servers
(each request goes to the one with the fewest requests in flight, so a slow server gets
fewer), keeps at most `max_concurrency` in flight per server, and yields completions as they
finish instead of waiting for a whole chunk: the generator caches them at once, so a killed
run loses almost nothing and no chunk waits for its slowest request.

A failed attempt is retried on another server, and a server that keeps failing is taken out
of rotation and probed back later (server_health.py), so a dead server among live ones costs
a few attempts, not a share of the items. The response cache keys on the model
(`cache_id`), not on the servers: a resume with one server fewer, new ports or a router in
front reuses every cached reply.

`vllm:<path or hub name>` runs vLLM in this process: vllm_backend.py (importable from here too).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from workbench.core.run_section import with_defaults
from workbench.llm.base import BackendError, Completion, GenParams, Messages
from workbench.llm.openai_backend import OpenAIBackend, gave_up
from workbench.llm.server_health import COOLDOWN_S, FAILURES_TO_REMOVE, ServerHealth
from workbench.llm.vllm_backend import VLLMBackend  # noqa: F401  (its home before vllm_backend.py)


def split_urls(url: str) -> list[str]:
    urls = [u.strip() for u in url.split(",") if u.strip()]
    bad = [u for u in urls if not u.startswith(("http://", "https://"))]
    if not urls or bad:
        raise BackendError(f"base URL list {url!r}: every comma-separated entry must start with http:// or https://")
    if len(set(urls)) != len(urls):
        raise BackendError(f"base URL list {url!r} names a server twice")
    return urls


class ServerPool:
    def __init__(self, servers: list, max_concurrency: int = 8, failures_to_remove: int = FAILURES_TO_REMOVE,
                 cooldown_s: float = COOLDOWN_S):
        """servers: OpenAIBackend instances, one per base URL, all serving the same model."""
        self.servers = servers
        self.max_concurrency = max_concurrency
        first = servers[0]
        # the model id names the model, and every server of the pool when there are several
        # (stats and records say which servers answered); the cache keys on cache_id alone
        self.model_id = first.model_id if len(servers) == 1 else (
            f"openai:{first.model}@" + ",".join(sorted(s.model_id.partition("@")[2] for s in servers)))
        self.cache_id = first.cache_id
        self.chunk_size = max_concurrency * 4 * len(servers)
        self.max_retries = first.max_retries
        self.health = ServerHealth([s.base_url for s in servers], max_concurrency, failures_to_remove, cooldown_s)
        self._own_retries = 0
        self._notes_taken = 0
        self._lock = threading.Lock()

    @property
    def sent(self) -> list[int]:
        """Attempts sent to each server, for stats and tests."""
        return self.health.sent

    @property
    def retries(self) -> int:
        return self._own_retries + sum(s.retries for s in self.servers)

    def server_stats(self) -> list[dict]:
        return self.health.stats()

    def take_notes(self) -> list[str]:
        """Changes of rotation since the last call ("server ... out after 3 failures in a row")."""
        with self._lock:
            new = self.health.notes[self._notes_taken:]
            self._notes_taken += len(new)
            return new

    def send(self, request: dict) -> tuple[dict | None, str | None]:
        """One request with the retry policy over the pool: (reply, None) or (None, error).

        A failed attempt (unreachable, timed out, 5xx, 429) goes next to a server in rotation
        that this request has not tried yet, at once; with none left it backs off first, as
        one server alone would. Every attempt, and every wait for a server to be probed back
        while all are out, spends one of the request's max_retries + 1 tries."""
        tried: set[int] = set()
        last = ""
        for attempt in range(self.max_retries + 1):
            k = self.health.acquire(avoid=tried, timeout=self.health.cooldown_s)
            if k is None:
                last, wait = self.health.why_none(), 0.0  # the wait for a probe was the backoff
            else:
                server = self.servers[k]
                try:
                    result = server.attempt(request)
                except BaseException:
                    self.health.release(k)
                    raise
                self.health.release(k, result.error if result.server_fault else None)
                if not result.retryable:
                    return result.reply, None if result.ok else self._named(k, result.error)
                last = self._named(k, result.error)
                tried.add(k)
                untried = any(self.health.in_rotation(j) and j not in tried for j in range(len(self.servers)))
                # no backoff where another server can take it, or where this one is now out
                # (the next acquire waits for its probe instead)
                wait = 0.0 if untried or not self.health.in_rotation(k) else (
                    server.backoff_seconds(attempt, result.retry_after))
            if attempt == self.max_retries:
                break
            with self._lock:
                self._own_retries += 1
            if wait > 0:
                server.sleep(wait)
        return None, gave_up(self.max_retries + 1, last)

    def _named(self, k: int, error: str) -> str:
        """An error with the server that gave it, where there are several to tell apart."""
        return error if len(self.servers) == 1 else f"{self.servers[k].base_url}: {error}"

    def _each(self, items: list, fn) -> Iterator[list[tuple[int, object]]]:
        """Run fn(item) for every item with bounded concurrency; yield whatever has finished,
        as (position, result) lists, as soon as it has. Workers take items from a shared
        cursor, so memory does not grow with the number of items."""
        done: queue.Queue = queue.Queue()
        cursor = iter(enumerate(items))
        cursor_lock = threading.Lock()

        def worker():
            while True:
                with cursor_lock:
                    nxt = next(cursor, None)
                if nxt is None:
                    done.put(None)
                    return
                pos, item = nxt
                try:
                    done.put((pos, fn(item)))
                except BaseException as e:  # never lose an item silently: it fails with its reason
                    done.put((pos, e))

        n_workers = max(1, min(len(items), self.max_concurrency * len(self.servers)))
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(n_workers)]
        for t in threads:
            t.start()
        finished = 0
        while finished < n_workers:
            batch, first = [], done.get()
            pending = [first]
            while True:  # everything already finished goes in the same batch
                try:
                    pending.append(done.get_nowait())
                except queue.Empty:
                    break
            for entry in pending:
                if entry is None:
                    finished += 1
                else:
                    batch.append(entry)
            if batch:
                yield batch

    def _generate_one(self, messages: Messages, gen: GenParams) -> Completion:
        first = self.servers[0]  # every server has the model, key and parsing of the first
        reply, error = self.send(first.completion_request(messages, gen))
        return Completion(None, error=error) if reply is None else first.completion_from(reply)

    def _probs_one(self, messages: Messages, choices: list[str]) -> dict | None:
        first = self.servers[0]
        reply, _ = self.send(first.probs_request(messages))
        return None if reply is None else first.probs_from(reply, choices)

    def generate_each(self, prompts: list[Messages], gen: GenParams) -> Iterator[list[tuple[int, Completion]]]:
        scrub = self.servers[0].scrub
        for batch in self._each(prompts, lambda m: self._generate_one(m, gen)):
            yield [(pos, r if isinstance(r, Completion) else
                    Completion(None, error=scrub(f"unexpected reply: {type(r).__name__}: {r}")))
                   for pos, r in batch]

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        out: list[Completion | None] = [None] * len(prompts)
        for batch in self.generate_each(prompts, gen):
            for pos, c in batch:
                out[pos] = c
        return out  # type: ignore[return-value]

    def choice_probs_each(self, prompts: list[Messages], choices: list[str]) -> Iterator[list[tuple[int, dict | None]]]:
        for batch in self._each(prompts, lambda m: self._probs_one(m, choices)):
            yield [(pos, None if isinstance(r, BaseException) else r) for pos, r in batch]

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[dict[str, float] | None]:
        out: list = [None] * len(prompts)
        for batch in self.choice_probs_each(prompts, choices):
            for pos, r in batch:
                out[pos] = r
        return out


def openai_pool(model: str, url: str, run: dict) -> ServerPool:
    run = with_defaults(run)
    servers = [OpenAIBackend(model, u, api_key_env=run["api_key_env"], max_concurrency=run["max_concurrency"],
                             max_retries=run["max_retries"], timeout=run["request_timeout"])
               for u in split_urls(url)]
    return ServerPool(servers, max_concurrency=run["max_concurrency"])
