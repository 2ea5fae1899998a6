"""What a notebook file looks like on disk, so that opening one in JupyterLab changes nothing.

JupyterLab attaches the running kernel's spec to a notebook and jupytext rewrites the `.py`
header on save (adding its own version). The committed headers, the project's jupytext
configuration (`[tool.jupytext]` in pyproject.toml drops the version fields) and the kernel
`make setup` installs (KERNELSPEC) agree, so a save writes the same bytes and `git status`
stays clean; tests/test_notebook_files.py saves every notebook as JupyterLab would.

Executed stage notebooks are reports: written with the same kernel spec, without progress-bar
and library-warning output, and signed (trusted) so their figures stay interactive.
"""

from __future__ import annotations

import re
import sqlite3

import nbformat
from nbformat.sign import NotebookNotary

# `make setup` installs this kernel (ipykernel install --name python3 --display-name ...)
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (workbench)", "language": "python"}

# stderr lines that are library noise in a saved report: tqdm bars (redrawn with \r, "42%|")
# and Python warnings of third-party code ("x.py:12: FutureWarning: ..." and its source line).
# A chunk is dropped only when every line of it is such noise: an error message stays.
_BAR = re.compile(r"\d+%\||\d+/\d+ \[|\d+(\.\d+)?(it/s|s/it)\b")
_WARNING = re.compile(r"^\S+\.py:\d+: \w*Warning: ")


def is_noise(text: str) -> bool:
    """A stderr chunk that only draws a progress bar or reports a library warning."""
    lines = [ln for ln in re.split(r"[\r\n]+", text) if ln.strip()]
    in_warning = False
    for line in lines:
        if _WARNING.match(line):
            in_warning = True
        elif in_warning and line.startswith(" "):  # the warning's quoted source line
            continue
        elif _BAR.search(line):
            in_warning = False
        else:
            return False
    return True


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def is_noise_output(output) -> bool:
    """stderr noise, or a progress-bar widget (tqdm.auto in a kernel draws one; saved, it stays
    frozen at the state it had when the notebook was written, e.g. "Loading weights: 0%")."""
    if output.output_type == "stream":
        return output.name == "stderr" and is_noise(output.text)
    data = output.get("data", {})
    return WIDGET_VIEW in data and bool(_BAR.search(str(data.get("text/plain", ""))))


def as_report(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The executed notebook as it is kept: the project kernel, stderr noise and progress-bar
    widgets dropped (stdout, results, figures and errors are kept). jupytext already gives
    cells ids (nbformat 4.5)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not is_noise_output(o)]
    if not any(WIDGET_VIEW in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])):
        nb.metadata.pop("widgets", None)  # the saved state of the widgets just dropped
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def sign(nb: nbformat.NotebookNode) -> None:
    """Mark the notebook trusted for this user (Jupyter's notary), so JupyterLab renders its
    HTML and JavaScript outputs (interactive figures) instead of the static fallback."""
    try:
        NotebookNotary().sign(nb)
    except (OSError, sqlite3.Error):  # a read-only Jupyter data folder leaves it untrusted, not failed
        pass
