"""OpenAI-compatible servers (vLLM, Ollama, llama.cpp server, hosted APIs).

Bounded concurrency, and our own retry loop (the client's is switched off) so the policy
is visible and testable: 429, 5xx, timeouts and refused connections are retried with
exponential backoff, honouring Retry-After; other errors fail the item at once. An item
that still fails comes back as Completion(text=None, error=...) so the stage can record it
and go on. The API key is read from the environment and never stored or logged.
"""

from __future__ import annotations

import email.utils
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

from .base import Completion, GenParams, Messages

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


def retry_after_seconds(headers) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), None if absent."""
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class OpenAIBackend:
    def __init__(self, model: str, base_url: str, api_key_env: str = "OPENAI_API_KEY",
                 max_concurrency: int = 8, max_retries: int = 5, timeout: float = 120.0,
                 backoff_base: float = 1.0, backoff_max: float = 60.0):
        import openai

        self._openai = openai
        self.model = model
        self.model_id = f"openai:{model}@{base_url}"
        self.max_concurrency = max_concurrency
        self.chunk_size = max_concurrency * 4
        self.max_retries = max_retries
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        # local servers accept any key; hosted ones need the env var set
        key = os.environ.get(api_key_env) or "not-set"
        self.client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=timeout)
        self.retries = 0  # total retries made, for stats and tests

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(lambda m: self._one(m, gen), prompts))

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[dict[str, float] | None]:
        """First-token probabilities from the server's top logprobs; None where it has none
        (the caller then parses generated text). A choice the tokenizer splits (e.g. "10")
        is only seen through its first token. Retried like generation."""
        def one(messages):
            r, _ = self._create(messages=messages, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=20)
            return _first_token_probs(r, choices) if r is not None else None

        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(one, prompts))

    def _one(self, messages: Messages, gen: GenParams) -> Completion:
        r, error = self._create(messages=messages, max_tokens=gen.max_new_tokens, temperature=gen.temperature,
                                top_p=gen.top_p, seed=gen.seed)
        if r is None:
            return Completion(None, error=error)
        if not getattr(r, "choices", None):
            return Completion(None, error="server returned no choices")
        text = r.choices[0].message.content
        if text is None:
            return Completion(None, error="server returned a choice without content")
        usage = getattr(r, "usage", None)
        return Completion(text.strip(), prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                          completion_tokens=getattr(usage, "completion_tokens", 0) or 0)

    def _create(self, **request):
        """One chat-completions request with the retry policy: -> (response, None) or (None, error)."""
        openai = self._openai
        last = ""
        for attempt in range(self.max_retries + 1):
            wait = None
            try:
                return self.client.chat.completions.create(model=self.model, **request), None
            except openai.APIStatusError as e:
                # str(e) carries status and body, never the request headers (the key)
                last = f"HTTP {e.status_code}: {_short(e.message)}"
                if e.status_code not in RETRY_STATUS:
                    return None, last
                wait = retry_after_seconds(e.response.headers)
            except (openai.APITimeoutError, openai.APIConnectionError) as e:
                last = f"{type(e).__name__}: {_short(str(e))}"
            except Exception as e:  # malformed JSON and other protocol breakage: not retryable
                return None, f"{type(e).__name__}: {_short(str(e))}"
            if attempt == self.max_retries:
                break
            if wait is None:
                wait = min(self.backoff_max, self.backoff_base * 2**attempt) * random.uniform(0.5, 1.0)
            self.retries += 1
            time.sleep(min(wait, self.backoff_max))
        return None, f"gave up after {self.max_retries + 1} attempts: {last}"


def _first_token_probs(response, choices: list[str]) -> dict[str, float] | None:
    import math

    try:
        top = response.choices[0].logprobs.content[0].top_logprobs
    except (AttributeError, IndexError, TypeError):
        return None
    if not top:
        return None
    probs = dict.fromkeys(choices, 0.0)
    for t in top:
        token = t.token.strip()
        if token in probs:
            probs[token] += math.exp(t.logprob)
    return probs


def _short(text: str, n: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n] + "…"
