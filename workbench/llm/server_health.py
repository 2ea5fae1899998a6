"""Which servers of a pool take requests: least-busy routing that leaves broken servers out.

Least-busy routing alone sends a server that fails fast *more* work (it is never busy), so a
dead server among live ones failed over half the items of a run. Here a server that fails
`failures_to_remove` times in a row (unreachable, timed out, 5xx) is taken out of rotation;
after `cooldown_s` one request is let through to it as a probe, and a success puts it back
(a failed probe starts the cooldown again). While every server is out, requests wait for a
probe instead of failing at once; how long they wait is their caller's retry budget.

    health = ServerHealth(["http://a/v1", "http://b/v1"], max_in_flight=8)
    k = health.acquire(avoid={0})      # a server index, or None when none took it in time
    ...                                # send the request to server k
    health.release(k, failure=None)    # or failure="connection failed: ..."

Every change of rotation is kept as a note ("server http://b/v1 out after 3 failures in a
row: connection failed: ..."), for the progress line and the stage's stats.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection

FAILURES_TO_REMOVE = 3  # failures in a row that take a server out of rotation
COOLDOWN_S = 10.0  # seconds out of rotation before a probe; a restarting server is back within a few


class ServerHealth:
    def __init__(self, urls: list[str], max_in_flight: int, failures_to_remove: int = FAILURES_TO_REMOVE,
                 cooldown_s: float = COOLDOWN_S, clock=time.monotonic):
        self.urls = list(urls)
        self.max_in_flight = max(1, max_in_flight)
        self.failures_to_remove, self.cooldown_s = failures_to_remove, cooldown_s
        self.clock = clock
        n = len(self.urls)
        self.in_flight, self.sent, self.failed = [0] * n, [0] * n, [0] * n
        self.removed = [0] * n  # times taken out of rotation
        self.in_a_row = [0] * n  # failures since the last success
        self.last_error = [""] * n
        self.out_until: list[float | None] = [None] * n  # None: in rotation; else when a probe may go
        self.probing = [False] * n
        self.notes: list[str] = []
        self._cond = threading.Condition()

    def in_rotation(self, k: int) -> bool:
        return self.out_until[k] is None

    def has_other(self, k: int) -> bool:
        """Whether a server other than k is in rotation: a retry can go there without waiting."""
        with self._cond:
            return any(self.out_until[j] is None for j in range(len(self.urls)) if j != k)

    def acquire(self, avoid: Collection[int] = (), timeout: float | None = None) -> int | None:
        """A server for one attempt, counted as in flight until release().

        A server out of rotation whose cooldown has passed gets the attempt as its probe (one
        at a time). Otherwise the least busy server in rotation with room, preferring ones not
        in `avoid` (those that already failed this request), waiting for room on one of those
        rather than going back to an avoided one. With servers in rotation but all full, this
        waits for room; with none in rotation, it waits at most `timeout` seconds
        for a probe to be due, and returns None if none was."""
        with self._cond:
            # waits are real time; `clock` (cooldowns) may be a test's
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                now = self.clock()
                k = self._due_probe(now)
                if k is not None:
                    self.probing[k] = True
                    return self._take(k)
                live = [j for j in range(len(self.urls)) if self.out_until[j] is None]
                room = [j for j in live if self.in_flight[j] < self.max_in_flight]
                # a server this request has not tried is worth waiting for, even when full: going
                # back to the one that just failed it could spend every try on a broken server
                untried = any(j not in avoid for j in live)
                preferred = [j for j in room if j not in avoid] if untried else room
                if preferred:
                    return self._take(min(preferred, key=lambda j: (self.in_flight[j], self.sent[j])))
                if live:
                    self._cond.wait(self._until_probe(now))  # full: a release or a due probe wakes us
                    continue
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                wait = self._until_probe(now)
                self._cond.wait(left if wait is None else wait if left is None else min(wait, left))

    def release(self, k: int, failure: str | None = None) -> None:
        """The attempt on server k is over: failure is its reason if the server was at fault."""
        with self._cond:
            self.in_flight[k] -= 1
            was_probe, self.probing[k] = self.probing[k], False
            if failure is None:
                self.in_a_row[k] = 0
                if self.out_until[k] is not None:
                    self.out_until[k] = None
                    self.notes.append(f"server {self.urls[k]} back in rotation")
            else:
                self.failed[k] += 1
                self.in_a_row[k] += 1
                self.last_error[k] = failure
                if was_probe:
                    self.out_until[k] = self.clock() + self.cooldown_s  # still broken: wait again
                elif self.out_until[k] is None and self.in_a_row[k] >= self.failures_to_remove:
                    self.out_until[k] = self.clock() + self.cooldown_s
                    self.removed[k] += 1
                    self.notes.append(f"server {self.urls[k]} out after {self.in_a_row[k]} failures in a row: "
                                      f"{failure}")
            self._cond.notify_all()

    def why_none(self) -> str:
        """The reason a request got no server: every one is out, with what each last said."""
        with self._cond:
            return "every server out of rotation (" + "; ".join(
                f"{u}: {e or 'no reply'}" for u, e in zip(self.urls, self.last_error)) + ")"

    def stats(self) -> list[dict]:
        """Per server: requests sent, failed at the server's fault, times taken out, and whether it is in now."""
        with self._cond:
            return [{"url": u, "sent": self.sent[j], "failed": self.failed[j], "removed": self.removed[j],
                     "in_rotation": self.out_until[j] is None} for j, u in enumerate(self.urls)]

    def _take(self, k: int) -> int:
        self.in_flight[k] += 1
        self.sent[k] += 1
        return k

    def _due_probe(self, now: float) -> int | None:
        due = [j for j in range(len(self.urls))
               if self.out_until[j] is not None and not self.probing[j] and self.out_until[j] <= now]
        return min(due, key=lambda j: self.out_until[j]) if due else None

    def _until_probe(self, now: float) -> float | None:
        """Seconds until the next probe may go; None when none is pending (a probe in flight
        wakes the waiters when it is released)."""
        times = [t for j, t in enumerate(self.out_until) if t is not None and not self.probing[j]]
        return max(0.0, min(times) - now) if times else None
