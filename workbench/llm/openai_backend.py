"""OpenAI-compatible servers (vLLM, Ollama, llama.cpp server, hosted APIs).

Bounded concurrency, and our own retry loop (the client's is switched off) so the policy
is visible and testable: 429, 5xx, timeouts and refused connections are retried with
exponential backoff, honouring Retry-After; other errors fail the item at once. An item
that still fails, or whose reply is not the shape the protocol promises (no choices, a
null message, non-text content, a body that is not JSON), comes back as
Completion(text=None, error=...) so the stage records it and goes on: a server never
crashes a stage.

Requests go through `http_json.JsonClient` (standard library, kept-alive connections), not
the openai SDK, whose per-call CPU cost was the bottleneck of a 50K-item run.
`request_timeout` is a total deadline per request, however slowly a server drips its reply.

The API key is read from the environment and never stored: its value is scrubbed from
every error and reply text before they leave this module (servers echo keys in errors).
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

from workbench.llm.base import Completion, GenParams, Messages
from workbench.llm.http_json import ConnectionFailed, JsonClient, RequestTimeout

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
KEY_REMOVED = "[API key removed]"


def retry_after_seconds(headers) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent or unreadable."""
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date; "soon" and other junk raise here, and then we use our own backoff
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class OpenAIBackend:
    def __init__(self, model: str, base_url: str, api_key_env: str = "OPENAI_API_KEY",
                 max_concurrency: int = 8, max_retries: int = 5, timeout: float = 120.0,
                 backoff_base: float = 1.0, backoff_max: float = 60.0, sleep=time.sleep):
        self.model = model
        self.model_id = f"openai:{model}@{base_url}"
        self.max_concurrency = max_concurrency
        self.chunk_size = max_concurrency * 4
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.sleep = sleep  # the wait between attempts; tests pass a recorder
        # local servers accept any key; hosted ones need the env var set
        key = os.environ.get(api_key_env) or ""
        self._secret = key if len(key) >= 4 else None
        self.client = JsonClient(base_url, {"Authorization": f"Bearer {key or 'not-set'}"}, timeout,
                                 max_idle=max_concurrency)
        self.retries = 0  # total retries made, for stats and tests

    def scrub(self, text: str | None) -> str | None:
        """text with the API key's value replaced: nothing we return may carry it to disk."""
        if text is None or not self._secret:
            return text
        return text.replace(self._secret, KEY_REMOVED)

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(lambda m: self._guarded(self._one, m, gen), prompts))

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[dict[str, float] | None]:
        """P(the whole reply is c) per choice, from the server's top logprobs; None where it has
        none (the caller then parses generated text). Retried like generation.

        A few tokens are generated greedily, so the distribution of the token after the first
        one is seen too: "1" then "0" is the rating 10, "1" then "." opens a numbered list and
        is no rating at all. See `whole_reply_probs` for what is counted."""
        def one(messages):
            r, _ = self._create(messages=messages, max_tokens=4, temperature=0.0, logprobs=True, top_logprobs=20)
            return whole_reply_probs(r, choices) if r is not None else None

        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(lambda m: self._guarded(one, m, None), prompts))

    def _guarded(self, func, messages, arg):
        """func(messages, arg), with any surprise turned into a failed item instead of a crash."""
        try:
            return func(messages) if arg is None else func(messages, arg)
        except Exception as e:
            error = self.scrub(f"unexpected reply: {type(e).__name__}: {_short(str(e))}")
            return None if arg is None else Completion(None, error=error)

    def _one(self, messages: Messages, gen: GenParams) -> Completion:
        r, error = self._create(messages=messages, max_tokens=gen.max_new_tokens, temperature=gen.temperature,
                                top_p=gen.top_p, seed=gen.seed)
        if r is None:
            return Completion(None, error=error)
        text, why = reply_text(r)
        if why:
            return Completion(None, error=why)
        usage = r.get("usage") if isinstance(r.get("usage"), dict) else {}
        return Completion(self.scrub(text.strip()), prompt_tokens=_count(usage.get("prompt_tokens", 0)),
                          completion_tokens=_count(usage.get("completion_tokens", 0)))

    def _create(self, **request):
        """One chat-completions request with the retry policy: -> (reply dict, None) or (None, error)."""
        last = ""
        request = {"model": self.model, **{k: v for k, v in request.items() if v is not None}}
        for attempt in range(self.max_retries + 1):
            wait = None
            try:
                status, headers, body = self.client.post("/chat/completions", request)
            except RequestTimeout as e:
                last = f"timed out: {e}"
            except ConnectionFailed as e:
                last = f"connection failed: {_short(str(e))}"
            else:
                if status == 200:
                    try:
                        return json.loads(body), None
                    except ValueError as e:  # malformed JSON and other protocol breakage: not retryable
                        return None, self.scrub(f"server reply is not JSON ({type(e).__name__}): "
                                                f"{_short(body.decode('utf-8', 'replace'), 80)}")
                # the body may echo the key: scrubbed below, with every other message
                last = f"HTTP {status}: {_short(_error_message(body))}"
                if status not in RETRY_STATUS:
                    return None, self.scrub(last)
                wait = retry_after_seconds(headers)
            if attempt == self.max_retries:
                break
            if wait is None:
                wait = min(self.backoff_max, self.backoff_base * 2**attempt) * random.uniform(0.5, 1.0)
            self.retries += 1
            self.sleep(min(wait, self.backoff_max))
        return None, self.scrub(f"gave up after {self.max_retries + 1} attempts: {last}")


def _error_message(body: bytes) -> str:
    """The server's error message: error.message of a JSON body, else the body's text."""
    text = body.decode("utf-8", "replace")
    try:
        err = json.loads(text).get("error")
    except (ValueError, AttributeError):
        return text
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        return err["message"]
    return text


def reply_text(response) -> tuple[str | None, str | None]:
    """(text, None) from a chat completion, or (None, why) when the reply is not the promised shape."""
    if not isinstance(response, dict):  # e.g. a JSON string where an object was promised
        return None, f"server reply is not a JSON object: {_short(str(response), 80)}"
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        return None, "server returned no choices"
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        return None, "server returned a choice without a message"
    text = message.get("content")
    if text is None:
        return None, "server returned a choice without content"
    if not isinstance(text, str):
        return None, f"server returned content of type {type(text).__name__}, not text"
    return text, None


def _positions(response) -> tuple[list[tuple[str, float, dict[str, float]]], bool] | None:
    """[(chosen token, its probability, {top token: probability})] per generated token, and
    whether the reply ended by itself after them; None when the server sent no logprobs."""
    choice = response["choices"][0]
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    positions = []
    for pos in content:
        top = {t["token"]: math.exp(t["logprob"]) for t in (pos.get("top_logprobs") or [])}
        positions.append((pos["token"], math.exp(pos["logprob"]), top))
    return positions, choice.get("finish_reason") == "stop"


def _continues(text: str, token: str) -> bool:
    """Does `token` carry on the word or number `text`? "1"+"0" -> 10, "A"+"nswer", "1"+"." -> a list."""
    if not token:
        return False  # an empty or end-of-reply token ends it
    first = token[0]
    return first.isalnum() or first == "_" or (text[-1:].isdigit() and first in ".)")


def _stop_prob(positions, k: int, finished: bool, text: str) -> float | None:
    """P(the reply stops after `text`, read from position k); None where that was not seen."""
    if k < len(positions):
        carry_on = sum(p for t, p in positions[k][2].items() if _continues(text, t))
        return max(0.0, 1.0 - carry_on)
    return 1.0 if finished else None


def whole_reply_probs(response, choices: list[str]) -> dict[str, float] | None:
    """P(the reply is exactly c), walking the greedy tokens.

    A choice reached on the greedy path counts with the probability that the reply stops
    right after it (end of reply or a token that is not a letter or digit; "." and ")"
    after a digit carry on a numbered list). A choice off the greedy path counts in full,
    unless a longer choice starts with it ("1" may be the start of "10"): then it is not
    counted, and the lower total mass says so. None when the reply has no logprobs.
    """
    try:
        seen = _positions(response)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None
    if seen is None:
        return None
    positions, finished = seen
    probs = dict.fromkeys(choices, 0.0)
    prefix, p_prefix = "", 1.0
    for k, (chosen, p_chosen, top) in enumerate(positions):
        for token, p in top.items():
            text = (prefix + token).strip()
            if text not in probs:
                continue
            if token == chosen:
                stop = _stop_prob(positions, k + 1, finished, text)
            elif any(c != text and c.startswith(text) for c in choices):
                stop = None
            else:
                stop = 1.0
            if stop is not None:
                probs[text] += p_prefix * p * stop
        prefix, p_prefix = prefix + chosen, p_prefix * p_chosen
        head = prefix.strip()
        if not any(c != head and c.startswith(head) for c in choices):
            break
    return probs


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _short(text: str, n: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n] + "…"
