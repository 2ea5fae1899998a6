"""A loopback server speaking the OpenAI chat-completions protocol, for tests only.

It answers like a very obliging model (evolutions append a clause, judges say Not Equal,
answers are a fixed sentence) and injects faults on request: `faults` maps the n-th request
(1-based) to a status code, or to one of
    "timeout"         sleep timeout_s, then drop the connection
    "malformed"       a truncated JSON body
    "empty"           choices: []
    "no_choices"      a JSON body without a choices key
    "html"            200 with an HTML page (a proxy's error page)
    "int_content"     message.content is 42
    "null_message"    message: null
    "retry_soon"      429 with `Retry-After: soon` (not a number, not a date)
    "echo_key"        401 whose error message repeats the Authorization header (the key)
    "drip"            200, then the body one byte every drip_s seconds
`logprobs(body)` -> (positions, finish_reason) answers requests that ask for logprobs, with
positions [(token, logprob, [(top token, logprob), ...]), ...].
`on_request(body)` is called with each request before it is answered: a test's latency (it may
sleep, or wait for another request to arrive).
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
    def __init__(self, faults: dict | None = None, fail_every: int = 0, fail_status: int = 503, timeout_s: float = 3.0,
                 logprobs=None, drip_s: float = 1.0, on_request=None):
        self.on_request = on_request
        self.faults = dict(faults or {})
        self.fail_every, self.fail_status, self.timeout_s = fail_every, fail_status, timeout_s
        self.logprobs, self.drip_s = logprobs, drip_s
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
                if outer.on_request is not None:
                    outer.on_request(body)
                fault = outer.faults.get(n)
                if fault is None and outer.fail_every and n % outer.fail_every == 0:
                    fault = outer.fail_status
                if fault == "timeout":
                    time.sleep(outer.timeout_s)
                    return
                if fault == "malformed":
                    return self._send(200, b'{"id": "x", "choices": [ {"message": ')
                if fault == "html":
                    return self._send(200, b"<html><body>502 Bad Gateway</body></html>", content_type="text/html")
                if fault == "retry_soon":
                    return self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "soon"})
                if fault == "echo_key":
                    message = f"invalid api key: {self.headers.get('Authorization')}"
                    return self._send(401, json.dumps({"error": {"message": message}}).encode())
                if isinstance(fault, int):
                    return self._send(fault, json.dumps({"error": {"message": f"injected {fault}"}}).encode(),
                                      {"Retry-After": "0"} if fault == 429 else {})
                text = obliging_reply(body["messages"][-1]["content"])
                choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                completion_tokens = len(text.split())
                if body.get("logprobs") and outer.logprobs is not None:
                    positions, choice["finish_reason"] = outer.logprobs(body)
                    choice["message"]["content"] = "".join(t for t, _, _ in positions)
                    completion_tokens = len(positions)  # one token per position, as a real server counts
                    choice["logprobs"] = {"content": [
                        {"token": t, "logprob": lp, "bytes": None,
                         "top_logprobs": [{"token": a, "logprob": b, "bytes": None} for a, b in top]}
                        for t, lp, top in positions]}
                if fault == "int_content":
                    choice["message"]["content"] = 42
                if fault == "null_message":
                    choice["message"] = None
                payload = {"id": f"c{n}", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": [] if fault == "empty" else [choice],
                           "usage": {"prompt_tokens": 10, "completion_tokens": completion_tokens,
                                     "total_tokens": 10 + completion_tokens}}
                if fault == "no_choices":
                    del payload["choices"]
                data = json.dumps(payload).encode()
                if fault == "drip":
                    return self._drip(data)
                self._send(200, data)

            def _drip(self, data):
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    for i in range(len(data)):
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                        time.sleep(outer.drip_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, status, data, headers=None, content_type="application/json"):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
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
