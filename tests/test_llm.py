import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fakes import FakeBackend

from workbench.llm import BackendError, Generator, GenParams, check_model_string, parse_model_string
from workbench.llm.cache import ResponseCache, cache_key
from workbench.llm.openai_backend import OpenAIBackend, retry_after_seconds

MSG = [{"role": "user", "content": "hello"}]


def test_model_strings():
    assert parse_model_string("embedded") == ("embedded", "", None)
    assert parse_model_string("hf:HuggingFaceTB/SmolLM2-360M") == ("hf", "HuggingFaceTB/SmolLM2-360M", None)
    assert parse_model_string("openai:qwen@http://127.0.0.1:8000/v1") == ("openai", "qwen", "http://127.0.0.1:8000/v1")
    for bad in ("gpt-4", "openai:gpt-4", "openai:@http://x", "mlx:x"):
        with pytest.raises(BackendError):
            parse_model_string(bad)
    assert "not found" in check_model_string("hf:./no/such/model")


def test_cache_key_covers_model_prompt_params_and_sample():
    base = cache_key("m", MSG, GenParams(), 0)
    assert base == cache_key("m", [dict(MSG[0])], GenParams(), 0)
    assert len({base, cache_key("m2", MSG, GenParams(), 0),
                cache_key("m", [{"role": "user", "content": "hello!"}], GenParams(), 0),
                cache_key("m", MSG, GenParams(temperature=0.7), 0),
                cache_key("m", MSG, GenParams(), 1)}) == 5


def test_generator_caches_and_counts(tmp_path):
    backend = FakeBackend()
    gen = Generator(backend, ResponseCache(tmp_path / "c.sqlite"))
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(10)]
    first = gen.generate(prompts)
    assert [c.text for c in first] == [f"echo: q{i}" for i in range(10)]
    assert backend.calls == 10 and gen.stats["calls"] == 10 and gen.stats["cache_hits"] == 0
    # a fresh generator over the same cache file (a rerun) makes no model call
    backend2 = FakeBackend()
    gen2 = Generator(backend2, ResponseCache(tmp_path / "c.sqlite"))
    again = gen2.generate(prompts)
    assert [c.text for c in again] == [c.text for c in first] and all(c.cached for c in again)
    assert backend2.calls == 0 and gen2.stats["cache_hits"] == 10
    # a different sample index is a different call
    gen2.generate(prompts[:2], sample_index=1)
    assert backend2.calls == 2


def test_generator_commits_each_chunk_so_a_crash_keeps_finished_work(tmp_path):
    class Crashing(FakeBackend):
        def generate(self, prompts, gen):
            if self.calls >= 8:
                raise KeyboardInterrupt("killed")
            return super().generate(prompts, gen)

    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(12)]
    gen = Generator(Crashing(chunk_size=4), ResponseCache(tmp_path / "c.sqlite"))
    with pytest.raises(KeyboardInterrupt):
        gen.generate(prompts)
    backend = FakeBackend()
    Generator(backend, ResponseCache(tmp_path / "c.sqlite")).generate(prompts)
    assert backend.calls == 4  # only the chunk that never finished


def test_failed_items_are_not_cached(tmp_path):
    from workbench.llm import Completion

    class Flaky(FakeBackend):
        def generate(self, prompts, gen):
            self.calls += len(prompts)
            return [Completion(None, error="HTTP 500") for _ in prompts]

    gen = Generator(Flaky(), ResponseCache(tmp_path / "c.sqlite"))
    out = gen.generate([MSG])
    assert out[0].error == "HTTP 500" and gen.stats["errors"] == 1
    assert len(ResponseCache(tmp_path / "c.sqlite")) == 0


def test_retry_after_parsing():
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({}) is None
    assert 0 <= retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) <= 0.01


class ScriptedServer:
    """A loopback server speaking the chat-completions protocol, answering from a script."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"time": time.monotonic(), "body": json.loads(body),
                                       "auth": self.headers.get("Authorization")})
                status, headers, payload = outer.script.pop(0) if outer.script else (500, {}, {"error": "script done"})
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def ok_body(text):
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}


def test_openai_backend_retries_429_with_retry_after_then_500_then_succeeds(monkeypatch):
    monkeypatch.setenv("WB_TEST_KEY", "sk-test-secret")
    server = ScriptedServer([
        (429, {"Retry-After": "1"}, {"error": {"message": "slow down"}}),
        (500, {}, {"error": {"message": "oops"}}),
        (200, {}, ok_body("  final answer ")),
    ])
    try:
        waits = []
        backend = OpenAIBackend("m", server.url, api_key_env="WB_TEST_KEY", max_retries=3,
                                backoff_base=0.05, timeout=5, sleep=waits.append)
        [c] = backend.generate([MSG], GenParams(max_new_tokens=8))
    finally:
        server.close()
    assert c.ok and c.text == "final answer" and c.completion_tokens == 2
    assert len(server.requests) == 3 and backend.retries == 2
    # Retry-After: 1 is waited as given; the 500 that follows backs off (base 0.05, attempt 1)
    assert waits[0] == 1.0 and 0.05 <= waits[1] <= 0.1 and len(waits) == 2
    assert server.requests[0]["auth"] == "Bearer sk-test-secret"
    assert server.requests[2]["body"]["max_tokens"] == 8


def test_openai_backend_gives_up_and_reports_without_raising():
    server = ScriptedServer([(503, {}, {"error": "down"})] * 3 + [(200, {}, {"choices": []})] + [(400, {}, {"error": {"message": "bad request"}})])
    try:
        backend = OpenAIBackend("m", server.url, max_retries=2, backoff_base=0.01, timeout=5)
        [c] = backend.generate([MSG], GenParams())
        assert not c.ok and "gave up after 3 attempts" in c.error and "503" in c.error
        [c] = backend.generate([MSG], GenParams())
        assert c.error == "server returned no choices"
        [c] = backend.generate([MSG], GenParams())
        assert c.error.startswith("HTTP 400") and len(server.requests) == 5  # 400 is not retried
    finally:
        server.close()


def test_openai_backend_connection_refused_is_a_recorded_failure():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    backend = OpenAIBackend("m", f"http://127.0.0.1:{port}/v1", max_retries=1, backoff_base=0.01, timeout=2)
    [c] = backend.generate([MSG], GenParams())
    assert not c.ok and "connection failed" in c.error
