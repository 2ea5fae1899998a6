"""`workbench lab` serves the project folder: .py notebooks as notebooks (and as the default
viewer), the project kernel, and executed stage notebooks from run folders."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary

from workbench.pipeline.notebook_files import KERNELSPEC

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def get_once_listening(url, proc, attempts: int = 50):
    """get(url) on a server that has announced its URL: its socket can lag the announcement
    by a moment, so a refused connection is tried again while the process lives."""
    for _ in range(attempts):
        try:
            return get(url)
        except urllib.error.URLError as e:
            if not isinstance(e.reason, ConnectionRefusedError) or proc.poll() is not None:
                raise
            threading.Event().wait(0.1)
    pytest.fail(f"jupyter lab announced {url} but refused {attempts} connections")


@pytest.fixture(scope="module")
def executed_run(tmp_path_factory):
    """A real 01_seed run (no model calls), copied under outputs/runs/ where the lab can reach it.
    The folder name sorts before every real run, so `latest_run()` never picks it."""
    out = tmp_path_factory.mktemp("labrun")
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "run", "params/smoke.yaml", "--stages", "01_seed",
                        "--outputs", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (src,) = (out / "runs").iterdir()
    dest = REPO / "outputs" / "runs" / f"00000000-000000_labtest-{os.getpid()}"
    shutil.copytree(src, dest)
    (dest / "manifest.json").unlink()  # not a run anyone should pick up
    # the control: the same notebook still carrying the pairing metadata jupytext writes
    paired = nbformat.read(dest / "01_seed" / "notebook.ipynb", as_version=4)
    paired.metadata["jupytext"] = {"formats": "py:percent"}
    nbformat.write(paired, dest / "01_seed" / "paired.ipynb")
    try:
        yield dest
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_executed_notebook_has_no_pairing_metadata(executed_run):
    nb = nbformat.read(executed_run / "01_seed" / "notebook.ipynb", as_version=4)
    assert "jupytext" not in nb.metadata
    assert nb.metadata["kernelspec"] == KERNELSPEC  # the installed kernel: JupyterLab changes nothing
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # trusted for this user, so its figures render interactive rather than as static fallbacks
    assert NotebookNotary().check_signature(nb)


def test_lab_serves_notebooks_run_folders_and_the_default_viewer(executed_run):
    port, token = free_port(), "wb-test-token"
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "lab", "--port", str(port), "--token", token],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        # the server says when it listens (its log goes to stderr); an exit before that fails
        log = []
        for line in proc.stderr:
            log.append(line)
            if f":{port}/lab" in line:  # the URL lines that follow "is running at:"
                break
        else:
            pytest.fail(f"jupyter lab exited before serving:\n{''.join(log[-20:])}")
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining its log
        listing = get_once_listening(f"{base}/api/contents/notebooks?token={token}", proc)
        kinds = {c["name"]: c["type"] for c in listing["content"]}
        py = {n for n in kinds if n.endswith(".py")}
        assert {"00_explore.py", "01_seed.py", "02_evolve.py"} <= py
        assert all(kinds[n] == "notebook" for n in py)
        nb = get(f"{base}/api/contents/notebooks/02_evolve.py?token={token}&type=notebook")
        tags = [c["metadata"].get("tags", []) for c in nb["content"]["cells"]]
        assert sum("parameters" in t for t in tags) == 1
        spec = get(f"{base}/api/kernelspecs?token={token}")["kernelspecs"]["python3"]["spec"]
        assert Path(spec["argv"][0]).resolve() == Path(sys.executable).resolve()

        # double-click on a .py opens the jupytext notebook, not the text editor
        doc = get(f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin?token={token}")
        # (overrides.json lands in the schema's default; user settings would still win)
        assert doc["schema"]["properties"]["defaultViewers"]["default"]["python"] == "Jupytext Notebook"

        # the executed stage notebook opens from its run folder
        rel = f"outputs/runs/{executed_run.name}/01_seed"
        opened = get(f"{base}/api/contents/{rel}/notebook.ipynb?token={token}&type=notebook")
        assert opened["type"] == "notebook" and opened["content"]["cells"]
        assert "jupytext" not in opened["content"]["metadata"]
        # ... where the same file with pairing metadata is refused (what users saw before)
        with pytest.raises(urllib.error.HTTPError):
            get(f"{base}/api/contents/{rel}/paired.ipynb?token={token}&type=notebook")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_default_viewer_setting_merges_and_keeps_existing_choices(tmp_path):
    from workbench.pipeline.lab import DOCMANAGER, overrides_path, set_default_viewers

    path = overrides_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                DOCMANAGER: {"defaultViewers": {"markdown": "Markdown Preview"}}}))
    set_default_viewers(tmp_path, doctypes=("python", "markdown"))
    set_default_viewers(tmp_path, doctypes=("python", "markdown"))  # idempotent
    settings = json.loads(path.read_text())
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert settings[DOCMANAGER]["defaultViewers"] == {"markdown": "Markdown Preview", "python": "Jupytext Notebook"}
    path.write_text("{not json")
    with pytest.raises(ValueError, match="overrides.json"):
        set_default_viewers(tmp_path)
