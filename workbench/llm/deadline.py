"""A total deadline per HTTP request, which httpx does not have.

httpx's timeouts bound each socket operation, so a server that sends one byte a second
never times out: a 2 s timeout took 20 s. Here every socket connect, read and write gets
only the time left before the deadline of the request running on that thread, so the
request fails with httpx.ReadTimeout (the openai client's APITimeoutError) at the deadline:

    client = deadline_client(timeout=2.0, max_connections=8)
    with request_deadline(2.0):
        client.post(...)          # raises a timeout 2 s after it started, however it drips

The sync client does its socket work on the calling thread, hence a thread-local deadline.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import httpcore
import httpx

_local = threading.local()


@contextmanager
def request_deadline(seconds: float):
    _local.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.at = None


def _budget(timeout: float | None) -> float | None:
    """The socket timeout for one operation: the smaller of its own and the time left."""
    at = getattr(_local, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's total deadline (run.request_timeout) has passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _budget(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _budget(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _budget(timeout)))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self):
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _Stream(self._inner.connect_tcp(host, port, _budget(timeout), local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _Stream(self._inner.connect_unix_socket(path, _budget(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Transport(httpx.HTTPTransport):
    def __init__(self, max_connections: int):
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        super().__init__(limits=limits)
        # httpx takes no network backend, its connection pool does: swap in one built with ours
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=_Backend(),
        )


def deadline_client(timeout: float, max_connections: int) -> httpx.Client:
    """An httpx client whose requests respect `request_deadline` (direct connections; an
    HTTP(S)_PROXY from the environment still gets per-operation timeouts only)."""
    return httpx.Client(transport=_Transport(max_connections), timeout=timeout, follow_redirects=True)
