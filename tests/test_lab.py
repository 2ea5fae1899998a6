"""`workbench lab` serves the .py notebooks as notebooks, with the project kernel."""

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_lab_lists_py_notebooks_as_notebooks_and_uses_the_venv_kernel():
    port, token = free_port(), "wb-test-token"
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "lab", "--port", str(port), "--token", token],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                listing = get(f"{base}/contents/?token={token}")
                break
            except OSError:
                assert proc.poll() is None, "jupyter lab exited"
                assert time.monotonic() < deadline, "jupyter lab did not answer in 90 s"
                time.sleep(1)
        kinds = {c["name"]: c["type"] for c in listing["content"]}
        py = {n for n in kinds if n.endswith(".py")}
        assert {"00_explore.py", "01_seed.py", "02_evolve.py"} <= py
        assert all(kinds[n] == "notebook" for n in py)
        nb = get(f"{base}/contents/02_evolve.py?token={token}&type=notebook")
        tags = [c["metadata"].get("tags", []) for c in nb["content"]["cells"]]
        assert sum("parameters" in t for t in tags) == 1
        spec = get(f"{base}/kernelspecs?token={token}")["kernelspecs"]["python3"]["spec"]
        assert Path(spec["argv"][0]).resolve() == Path(sys.executable).resolve()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
