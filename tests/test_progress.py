"""Live progress: the kernel side writes a small file, the runner side shows one line from it."""

import io
import json
import os
import sys
import threading
import time

import pytest

from workbench.core import progress
from workbench.llm import GenParams
from workbench.llm.cache import ResponseCache
from workbench.llm.generator import Generator


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_format_line_has_counts_rate_and_eta():
    state = {"task": "generate", "done": 10, "total": 40, "calls": 7, "cache_hits": 3, "tokens": 2000,
             "model_seconds": 10.0, "task_started": 100.0}
    line = progress.format_line("02_evolve", state, now=130.0)
    assert line == "[02_evolve] generate 10/40 · 7 model calls · 3 cached · 200 tok/s · ETA 1:30"


def test_a_note_from_the_server_pool_shows_on_the_line(tmp_path):
    tracker = progress.Tracker(tmp_path / progress.FILENAME)
    tracker.begin("generate", 4)
    tracker.note("server http://gpu1:8000/v1 out after 3 failures in a row")
    state = progress.read_state(tmp_path / progress.FILENAME)
    assert progress.format_line("02_evolve", state).endswith("· server http://gpu1:8000/v1 out after 3 failures in a row")


def test_no_rate_or_eta_when_they_cannot_be_computed():
    line = progress.format_line("02_evolve", {"task": "generate", "done": 0, "total": 5, "task_started": 1.0}, now=2.0)
    assert "tok/s" not in line and "ETA" not in line and "0/5" in line


def test_generator_reports_to_the_file_the_runner_names(tmp_path, monkeypatch, fake_backend):
    target = tmp_path / progress.FILENAME
    monkeypatch.setenv(progress.ENV, str(target))
    cache = ResponseCache(tmp_path / "r.sqlite")
    gen = Generator(fake_backend, cache, tracker=progress.tracker)  # as stages/base.py wires it
    prompts = [[{"role": "user", "content": f"q{i}"}] for i in range(10)]
    gen.generate(prompts[:4], GenParams())
    gen.generate(prompts, GenParams())  # 4 cached, 6 new calls
    state = json.loads(target.read_text())
    assert (state["done"], state["total"]) == (10, 10)
    assert state["calls"] == 10 and state["cache_hits"] == 4
    assert state["tokens"] == gen.stats["completion_tokens"] > 0


def test_watch_shows_a_live_line_on_a_terminal_and_cleans_up(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    out = _Tty()
    with progress.watch(tmp_path, "02_evolve", stream=out, interval=0.02) as path:
        assert os.environ[progress.ENV] == str(path)  # what the kernel inherits
        tracker = progress.Tracker(path, min_interval=0)
        tracker.begin("generate", 8)
        tracker.update(done=3, calls=3, tokens=300, model_seconds=1.5)
        time.sleep(0.2)
    text = out.getvalue()
    assert "\r[02_evolve] generate 3/8 · 3 model calls · 0 cached · 200 tok/s" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared for the runner's "done" message
    assert progress.ENV not in os.environ and not path.exists()


def test_watch_in_a_log_prints_sparse_full_lines(tmp_path):
    out = io.StringIO()
    with progress.watch(tmp_path, "04_difficulty", stream=out, interval=0.02, log_every=60) as path:
        tracker = progress.Tracker(path, min_interval=0)
        tracker.begin("score", 100)
        for _ in range(5):
            tracker.update(done=1, calls=1)
            time.sleep(0.05)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[04_difficulty] score ")  # not one per update
    assert "\r" not in out.getvalue()


def test_tracker_without_runner_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    t = progress.tracker()
    assert t.path is None
    t.begin("generate", 3)
    t.update(done=3)
    assert not list(tmp_path.iterdir())


def test_reader_survives_a_file_being_replaced(tmp_path):
    path = tmp_path / progress.FILENAME
    stop = threading.Event()

    def writer():
        t = progress.Tracker(path, min_interval=0)
        t.begin("generate", 10**6)
        while not stop.is_set():
            t.update(done=1)

    th = threading.Thread(target=writer)
    th.start()
    try:
        while not path.exists():  # the first write, then reads race the replacing writes
            time.sleep(0.001)
        seen = [progress.read_state(path) for _ in range(200)]
    finally:
        stop.set()
        th.join()
    assert all(s is None or s["task"] == "generate" for s in seen)
    assert sum(s is not None for s in seen) > 0, "no read returned a state"


@pytest.mark.slow
def test_kernel_runs_without_the_unencrypted_tcp_warning(tmp_path):
    import subprocess

    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = tmp_path / "t.ipynb"
    nbformat.write(nb, src)

    def execute(options: str) -> str:
        code = ("import papermill as pm; from workbench.core.progress import kernel_options; "
                f"pm.execute_notebook({str(src)!r}, {str(tmp_path / 'o.ipynb')!r}, kernel_name='python3', "
                f"progress_bar=False, **{options})")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        return res.stderr

    assert "without encryption" in execute("{}")  # positive control: plain TCP warns
    assert "without encryption" not in execute("kernel_options()")
