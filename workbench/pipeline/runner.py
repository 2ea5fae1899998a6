"""Executing stages: jupytext notebook -> .ipynb in the stage folder -> Papermill.

The manifest is rewritten atomically after every state change, so a killed run still has a
readable manifest that says which stages finished; `--resume` skips those, and runs only the
stages the run was started for (`requested_stages`). While a process works in a run folder
it holds `<run>/.lock` (see lock.py). The executed notebook is written to a temp file and
moved into place, so a full disk never leaves a truncated `notebook.ipynb`; the stage is then
marked failed with the one-line OSError. Creating and opening runs: runs.py.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from workbench.core import progress as live_progress
from workbench.core.io import atomic_write_text
from workbench.core.run_folder import NOTEBOOK, RunFolder
from workbench.core.stage_table import stage as stage_spec
from workbench.pipeline.lock import RunLock
from workbench.pipeline.notebook_files import KERNELSPEC, as_report, sign
from workbench.pipeline.runs import utc_now


class StageFailed(RuntimeError):
    def __init__(self, stage: str, notebook: Path, error: str):
        self.stage, self.notebook, self.error = stage, notebook, error
        super().__init__(f"stage {stage} failed: {error}\n  executed notebook: {notebook}")


def execute_stage(run: RunFolder, stage: str, cwd: Path | None = None) -> None:
    import jupytext
    import nbformat
    import papermill as pm

    from workbench.pipeline.kernel import TiedKernelManager

    spec = stage_spec(stage)
    manifest = run.manifest()
    stage_dir = run.stage_dir(stage)
    stage_dir.mkdir(exist_ok=True)
    run.done_file(stage).unlink(missing_ok=True)
    notebook = run.stage_file(stage, NOTEBOOK)
    partial = stage_dir / ".notebook.partial.ipynb"  # papermill rewrites its output after every cell
    nb = jupytext.read(spec.notebook)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    # the executed copy is a plain notebook: JupyterLab's jupytext refuses to open an .ipynb
    # whose pairing metadata names a notebook.py that does not exist
    nb.metadata.pop("jupytext", None)
    manifest["stages"][stage] = {"status": "running", "started": utc_now(), "notebook": f"{stage}/{NOTEBOOK}"}
    t0 = time.perf_counter()
    parameters = {"run_dir": str(run.path), **manifest["params"][spec.section]}
    error = None
    try:
        # written to disk first: papermill then reads a clean file instead of an in-memory object
        atomic_write_text(notebook, nbformat.writes(nb))
        run.save_manifest()
        with live_progress.watch(stage_dir, stage):  # one updating line: items, calls, tok/s, ETA
            pm.execute_notebook(
                str(notebook), str(partial), parameters=parameters, kernel_name="python3",
                cwd=str(cwd or Path.cwd()), progress_bar=False, log_output=False,
                kernel_manager_class=TiedKernelManager, **live_progress.kernel_options(),
            )
    except pm.PapermillExecutionError as e:
        error = f"{e.ename}: {e.evalue}"
    except Exception as e:  # kernel died, notebook unreadable, disk full, ...
        error = f"{type(e).__name__}: {e}"
    try:
        _keep_if_whole(partial, notebook, manifest["params"]["run"])
        if error is None:
            atomic_write_text(run.done_file(stage), utc_now() + "\n")
    except OSError as e:
        partial.unlink(missing_ok=True)
        error = error or f"{type(e).__name__}: {e}"
    if error is not None:
        error = " ".join(_scrub(error, manifest["params"]["run"]).split())  # one line
        _finish(run, stage, "failed", t0, error)
        raise StageFailed(stage, notebook, error)
    _finish(run, stage, "done", t0)


def _keep_if_whole(partial: Path, notebook: Path, run_params: dict) -> None:
    """Move the executed notebook into place if it is whole, as a report (notebook_files); a
    truncated one (full disk) is deleted, which also frees room, and the unexecuted copy stays."""
    import nbformat

    if not partial.is_file():
        return
    try:
        text = partial.read_text(encoding="utf-8")
        json.loads(text)
    except (ValueError, OSError):
        partial.unlink(missing_ok=True)
        return
    key = _secret(run_params)  # whatever printed the API key (a library's log, a traceback)
    if key and key in text:
        text = text.replace(key, "[API key removed]")
    report = as_report(nbformat.reads(text, as_version=4))
    sign(report)  # after every change: the signature covers the saved bytes
    atomic_write_text(notebook, nbformat.writes(report))
    partial.unlink(missing_ok=True)


def _secret(run_params: dict) -> str | None:
    key = os.environ.get(run_params.get("api_key_env") or "", "")
    return key if len(key) >= 8 else None


def _scrub(text: str, run_params: dict) -> str:
    key = _secret(run_params)
    return text.replace(key, "[API key removed]") if key else text


def _finish(run: RunFolder, stage: str, status: str, t0: float, error: str | None = None) -> None:
    info = run.manifest()["stages"][stage]
    info.update(status=status, seconds=round(time.perf_counter() - t0, 2))
    stage_dir = run.stage_dir(stage)
    info["outputs"] = sorted(
        str(p.relative_to(run.path)) for p in stage_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    if error:
        info["error"] = error
    else:
        info.pop("error", None)
    models = _models_used(run, stage)
    if models:  # the servers that answered: the response cache's keys no longer name them
        info["models"] = models
    run.save_manifest(in_place_when_full=True)


def _models_used(run: RunFolder, stage: str) -> list[str]:
    """The model ids (for servers, the model and every base URL) of the stage's llm stats."""
    try:
        llm = run.stats(stage).get("llm") or []
        return sorted({g["model"] for g in llm if isinstance(g, dict) and isinstance(g.get("model"), str)})
    except (OSError, ValueError, AttributeError, TypeError):
        return []  # no stats, or unreadable ones: the stage's outcome is recorded all the same


def run_pipeline(run: RunFolder, stages: list[str], log=print) -> None:
    """Execute stages in order, skipping done ones. Raises StageFailed on the first failure."""
    with RunLock(run.path):
        for stage in stages:
            if run.stage_done(stage):
                log(f"[{stage}] done already, skipped")
                continue
            log(f"[{stage}] running ...")
            execute_stage(run, stage)
            log(f"[{stage}] done in {run.manifest()['stages'][stage]['seconds']:.1f}s")
