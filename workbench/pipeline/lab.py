"""JupyterLab set-up for `workbench lab`: .py notebooks open as notebooks on double-click.

JupyterLab opens a file with its type's default viewer, and for .py that is the text editor
unless a setting names jupytext's "Jupytext Notebook" factory. The setting goes into this
environment's `share/jupyter/lab/settings/overrides.json` (read by every JupyterLab started
from this venv), merged with whatever else that file holds, so the user's own settings are
left alone:

    {"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}

`workbench lab` also keeps checkpoints out of the run folders (ProjectCheckpoints) and opens
.py notebooks with the kernel's language metadata already in place (ProjectContentsManager).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from jupyter_core.utils import ensure_dir_exists
from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class
from tornado.web import HTTPError

DOCMANAGER = "@jupyterlab/docmanager-extension:plugin"
JUPYTEXT_FACTORY = "Jupytext Notebook"  # the widget factory name the jupytext lab extension registers


def overrides_path(prefix: Path | str = sys.prefix) -> Path:
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def set_default_viewers(prefix: Path | str = sys.prefix, doctypes=("python",)) -> Path:
    """Make the jupytext notebook the default viewer for these file types; idempotent.
    A viewer the file already names for a type is kept (someone chose it)."""
    path = overrides_path(prefix)
    settings = {}
    if path.is_file():
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ValueError(f"{path}: not valid JSON ({e}); fix or remove it") from None
    viewers = settings.setdefault(DOCMANAGER, {}).setdefault("defaultViewers", {})
    changed = False
    for doctype in doctypes:
        if doctype not in viewers:
            viewers[doctype] = JUPYTEXT_FACTORY
            changed = True
    if changed or not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return path


class ProjectCheckpoints(AsyncFileCheckpoints):
    """Checkpoints in one folder at the root (`.ipynb_checkpoints/<folder of the file>/`),
    not beside each file: opening an executed notebook leaves its run folder as it was, and
    run folders hold only what the run wrote. (The root folder is ignored by git.)"""

    def checkpoint_path(self, checkpoint_id, path):
        parent, _, name = path.strip("/").rpartition("/")
        basename, ext = os.path.splitext(name)
        cp_dir = os.path.join(self.root_dir, self.checkpoint_dir, parent)
        with self.perm_to_403():
            ensure_dir_exists(cp_dir)
        return os.path.join(cp_dir, f"{basename}-{checkpoint_id}{ext}")


def kernel_language_info() -> dict:
    """The language_info the project kernel reports (it runs this interpreter)."""
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


# a stage's executed notebook inside a run folder: runs/<run>/<NN_stage>/notebook.ipynb
RUN_RECORD = re.compile(r"(^|/)runs/[^/]+/\d\d_\w+/notebook\.ipynb$")


class ProjectContentsManager(build_async_jupytext_contents_manager_class(AsyncLargeFileManager)):
    """jupytext's contents manager with two project rules.

    A .py notebook is read with the kernel's language_info in place. The .py header does not
    keep it (it names the Python version), so JupyterLab set it when the kernel connected,
    which marked every notebook modified the moment it opened; on save jupytext drops it
    again, so the file's bytes are unchanged either way.

    A stage's executed notebook in a run folder is the record of what ran: it opens read-only
    and a save is refused (File > Save As keeps a copy elsewhere). JupyterLab's plotly
    extension writes a new PNG into a figure's output when the mouse first enters it, which
    marks the notebook modified; without this, autosave would then rewrite the run's file.
    """

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if content and model.get("type") == "notebook" and not path.endswith(".ipynb"):
            model["content"]["metadata"].setdefault("language_info", kernel_language_info())
        return model

    def is_writable(self, path):
        return not RUN_RECORD.search(path.strip("/")) and super().is_writable(path)

    async def save(self, model, path=""):
        if RUN_RECORD.search(path.strip("/")):
            raise HTTPError(403, f"{path} is a run's record of an executed stage and is kept as it ran; "
                                 "use File > Save As to keep an edited copy outside the run folder")
        return await super().save(model, path)
