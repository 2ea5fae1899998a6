"""The layout promises of DESIGN.md: notebooks, params files, what git tracks."""

import re
import subprocess
from pathlib import Path

import pytest

from workbench.pipeline import params as P
from workbench.pipeline.nbparams import read_params

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.py"))
PARAMS_FILES = sorted((REPO / "params").rglob("*.yaml"))


def test_there_are_notebooks_and_params():
    assert any(p.stem == "01_seed" for p in NOTEBOOKS)
    assert {"default.yaml", "smoke.yaml", "paper.yaml"} <= {p.name for p in PARAMS_FILES}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_one_parameters_cell_with_run_dir(nb):
    params = read_params(nb)  # raises unless exactly one cell, one literal + help per line
    assert "run_dir" in params and params["run_dir"].default == ""
    assert nb.read_text().startswith("# ---\n# jupyter:"), "jupytext percent header"


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: p.name)
def test_every_params_file_validates(path):
    if path.parent.name == "sweeps":
        from workbench.pipeline.sweep import expand

        combos = expand(path).combinations  # every combination validated
        assert len(combos) >= 2 and all(set(c.params) >= {"run", "seed"} for c in combos)
        return
    resolved = P.load(path)
    assert set(resolved) >= {"run", "seed"}


def test_git_tracks_no_ipynb_or_outputs():
    r = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = r.stdout.splitlines()
    assert not [f for f in tracked if f.endswith(".ipynb")]
    assert not [f for f in tracked if f.startswith("outputs/")]
    assert not [f for f in tracked if f.startswith(".venv/")]


def _reads(key: str, sources: str) -> bool:
    """Whether code reads a key by subscript or .get (a mention in a string does not count)."""
    return re.search(rf"""\[["']{key}["']\]|\.get\(["']{key}["']""", sources) is not None


def test_every_run_key_is_read_somewhere():
    """A run-section key that no module reads is a parameter silently ignored."""
    sources = "\n".join(p.read_text() for p in (REPO / "workbench").rglob("*.py")
                        if p.name not in ("params.py", "run_section.py"))
    unread = [k for k in P.RUN_PARAMS if not _reads(k, sources)]
    assert unread == []
    assert not _reads("dtype", 'print("dtype")  # dtype') and _reads("dtype", 'run["dtype"]')
