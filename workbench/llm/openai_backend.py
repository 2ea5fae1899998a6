"""OpenAI-compatible servers (vLLM, Ollama, llama.cpp server, hosted APIs).

Bounded concurrency, and our own retry loop (the client's is switched off) so the policy
is visible and testable: 429, 5xx, timeouts and refused connections are retried with
exponential backoff, honouring Retry-After; other errors fail the item at once. An item
that still fails, or whose reply is not the shape the protocol promises (no choices, a
null message, non-text content, a body that is not JSON), comes back as
Completion(text=None, error=...) so the stage records it and goes on: a server never
crashes a stage.

One attempt (`attempt`) is kept apart from the retry loop (`send`), so a pool of servers
(multi.py) can send the next attempt of a failed request to another server.

Requests go through `http_json.JsonClient` (standard library, kept-alive connections), not
the openai SDK, whose per-call CPU cost was the bottleneck of a 50K-item run.
`request_timeout` is a total deadline per request, however slowly a server drips its reply.

The API key is read from the environment and never stored: its value is scrubbed from
every error and reply text before they leave this module (servers echo keys in errors).
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from workbench.llm.base import ChoiceProbs, Completion, GenParams, Messages
from workbench.llm.http_json import ConnectionFailed, JsonClient, RequestTimeout
from workbench.llm.openai_replies import choice_probs_of, reply_text, shorten, usage_tokens

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


@dataclass(frozen=True)
class Attempt:
    """One request sent once: the reply, or why not and whether sending it again may help."""
    reply: dict | None = None
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None  # the server's Retry-After, seconds
    server_fault: bool = False  # unreachable, timed out or 5xx: counts against the server's health

    @property
    def ok(self) -> bool:
        return self.reply is not None


class OpenAIBackend:
    def __init__(self, model: str, base_url: str, api_key_env: str = "OPENAI_API_KEY",
                 max_concurrency: int = 8, max_retries: int = 5, timeout: float = 120.0,
                 backoff_base: float = 1.0, backoff_max: float = 60.0, sleep=time.sleep):
        self.model = model
        self.base_url = base_url
        self.model_id = f"openai:{model}@{base_url}"
        # the answer depends on the model and the request, not on which server was asked: a
        # resume through other servers (or a router) reuses every cached reply
        self.cache_id = f"openai:{model}"
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

    # -- requests and what their replies mean ------------------------------------------------

    def completion_request(self, messages: Messages, gen: GenParams) -> dict:
        return self._request(messages=messages, max_tokens=gen.max_new_tokens, temperature=gen.temperature,
                             top_p=gen.top_p, seed=gen.seed)

    def probs_request(self, messages: Messages) -> dict:
        # a few greedy tokens, so the token after the first is seen too: "1" then "0" is the
        # rating 10, "1" then "." opens a numbered list (see openai_replies.whole_reply_probs)
        return self._request(messages=messages, max_tokens=4, temperature=0.0, logprobs=True, top_logprobs=20)

    def _request(self, **fields) -> dict:
        return {"model": self.model, **{k: v for k, v in fields.items() if v is not None}}

    def completion_from(self, reply: dict) -> Completion:
        text, why = reply_text(reply)
        if why:
            return Completion(None, error=why)
        prompt_tokens, completion_tokens = usage_tokens(reply)
        return Completion(self.scrub(text.strip()), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    def probs_from(self, reply: dict, choices: list[str]) -> ChoiceProbs | None:
        return choice_probs_of(reply, choices)

    # -- batches, one server ---------------------------------------------------------------

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(lambda m: self._guarded(self._one, m, gen), prompts))

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[dict[str, float] | None]:
        """P(the whole reply is c) per choice, from the server's top logprobs, with the call's
        token usage (ChoiceProbs); None where it has none (the caller then parses generated
        text). Retried like generation."""
        def one(messages):
            r, _ = self.send(self.probs_request(messages))
            return self.probs_from(r, choices) if r is not None else None

        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(lambda m: self._guarded(one, m, None), prompts))

    def _guarded(self, func, messages, arg):
        """func(messages, arg), with any surprise turned into a failed item instead of a crash."""
        try:
            return func(messages) if arg is None else func(messages, arg)
        except Exception as e:
            error = self.scrub(f"unexpected reply: {type(e).__name__}: {shorten(str(e))}")
            return None if arg is None else Completion(None, error=error)

    def _one(self, messages: Messages, gen: GenParams) -> Completion:
        r, error = self.send(self.completion_request(messages, gen))
        return Completion(None, error=error) if r is None else self.completion_from(r)

    # -- one request: attempts and the retry policy -----------------------------------------

    def attempt(self, request: dict) -> Attempt:
        """Send one chat-completions request once; errors come back scrubbed of the key."""
        try:
            status, headers, body = self.client.post("/chat/completions", request)
        except RequestTimeout as e:
            return Attempt(error=f"timed out: {e}", retryable=True, server_fault=True)
        except ConnectionFailed as e:
            return Attempt(error=self.scrub(f"connection failed: {shorten(str(e))}"), retryable=True, server_fault=True)
        if status == 200:
            try:
                return Attempt(reply=json.loads(body))
            except ValueError as e:  # malformed JSON and other protocol breakage: not retryable
                return Attempt(error=self.scrub(f"server reply is not JSON ({type(e).__name__}): "
                                                f"{shorten(body.decode('utf-8', 'replace'), 80)}"))
        # the body may echo the key
        error = self.scrub(f"HTTP {status}: {shorten(_error_message(body))}")
        if status not in RETRY_STATUS:
            return Attempt(error=error)
        # 429 and 409 say "busy", not "broken": retried, but the server stays in rotation
        return Attempt(error=error, retryable=True, retry_after=retry_after_seconds(headers),
                       server_fault=status >= 500 or status == 408)

    def backoff_seconds(self, retry: int, retry_after: float | None = None) -> float:
        """The wait before retry number `retry` (0-based): the server's Retry-After, else
        exponential backoff with jitter; never more than backoff_max."""
        if retry_after is None:
            retry_after = min(self.backoff_max, self.backoff_base * 2**retry) * random.uniform(0.5, 1.0)
        return min(retry_after, self.backoff_max)

    def send(self, request: dict) -> tuple[dict | None, str | None]:
        """One request with the retry policy, all on this server: (reply, None) or (None, error)."""
        last = ""
        for attempt in range(self.max_retries + 1):
            result = self.attempt(request)
            if not result.retryable:
                return result.reply, result.error
            last = result.error
            if attempt == self.max_retries:
                break
            self.retries += 1
            self.sleep(self.backoff_seconds(attempt, result.retry_after))
        return None, gave_up(self.max_retries + 1, last)


def gave_up(attempts: int, last: str) -> str:
    return f"gave up after {attempts} attempts: {last}"


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
