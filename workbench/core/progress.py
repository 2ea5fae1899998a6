"""Live progress of a running stage, shown where the user is.

The notebook kernel cannot print to the `workbench run` terminal (its output goes into the
executed notebook), so the two sides talk through a small JSON file in the stage folder:

    kernel   Generator calls tracker().update(...) as chunks finish; the file is rewritten
             atomically at most a few times a second (WORKBENCH_PROGRESS names it)
    runner   with watch(stage_dir, stage): ...   polls the file and keeps one line up to date:
             [02_evolve] generate 12/16 · 48 model calls · 3 cached · 210 tok/s · ETA 0:42

On a terminal the line is redrawn in place; in a log (not a tty) a line is printed at most
every `log_every` seconds, so logs stay short. Opened in JupyterLab there is no file and the
notebook shows tqdm bars instead.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ENV = "WORKBENCH_PROGRESS"
FILENAME = ".progress.json"  # hidden: not listed among the stage's outputs


def kernel_options() -> dict:
    """Extra papermill.execute_notebook arguments: CurveZMQ keys provisioned by the kernel
    manager, so kernel traffic is encrypted and ipykernel stops warning "running over TCP
    without encryption" on every stage (the kernelspec declares curve; pyzmq ships it)."""
    try:
        import zmq
        from traitlets.config import Config
    except ImportError:
        return {}
    if not zmq.has("curve"):
        return {}
    return {"config": Config({"KernelManager": {"transport_encryption": "auto"}})}


class Tracker:
    """Kernel side: counts of the stage's model work, written to the progress file."""

    def __init__(self, path: Path | None, min_interval: float = 0.25):
        self.path = path
        self.min_interval = min_interval
        self.started = time.time()
        self._last_write = 0.0
        self.state = {"task": "", "done": 0, "total": 0, "calls": 0, "cache_hits": 0,
                      "tokens": 0, "model_seconds": 0.0, "task_started": self.started}

    def begin(self, task: str, total: int) -> None:
        self.state.update(task=task, done=0, total=total, task_started=time.time())
        self._write(force=True)

    def update(self, done: int = 0, calls: int = 0, cache_hits: int = 0, tokens: int = 0,
               model_seconds: float = 0.0) -> None:
        s = self.state
        s["done"] += done
        s["calls"] += calls
        s["cache_hits"] += cache_hits
        s["tokens"] += tokens
        s["model_seconds"] += model_seconds
        self._write(force=s["done"] >= s["total"])

    def note(self, text: str) -> None:
        """Something the line should say until the next note (a server out of rotation)."""
        self.state["note"] = text
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        now = time.time()
        if self.path is None or (not force and now - self._last_write < self.min_interval):
            return
        self._last_write = now
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(dict(self.state, updated=now)), encoding="utf-8")
            os.replace(tmp, self.path)  # the reader never sees half a file
        except OSError:
            pass  # progress is a courtesy: never fail the stage over it


_TRACKER: Tracker | None = None


def watched() -> bool:
    """Whether the runner shows this kernel's progress on its own line."""
    return bool(os.environ.get(ENV))


def tracker() -> Tracker:
    """The kernel's tracker; writes nothing unless the runner asked for progress."""
    global _TRACKER
    target = os.environ.get(ENV)
    if _TRACKER is None or (_TRACKER.path is None) != (target is None) or (
            target and _TRACKER.path != Path(target)):
        _TRACKER = Tracker(Path(target) if target else None)
    return _TRACKER


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def format_line(stage: str, state: dict, now: float | None = None) -> str:
    """One line from a progress state. Rates and ETA only when they can be computed."""
    now = time.time() if now is None else now
    parts = []
    done, total = state.get("done", 0), state.get("total", 0)
    if total:
        parts.append(f"{state.get('task') or 'items'} {done}/{total}")
    parts.append(f"{state.get('calls', 0)} model calls")
    parts.append(f"{state.get('cache_hits', 0)} cached")
    if state.get("model_seconds", 0) > 0 and state.get("tokens", 0) > 0:
        parts.append(f"{state['tokens'] / state['model_seconds']:.0f} tok/s")
    elapsed = now - state.get("task_started", now)
    if total and 0 < done < total and elapsed > 0:
        parts.append(f"ETA {_clock(elapsed / done * (total - done))}")
    if state.get("note"):
        parts.append(state["note"])
    return f"[{stage}] " + " · ".join(parts)


def read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # not written yet, or being replaced


@contextmanager
def watch(stage_dir: Path, stage: str, stream=None, interval: float = 0.5, log_every: float = 30.0):
    """Point the kernel at a progress file and show it as one updating line until the block ends."""
    stream = stream or sys.stderr
    path = Path(stage_dir) / FILENAME
    path.unlink(missing_ok=True)
    tty = hasattr(stream, "isatty") and stream.isatty()
    stop = threading.Event()
    previous = os.environ.get(ENV)
    os.environ[ENV] = str(path)  # the kernel inherits the environment when it starts

    def loop():
        shown, last_print = "", 0.0
        while not stop.wait(interval):
            state = read_state(path)
            if state is None:
                continue
            line = format_line(stage, state)
            if tty:
                stream.write("\r" + line[:200] + "\x1b[K")
                stream.flush()
            elif line != shown and time.time() - last_print >= log_every:
                stream.write(line + "\n")
                stream.flush()
                last_print = time.time()
            shown = line

    thread = threading.Thread(target=loop, name=f"progress-{stage}", daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join(timeout=2)
        if tty:
            stream.write("\r\x1b[K")  # the runner's own "done in" line takes its place
            stream.flush()
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)
