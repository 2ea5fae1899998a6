"""Request pools over OpenAI-compatible servers, and the in-process vLLM backend.

    openai:<model>@http://gpu0:8000/v1,http://gpu1:8000/v1

One server per GPU is how evolution scales; `ServerPool` spreads requests over the servers
(each request goes to the one with the fewest requests in flight, so a slow server gets
fewer), keeps at most `max_concurrency` in flight per server, and yields completions as they
finish instead of waiting for a whole chunk: the generator caches them at once, so a killed
run loses almost nothing and no chunk waits for its slowest request. With one URL it is the
same backend with streaming, and the same model id (cache keys do not change).

`vllm:<path or hub name>` runs vLLM in this process (offline `LLM.generate`, automatic prefix
caching, which suits evolution prompts that are mostly template). vllm is imported only here.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from workbench.core.run_section import with_defaults
from workbench.llm.base import BackendError, Completion, GenParams, Messages


def split_urls(url: str) -> list[str]:
    urls = [u.strip() for u in url.split(",") if u.strip()]
    bad = [u for u in urls if not u.startswith(("http://", "https://"))]
    if not urls or bad:
        raise BackendError(f"base URL list {url!r}: every comma-separated entry must start with http:// or https://")
    if len(set(urls)) != len(urls):
        raise BackendError(f"base URL list {url!r} names a server twice")
    return urls


class ServerPool:
    def __init__(self, servers: list, max_concurrency: int = 8):
        """servers: OpenAIBackend instances, one per base URL, all serving the same model."""
        self.servers = servers
        self.max_concurrency = max_concurrency
        first = servers[0]
        # the model id names the model, and every server of the pool when there are several
        self.model_id = first.model_id if len(servers) == 1 else (
            f"openai:{first.model}@" + ",".join(sorted(s.model_id.partition("@")[2] for s in servers)))
        self.chunk_size = max_concurrency * 4 * len(servers)
        self.in_flight = [0] * len(servers)
        self.sent = [0] * len(servers)  # requests per server, for stats and tests
        self._lock = threading.Lock()

    @property
    def retries(self) -> int:
        return sum(s.retries for s in self.servers)

    def _pick(self) -> int:
        with self._lock:
            k = min(range(len(self.servers)), key=lambda j: (self.in_flight[j], self.sent[j]))
            self.in_flight[k] += 1
            self.sent[k] += 1
            return k

    def _call(self, fn, item):
        k = self._pick()
        try:
            return fn(self.servers[k], item)
        finally:
            with self._lock:
                self.in_flight[k] -= 1

    def _each(self, items: list, fn) -> Iterator[list[tuple[int, object]]]:
        """Run fn(server, item) for every item with bounded concurrency; yield whatever has
        finished, as (position, result) lists, as soon as it has. Workers take items from a
        shared cursor, so memory does not grow with the number of items."""
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
                    done.put((pos, self._call(fn, item)))
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

    def generate_each(self, prompts: list[Messages], gen: GenParams) -> Iterator[list[tuple[int, Completion]]]:
        for batch in self._each(prompts, lambda server, m: _one(server, m, gen)):
            yield [(pos, r if isinstance(r, Completion) else Completion(None, error=f"{type(r).__name__}: {r}"))
                   for pos, r in batch]

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        out: list[Completion | None] = [None] * len(prompts)
        for batch in self.generate_each(prompts, gen):
            for pos, c in batch:
                out[pos] = c
        return out  # type: ignore[return-value]

    def choice_probs_each(self, prompts: list[Messages], choices: list[str]) -> Iterator[list[tuple[int, dict | None]]]:
        for batch in self._each(prompts, lambda server, m: server.choice_probs([m], choices)[0]):
            yield [(pos, None if isinstance(r, BaseException) else r) for pos, r in batch]

    def choice_probs(self, prompts: list[Messages], choices: list[str]) -> list[dict[str, float] | None]:
        out: list = [None] * len(prompts)
        for batch in self.choice_probs_each(prompts, choices):
            for pos, r in batch:
                out[pos] = r
        return out


def _one(server, messages: Messages, gen: GenParams) -> Completion:
    # OpenAIBackend._one is one request with its retry policy; generate([m]) would start a
    # thread pool per request
    one = getattr(server, "_one", None)
    return one(messages, gen) if one is not None else server.generate([messages], gen)[0]


def openai_pool(model: str, url: str, run: dict) -> ServerPool:
    from workbench.llm.openai_backend import OpenAIBackend

    run = with_defaults(run)
    servers = [OpenAIBackend(model, u, api_key_env=run["api_key_env"], max_concurrency=run["max_concurrency"],
                             max_retries=run["max_retries"], timeout=run["request_timeout"])
               for u in split_urls(url)]
    return ServerPool(servers, max_concurrency=run["max_concurrency"])


class VLLMBackend:
    """vLLM in this process: the whole list goes to one `LLM.generate` call, which schedules
    it continuously and reuses shared prompt prefixes (enable_prefix_caching)."""

    def __init__(self, name_or_path: str, dtype: str = "auto", **engine_args):
        try:
            import vllm
        except ImportError:
            raise BackendError(
                "model vllm:... needs the vllm package, which runs on a GPU machine: `pip install vllm` there, "
                "or serve the model with `vllm serve` and use openai:<model>@http://host:8000/v1") from None
        self._vllm = vllm
        self.model_id = f"vllm:{name_or_path}" + ("" if dtype == "auto" else f"@{dtype}")
        self.llm = vllm.LLM(model=name_or_path, dtype=dtype, enable_prefix_caching=True, **engine_args)
        self.tokenizer = self.llm.get_tokenizer()
        self.chunk_size = 1024  # vLLM batches internally; the chunk only bounds work lost to a kill

    def render(self, messages: Messages) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def generate(self, prompts: list[Messages], gen: GenParams) -> list[Completion]:
        sampling = self._vllm.SamplingParams(
            max_tokens=gen.max_new_tokens, temperature=gen.temperature,
            top_p=gen.top_p if gen.temperature > 0 else 1.0, seed=gen.seed if gen.temperature > 0 else None)
        outs = self.llm.generate([self.render(m) for m in prompts], sampling, use_tqdm=False)
        result = []
        for o in outs:
            if not o.outputs:
                result.append(Completion(None, error="vllm returned no output"))
                continue
            best = o.outputs[0]
            result.append(Completion(best.text.strip(), prompt_tokens=len(o.prompt_token_ids or []),
                                     completion_tokens=len(best.token_ids)))
        return result
