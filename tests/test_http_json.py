"""The JSON-over-HTTP client under the OpenAI backend: reuse, stale connections, proxies."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench.llm.http_json import ConnectionFailed, JsonClient, RequestTimeout


class Server:
    """HTTP/1.1 echo server counting connections; `close_after_reply` drops each connection
    after answering without announcing it (as an idle timeout on a real server does)."""

    def __init__(self, close_after_reply=False):
        outer = self
        self.connections, self.paths = 0, []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                outer.connections += 1
                super().setup()

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.paths.append(self.path)
                data = json.dumps({"echo": json.loads(body), "auth": self.headers.get("Authorization")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                if close_after_reply:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_one_kept_alive_connection_serves_many_requests(server):
    client = JsonClient(f"http://127.0.0.1:{server.port}/v1", {"Authorization": "Bearer k"}, timeout=5)
    for i in range(20):
        status, headers, body = client.post("/chat/completions", {"n": i, "text": "привет 你好"})
        assert status == 200 and json.loads(body) == {"echo": {"n": i, "text": "привет 你好"}, "auth": "Bearer k"}
    assert server.connections == 1 and server.paths == ["/v1/chat/completions"] * 20


def test_a_connection_the_server_closed_while_idle_is_replaced_not_failed():
    s = Server(close_after_reply=True)
    try:
        client = JsonClient(f"http://127.0.0.1:{s.port}/v1", {}, timeout=5)
        for i in range(5):
            assert client.post("/x", {"n": i})[0] == 200
        assert s.connections == 5
    finally:
        s.close()


def test_http_proxy_from_the_environment_gets_the_absolute_url(server, monkeypatch):
    monkeypatch.setenv("http_proxy", f"http://user:pw@127.0.0.1:{server.port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    client = JsonClient("http://models.example:8000/v1", {}, timeout=5)
    assert client.post("/chat/completions", {})[0] == 200
    assert server.paths == ["http://models.example:8000/v1/chat/completions"]


def test_no_proxy_is_honoured(server, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    client = JsonClient(f"http://127.0.0.1:{server.port}/v1", {}, timeout=5)
    assert client.post("/x", {})[0] == 200


def test_refused_and_unresolvable_hosts_are_clear_failures():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ConnectionFailed, match="Connection ?Refused|refused"):
        JsonClient(f"http://127.0.0.1:{port}/v1", {}, timeout=2).post("/x", {})
    # .invalid never resolves (RFC 2606): the failure names the lookup, not a timeout
    with pytest.raises(ConnectionFailed, match="gaierror|Name or service not known|nodename"):
        JsonClient("http://no-such-host.invalid/v1", {}, timeout=2).post("/x", {})
    with pytest.raises(ValueError, match="http"):
        JsonClient("ftp://host/v1", {}, timeout=2)


def test_a_server_that_never_answers_hits_the_deadline():
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    held = []

    def accept_then_hang_up_late():
        conn, _ = listener.accept()  # accepts the connection, never replies ...
        held.append(conn)
        threading.Event().wait(10)  # ... and hangs up after 10 s: without a deadline the client
        conn.close()  # would see a dropped connection (ConnectionFailed), not RequestTimeout

    threading.Thread(target=accept_then_hang_up_late, daemon=True).start()
    try:
        with pytest.raises(RequestTimeout):
            JsonClient(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", {}, timeout=0.5).post("/x", {})
    finally:
        listener.close()
