"""JSON over HTTP(S) for the OpenAI-compatible backend: kept-alive connections, a total deadline.

Why not the openai SDK: at 64 requests in flight it spent ~2 ms of CPU per call building and
validating objects, more than the whole per-item budget of a 50K-item run on two cores (see
bench/scale.py); the standard library's http.client does the same request in ~0.25 ms.

    client = JsonClient("http://127.0.0.1:8000/v1", {"Authorization": "Bearer ..."}, timeout=120)
    status, headers, body = client.post("/chat/completions", {"model": "m", "messages": [...]})

`timeout` is a total deadline per request: before every socket read and write the socket gets
only the time left, so a server that drips one byte a second fails at the deadline instead of
never. Idle connections are kept for reuse (any thread); a reused connection the server has
closed meanwhile is retried once on a fresh one. HTTP(S)_PROXY and NO_PROXY are honoured.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import queue
import time
import urllib.parse
import urllib.request


class RequestTimeout(Exception):
    """The request's total deadline passed."""


class ConnectionFailed(Exception):
    """The server could not be reached, or dropped the connection."""


class _DeadlineSocket:
    """A socket whose every read and write may take only the time left before the deadline."""

    def __init__(self, sock):
        self._sock = sock
        self.deadline = None
        self._readers = 0  # like socket.makefile: the fd stays open while a reader is
        self._closing = False

    def _arm(self) -> None:
        if self.deadline is None:
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RequestTimeout("the request's total deadline (run.request_timeout) has passed")
        self._sock.settimeout(left)

    def sendall(self, data) -> None:
        self._arm()
        self._sock.sendall(data)

    def recv_into(self, buffer, nbytes: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes)

    def makefile(self, mode: str = "rb", *args, **kwargs):
        self._readers += 1
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        # http.client closes the connection as soon as it sees "Connection: close", while the
        # response is still being read from the file: close the fd when the last reader is done
        self._closing = True
        if self._readers == 0:
            self._sock.close()

    def _reader_closed(self) -> None:
        self._readers -= 1
        if self._closing and self._readers == 0:
            self._sock.close()

    def __getattr__(self, name):  # close, shutdown, fileno, settimeout...
        return getattr(self._sock, name)


class _Reader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket):
        self._s = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._s.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._s._reader_closed()
        super().close()


def _deadline_connection(base: type):
    class Connection(base):
        def connect(self):
            super().connect()
            self.sock = _DeadlineSocket(self.sock)
    return Connection


_HTTP = _deadline_connection(http.client.HTTPConnection)
_HTTPS = _deadline_connection(http.client.HTTPSConnection)


class JsonClient:
    def __init__(self, base_url: str, headers: dict, timeout: float, max_idle: int = 64):
        url = urllib.parse.urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"base URL {base_url!r} must start with http:// or https://")
        self.https = url.scheme == "https"
        self.host, self.port = url.hostname, url.port or (443 if self.https else 80)
        self.prefix = url.path.rstrip("/")
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "Accept": "application/json",
                        "User-Agent": "evol-instruct-workbench", **headers}
        self.proxy = _proxy_for(url)
        self._idle: queue.LifoQueue = queue.LifoQueue(maxsize=max_idle)

    def _new_connection(self):
        if self.proxy is None:
            return (_HTTPS if self.https else _HTTP)(self.host, self.port, timeout=self.timeout)
        proxy, auth = self.proxy
        if self.https:  # a CONNECT tunnel through the proxy, TLS to the server inside it
            conn = _HTTPS(proxy.hostname, proxy.port or 80, timeout=self.timeout)
            conn.set_tunnel(self.host, self.port, headers=auth)
            return conn
        return _HTTP(proxy.hostname, proxy.port or 80, timeout=self.timeout)

    def _target(self, path: str) -> str:
        if self.proxy is not None and not self.https:  # a plain-HTTP proxy takes the absolute URL
            return f"http://{self.host}:{self.port}{self.prefix}{path}"
        return self.prefix + path

    def post(self, path: str, payload: dict) -> tuple[int, dict, bytes]:
        """(status, lower-cased headers, body) of one POST; RequestTimeout or ConnectionFailed."""
        body = json.dumps(payload).encode()
        deadline = time.monotonic() + self.timeout
        headers = dict(self.headers, **(self.proxy[1] if self.proxy and not self.https else {}))
        for fresh_try in (False, True):
            try:
                conn, reused = self._idle.get_nowait(), True
            except queue.Empty:
                conn, reused = self._new_connection(), False
            try:
                conn.timeout = max(0.001, deadline - time.monotonic())  # for connect
                if conn.sock is not None:
                    conn.sock.deadline = deadline
                conn.putrequest("POST", self._target(path), skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                conn.putheader("Content-Length", str(len(body)))
                conn.endheaders()
                conn.sock.deadline = deadline  # set after a fresh connect too
                conn.send(body)
                resp = conn.getresponse()
                data = resp.read()
            except RequestTimeout:
                conn.close()
                raise
            except TimeoutError as e:
                conn.close()
                raise RequestTimeout(f"no reply within {self.timeout:g}s ({e})") from None
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                if time.monotonic() >= deadline:
                    raise RequestTimeout(f"no reply within {self.timeout:g}s") from None
                if reused and not fresh_try:
                    continue  # the server closed an idle kept-alive connection: not a failure
                raise ConnectionFailed(f"{type(e).__name__}: {e}") from None
            if resp.will_close:
                conn.close()
            else:
                conn.sock.deadline = None
                try:
                    self._idle.put_nowait(conn)
                except queue.Full:
                    conn.close()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _proxy_for(url: urllib.parse.SplitResult):
    """(proxy URL, its auth headers) when the environment routes this URL through a proxy."""
    proxy = urllib.request.getproxies().get(url.scheme)
    if not proxy or urllib.request.proxy_bypass(url.hostname):
        return None
    parsed = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    auth = {}
    if parsed.username:
        token = base64.b64encode(f"{urllib.parse.unquote(parsed.username)}:"
                                 f"{urllib.parse.unquote(parsed.password or '')}".encode()).decode()
        auth["Proxy-Authorization"] = f"Basic {token}"
    return parsed, auth
