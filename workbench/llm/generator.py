"""The one object stages call: cache in front of a backend, with call statistics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from .base import Backend, Completion, GenParams, Messages
from .cache import ResponseCache, cache_key


class Generator:
    def __init__(self, backend: Backend, cache: ResponseCache | None = None):
        self.backend = backend
        self.cache = cache
        self.stats = {
            "model": backend.model_id, "calls": 0, "cache_hits": 0, "errors": 0,
            "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0,
        }

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    def _cached(self, keys: list[str], call: Callable[[list[int]], list[Completion]],
                count_errors: bool = True) -> list[Completion]:
        """Look every key up; send the misses to `call` one chunk at a time and cache each chunk
        as soon as it returns, so a kill in a long list loses at most one chunk of work."""
        results: list[Completion | None] = [None] * len(keys)
        if self.cache is not None:
            hits = self.cache.get_many(list(dict.fromkeys(keys)))
            for i, k in enumerate(keys):
                if k in hits:
                    results[i] = hits[k]
                    self.stats["cache_hits"] += 1
        todo = [i for i, r in enumerate(results) if r is None]
        chunk = max(1, int(getattr(self.backend, "chunk_size", 16)))
        for start in range(0, len(todo), chunk):
            idx = todo[start:start + chunk]
            t0 = time.perf_counter()
            outs = call(idx)
            self.stats["seconds"] += time.perf_counter() - t0
            self.stats["calls"] += len(idx)
            for i, c in zip(idx, outs):
                results[i] = c
                self.stats["prompt_tokens"] += c.prompt_tokens
                self.stats["completion_tokens"] += c.completion_tokens
                self.stats["errors"] += 0 if c.ok or not count_errors else 1
            if self.cache is not None:
                self.cache.put_many(self.model_id, [(keys[i], results[i]) for i in idx])
        return results  # type: ignore[return-value]

    def generate(self, prompts: list[Messages], gen: GenParams = GenParams(), sample_index: int = 0) -> list[Completion]:
        """Completions in prompt order; cached ones cost no model call."""
        keys = [cache_key(self.model_id, p, gen, sample_index) for p in prompts]
        return self._cached(keys, lambda idx: self.backend.generate([prompts[i] for i in idx], gen))

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[dict[str, float] | None]:
        """Probability the model gives each choice as its whole reply (None where the backend
        cannot tell, e.g. a server without logprobs). Cached like generation, as JSON text."""
        if not hasattr(self.backend, "choice_probs"):
            return [None] * len(prompts)
        kind = "choices:" + "|".join(choices)
        keys = [cache_key(self.model_id, p, GenParams(max_new_tokens=1), 0, kind) for p in prompts]

        def call(idx):
            probs = self.backend.choice_probs([prompts[i] for i in idx], choices)
            # no probabilities is a failed item: not cached, asked again next time
            return [Completion(json.dumps(p)) if p is not None else Completion(None, error="no probabilities")
                    for p in probs]

        out = self._cached(keys, call, count_errors=False)
        return [json.loads(c.text) if c.ok else None for c in out]

    def ask(self, text: str, gen: GenParams = GenParams()) -> Completion:
        return self.generate([[{"role": "user", "content": text}]], gen)[0]
