"""Disks that refuse writes: checked before any work, and a full disk fails the stage cleanly.

Root ignores file modes, so as root a folder is made unwritable with `chattr +i` and a full
disk is a small tmpfs; where neither is allowed these tests are skipped.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from workbench.core.io import read_json
from workbench.llm.cache import ResponseCache

REPO = Path(__file__).resolve().parent.parent


def workbench(*args):
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], capture_output=True, text=True, cwd=REPO)


@contextmanager
def unwritable(path: Path):
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        undo = ["chmod", oct(mode & 0o777)[2:], str(path)]
    else:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("cannot make a path unwritable for root here (chattr +i refused)")
        undo = ["chattr", "-i", str(path)]
    try:
        yield
    finally:
        subprocess.run(undo, check=True)


@contextmanager
def small_disk(path: Path, size: str = "4m"):
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here to fill a disk")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_unwritable_outputs_folder_is_refused_before_work(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with unwritable(out):
        r = workbench("run", "params/smoke.yaml", "--stages", "01_seed", "--outputs", str(out))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"outputs folder {out / 'runs'} is not writable" in r.stderr
    assert not list(out.iterdir())


def test_read_only_cache_is_refused_before_the_first_model_call(tmp_path):
    db = tmp_path / "out" / "cache" / "responses.sqlite"
    ResponseCache(db).close()
    with unwritable(db):
        r = workbench("run", "params/smoke.yaml", "--stages", "01_seed", "--outputs", str(tmp_path / "out"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"response cache {db} cannot be written" in r.stderr and "run.cache=false" in r.stderr
    assert not list((tmp_path / "out" / "runs").iterdir())  # no run folder: nothing started


def test_full_disk_marks_the_stage_failed_in_one_line_and_leaves_no_truncated_notebook(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", "params/smoke.yaml", "--stages",
                                 "01_seed", "--set", "run.cache=false", "--outputs", str(disk)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        manifest = None
        while time.monotonic() < deadline and proc.poll() is None:
            manifest = next(disk.glob("runs/*/manifest.json"), None)
            try:
                if manifest and read_json(manifest)["stages"]["01_seed"]["status"] == "running":
                    break
            except Exception:
                pass
            time.sleep(0.02)
        assert proc.poll() is None, "the stage finished before the disk could be filled"
        with open(disk / "ballast", "wb") as f:  # fill the disk while the kernel starts
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 1, stderr[-2000:]
        info = read_json(manifest)["stages"]["01_seed"]
        assert info["status"] == "failed" and "No space left on device" in info["error"]
        assert "\n" not in info["error"]
        assert "stage 01_seed failed" in stderr and "Traceback" not in stderr
        notebook = manifest.parent / "01_seed" / "notebook.ipynb"
        json.loads(notebook.read_text())  # whole: the executed one, or the unexecuted copy
        assert not list((manifest.parent / "01_seed").glob(".*partial*"))
        assert not (manifest.parent / "01_seed" / "DONE").exists()
