"""One process per run folder, and outputs that are writable before any work starts.

Two `--resume` of one run folder would do every model call twice and interleave their
writes. The first takes `<run>/.lock` (an flock, released by the kernel when the process
dies, even by kill -9) and writes who it is into it; the second is refused with that:

    RunBusy: outputs/runs/<run> is in use by pid 4242 on host lab-3 since 2026-01-01T10:00:00Z
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = ".lock"


class RunBusy(RuntimeError):
    pass


class NotWritable(RuntimeError):
    pass


class RunLock:
    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise RunBusy(f"{self.path.parent} is in use by {holder}; wait for it to finish or stop that "
                          "process, then resume") from None
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode() + b"\n", 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {info['pid']} on host {info['host']} since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (it has not recorded itself yet)"


def check_writable(folder: Path, what: str) -> None:
    """Create `folder` if needed and write a scratch file in it; NotWritable says why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as e:
        raise NotWritable(f"{what} {folder} is not writable ({e.strerror or e}); choose another folder "
                          "with --outputs or fix its permissions") from None


def check_cache_writable(db: Path) -> None:
    """The response cache must take writes now, not fail after the first batch of model calls."""
    from workbench.llm.cache import CacheNotWritable, ResponseCache

    check_writable(db.parent, "cache folder")
    try:
        ResponseCache(db).close()
    except CacheNotWritable as e:
        raise NotWritable(str(e)) from None
