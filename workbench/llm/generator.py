"""The one object stages call: cache in front of a backend, with call statistics.

Progress goes to whoever asks for it: `tracker` makes an object with begin(task, total) and
update(**counts) per batch of calls (the runner's progress line), `bar` shows a tqdm bar
(JupyterLab, terminals). The llm layer knows nothing of either; a tracker that has
note(text) is also told when a server leaves or rejoins the rotation, or a batch changes state.

A backend that streams (`generate_each`, `choice_probs_each`) gets all misses of a call at
once; one with `wants_cache_keys` (the batch API) also gets their cache keys, to name each
request by the key it will be cached under.

The cache key names the backend's `cache_id` (the model, not the servers); a miss is looked
up again under the keys older runs wrote (`model_id` naming servers), and a row found there
is copied under the new key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from workbench.llm.base import Backend, BackendError, Completion, GenParams, Messages
from workbench.llm.cache import ResponseCache, cache_key

log = logging.getLogger(__name__)
_LOSS = GenParams(max_new_tokens=0)  # losses generate nothing; the key still records decoding params


class _NoTracker:
    def begin(self, task: str, total: int) -> None:
        pass

    def update(self, **counts) -> None:
        pass


class Generator:
    def __init__(self, backend: Backend, cache: ResponseCache | None = None,
                 tracker: Callable[[], object] = _NoTracker, bar: bool = False):
        self.backend = backend
        self.cache = cache
        self.tracker, self.bar = tracker, bar
        # what determines an answer: for servers the model, not which servers (model_id)
        self.cache_id = getattr(backend, "cache_id", backend.model_id)
        self._legacy_ids: list[str] | None = None  # looked up once, on the first miss
        self.stats = {
            "model": backend.model_id, "calls": 0, "cache_hits": 0, "errors": 0,
            "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0,
        }
        if hasattr(backend, "server_stats"):  # per server: sent, failed, times out of rotation
            self.stats["servers"] = backend.server_stats()

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    def _cached(self, requests: list[tuple], call: Callable[[list[int]], list[Completion]],
                count_errors: bool = True, stream: Callable | None = None, task: str = "generate") -> list[Completion]:
        """Look every request up (cache_key's arguments after the model); send the misses to
        the backend and cache results as they return.

        With `call`, misses go one chunk at a time and each chunk is cached when it returns,
        so a kill loses at most one chunk. With `stream` (backends that yield completions as
        they finish, e.g. a pool of servers), everything ready is committed at once, so a
        kill loses only what arrived during the last commit, and no chunk waits for its
        slowest request."""
        keys = [cache_key(self.cache_id, *r) for r in requests]
        results: list[Completion | None] = [None] * len(keys)
        hits = 0
        if self.cache is not None:
            found = self.cache.get_many(list(dict.fromkeys(keys)))
            found.update(self._legacy_hits(keys, requests, [i for i, k in enumerate(keys) if k not in found]))
            for i, k in enumerate(keys):
                if k in found:
                    results[i] = found[k]
                    hits += 1
        self.stats["cache_hits"] += hits
        todo = [i for i, r in enumerate(results) if r is None]
        track = self.tracker()
        track.begin(task, len(keys))
        track.update(done=hits, cache_hits=hits)
        bar = _bar(task, len(keys), hits) if self.bar else None
        for batch, seconds in (self._streamed(todo, keys, stream) if stream else self._chunked(todo, call)):
            tokens = 0
            for i, c in batch:
                results[i] = c
                self.stats["prompt_tokens"] += c.prompt_tokens
                self.stats["completion_tokens"] += c.completion_tokens
                self.stats["errors"] += 0 if c.ok or not count_errors else 1
                tokens += c.completion_tokens
            self.stats["seconds"] += seconds
            self.stats["calls"] += len(batch)
            if self.cache is not None:
                self.cache.put_many(self.cache_id, [(keys[i], c) for i, c in batch])
            track.update(done=len(batch), calls=len(batch), tokens=tokens, model_seconds=seconds)
            self._report_servers(track, bar)
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        return results  # type: ignore[return-value]

    def _legacy_hits(self, keys: list[str], requests: list[tuple], missing: list[int]) -> dict[str, Completion]:
        """Rows for the missing requests written under an older key (a model id naming the
        servers), by new key; copied under the new key, so the next lookup finds them at once."""
        if not missing or self.cache is None or self.cache_id == self.model_id:
            return {}
        if self._legacy_ids is None:
            self._legacy_ids = self.cache.legacy_model_ids(self.cache_id, first=self.model_id)
        found: dict[str, Completion] = {}
        for old_id in self._legacy_ids:
            old_keys = {cache_key(old_id, *requests[i]): keys[i] for i in missing if keys[i] not in found}
            if not old_keys:
                break
            for old_key, c in self.cache.get_many(list(old_keys)).items():
                found[old_keys[old_key]] = c
        if found:
            self.cache.put_many(self.cache_id, list(found.items()))
        return found

    def _report_servers(self, track, bar=None) -> None:
        """Per-server counts (a pool) or per-batch states (a batch API) into the stats; a
        note (a server leaving or rejoining the rotation, a batch changing state) is logged,
        shown beside the bar, and on the progress line where the tracker can. Server notes
        are also kept in the stats; a batch's state is there already."""
        servers = hasattr(self.backend, "server_stats")
        if servers:
            self.stats["servers"] = self.backend.server_stats()
        if hasattr(self.backend, "batch_stats"):
            self.stats["batches"] = self.backend.batch_stats()
        if not hasattr(self.backend, "take_notes"):
            return
        for note in self.backend.take_notes():
            log.log(getattr(self.backend, "note_level", logging.WARNING), note)
            if servers:
                notes = self.stats.setdefault("server_notes", [])
                notes[:] = (notes + [note])[-20:]  # the latest; a flapping server must not grow stats.json
            show = getattr(track, "note", None)
            if show is not None:
                show(note)
            if bar is not None:
                bar.set_postfix_str(note[:80], refresh=False)

    def _chunked(self, todo: list[int], call):
        chunk = max(1, int(getattr(self.backend, "chunk_size", 16)))
        for start in range(0, len(todo), chunk):
            idx = todo[start:start + chunk]
            t0 = time.perf_counter()
            outs = call(idx)
            yield list(zip(idx, outs)), time.perf_counter() - t0

    def _streamed(self, todo: list[int], keys: list[str], stream):
        """Batches of (index, completion) as the backend delivers them; seconds = wall time
        since the previous batch, so the sum is the time spent waiting on the model. An empty
        batch is the backend's way to have its notes shown while it waits (a batch polled)."""
        if not todo:
            return
        extra = {"keys": [keys[i] for i in todo]} if getattr(self.backend, "wants_cache_keys", False) else {}
        t0 = time.perf_counter()
        for batch in stream(todo, **extra):
            now = time.perf_counter()
            yield [(todo[pos], c) for pos, c in batch], now - t0
            t0 = time.perf_counter()

    def generate(self, prompts: list[Messages], gen: GenParams = GenParams(), sample_index: int = 0) -> list[Completion]:
        """Completions in prompt order; cached ones cost no model call."""
        requests = [(p, gen, sample_index) for p in prompts]
        each = getattr(self.backend, "generate_each", None)
        stream = (lambda idx, **keys: each([prompts[i] for i in idx], gen, **keys)) if each is not None else None
        return self._cached(requests, lambda idx: self.backend.generate([prompts[i] for i in idx], gen), stream=stream)

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[dict[str, float] | None]:
        """Probability the model gives each choice as its whole reply (None where the backend
        cannot tell, e.g. a server without logprobs). Cached like generation, as JSON text."""
        if not hasattr(self.backend, "choice_probs"):
            return [None] * len(prompts)
        kind = "choices:" + "|".join(choices)
        requests = [(p, GenParams(max_new_tokens=1), 0, kind) for p in prompts]

        def as_completion(p):  # no probabilities is a failed item: not cached, asked again next time
            if isinstance(p, Completion):  # failed with its own reason (a batch line that failed)
                return p
            if p is None:
                return Completion(None, error="no probabilities")
            # a server's ChoiceProbs carries the call's usage: counted and cached like a generation's
            return Completion(json.dumps(p), prompt_tokens=getattr(p, "prompt_tokens", 0),
                              completion_tokens=getattr(p, "completion_tokens", 0))

        def call(idx):
            return [as_completion(p) for p in self.backend.choice_probs([prompts[i] for i in idx], choices)]

        each = getattr(self.backend, "choice_probs_each", None)
        stream = None if each is None else (lambda idx, **keys: (
            [(pos, as_completion(p)) for pos, p in batch] for batch in each([prompts[i] for i in idx], choices, **keys)))
        out = self._cached(requests, call, count_errors=False, stream=stream, task="score")
        return [json.loads(c.text) if c.ok else None for c in out]

    def continuation_losses(self, contexts: list[list[int]], continuations: list[list[int]]) -> list[float]:
        """Mean loss of each continuation's tokens after its context (token ids; IFD's two
        sides), cached and counted like generation: a loss is a pure function of the model and
        the tokens, so a resumed 04_difficulty does not recompute it."""
        if not hasattr(self.backend, "continuation_losses"):
            raise BackendError(f"{self.model_id} cannot score token losses; IFD needs a local model (embedded, hf:... or vllm:...)")
        requests = [([{"role": "context", "content": json.dumps(c)}, {"role": "continuation", "content": json.dumps(a)}],
                     _LOSS, 0, "loss") for c, a in zip(contexts, continuations)]

        def call(idx):
            losses = self.backend.continuation_losses([contexts[i] for i in idx], [continuations[i] for i in idx])
            return [Completion(json.dumps(x), prompt_tokens=len(contexts[i]) + len(continuations[i]))
                    for i, x in zip(idx, losses)]

        return [json.loads(c.text) for c in self._cached(requests, call, task="score")]


def _bar(task: str, total: int, done: int):
    """A tqdm bar for JupyterLab and terminals; none for a call that fits in one step."""
    if total - done < 2:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=task, unit="item", leave=False)
