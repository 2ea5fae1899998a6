"""A loopback server speaking the OpenAI chat-completions protocol, for tests only.

It answers like a very obliging model (evolutions append a clause, judges say Not Equal,
answers are a fixed sentence) and injects faults on request: `faults` maps the n-th request
(1-based) to a status code, "timeout", "malformed" or "empty".
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def obliging_reply(prompt: str) -> str:
    if "<<Second Task>>" in prompt:
        return "Not Equal"
    if "<<New Task>>" in prompt:
        original = prompt.split("<<Original Task>>")[1].split("<<New Task>>")[0].strip()
        return f"{original} Explain your reasoning in three numbered steps."
    return "Here is a complete and careful answer that addresses every part of the request in detail."


class StubServer:
    def __init__(self, faults: dict | None = None, fail_every: int = 0, fail_status: int = 503, timeout_s: float = 3.0):
        self.faults = dict(faults or {})
        self.fail_every, self.fail_status, self.timeout_s = fail_every, fail_status, timeout_s
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with outer.lock:
                    outer.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                    n = len(outer.requests)
                fault = outer.faults.get(n)
                if fault is None and outer.fail_every and n % outer.fail_every == 0:
                    fault = outer.fail_status
                if fault == "timeout":
                    time.sleep(outer.timeout_s)
                    return
                if fault == "malformed":
                    return self._send(200, b'{"id": "x", "choices": [ {"message": ')
                if isinstance(fault, int):
                    return self._send(fault, json.dumps({"error": {"message": f"injected {fault}"}}).encode(),
                                      {"Retry-After": "0"} if fault == 429 else {})
                text = obliging_reply(body["messages"][-1]["content"])
                choices = [] if fault == "empty" else [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
                payload = {"id": f"c{n}", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": choices, "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()),
                                                         "total_tokens": 10 + len(text.split())}}
                self._send(200, json.dumps(payload).encode())

            def _send(self, status, data, headers=None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
