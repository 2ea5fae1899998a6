"""Run folders and stage execution: jupytext notebook -> .ipynb in the stage folder -> Papermill.

    outputs/runs/<utc yyyymmdd-HHMMSS>_<name>_<params-hash8>/
      manifest.json  params.yaml  <stage>/{notebook.ipynb, data files, stats.json, DONE}

The manifest is rewritten atomically after every state change, so a killed run still has a
readable manifest that says which stages finished; `--resume` skips those, and runs only the
stages the run was started for (`requested_stages`). While a process works in a run folder
it holds `<run>/.lock` (see runlock.py). The executed notebook is written to a temp file
and moved into place, so a full disk never leaves a truncated `notebook.ipynb`; the stage
is then marked failed with the one-line OSError.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from . import params as P
from . import progress as live_progress
from .io import atomic_write_text, write_json
from .run_folder import NOTEBOOK, RunFolder
from .runlock import RunLock, check_cache_writable, check_writable

REPO_ROOT = P.REPO_ROOT
PACKAGES = (
    "workbench", "torch", "transformers", "datasets", "accelerate", "gguf", "papermill", "jupytext",
    "sentence-transformers", "trl", "peft", "openai", "faiss-cpu", "numpy", "plotly",
)


class StageFailed(RuntimeError):
    def __init__(self, stage: str, notebook: Path, error: str):
        self.stage, self.notebook, self.error = stage, notebook, error
        super().__init__(f"stage {stage} failed: {error}\n  executed notebook: {notebook}")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_info(root: Path = REPO_ROOT) -> dict:
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)

    try:
        sha = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):
        return {"sha": None, "dirty": None}
    if sha.returncode != 0:
        return {"sha": None, "dirty": None}
    return {"sha": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def stage_order(notebooks_dir: Path = P.NOTEBOOKS_DIR) -> list[str]:
    return [p.stem for p in P.stage_notebooks(notebooks_dir).values()]


def select_stages(spec: str | None, notebooks_dir: Path = P.NOTEBOOKS_DIR) -> list[str]:
    """'02_evolve,filter' -> ['02_evolve', '03_filter'] in pipeline order; None -> all."""
    order = stage_order(notebooks_dir)
    if spec is None:
        return order
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise P.ParamsError(f"--stages {spec!r}: no stage named (stages: {', '.join(order)})")
    picked = []
    for item in items:
        match = [s for s in order if s == item or s.partition("_")[2] == item]
        if not match:
            raise P.ParamsError(f"--stages: unknown stage {item!r} (stages: {', '.join(order)})")
        picked.append(match[0])
    return [s for s in order if s in picked]


@dataclass
class Run:
    dir: Path
    manifest: dict

    @property
    def manifest_path(self) -> Path:
        return RunFolder(self.dir).manifest_file

    def save(self) -> None:
        write_json(self.manifest_path, self.manifest)

    def save_on_full_disk(self) -> None:
        """save(), falling back to an in-place rewrite where the disk has no room for a second copy."""
        write_json(self.manifest_path, self.manifest, in_place_when_full=True)

    @property
    def requested_stages(self) -> list[str]:
        """The stages this run was started (or last resumed) for; all of them in older manifests."""
        return self.manifest.get("requested_stages") or stage_order()

    def stage_done(self, stage: str) -> bool:
        info = self.manifest["stages"].get(stage, {})
        return info.get("status") == "done" and RunFolder(self.dir).done(stage)


def new_folder(parent: Path, name: str) -> Path:
    """parent/<utc yyyymmdd-HHMMSS>_<name>, made now; -2, -3 ... when started in the same second."""
    clean = re.sub(r"[^\w-]+", "-", name).strip("-") or "run"
    base = parent / f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}_{clean}"
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        out = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            out.mkdir()  # mkdir is the claim: two runs in the same second cannot both win a name
            return out
        except FileExistsError:
            continue
    raise FileExistsError(f"{base}: no free run folder name")


def check_outputs(outputs: Path, resolved: dict) -> None:
    """Before any work: the run folder's parent and the response cache must take writes."""
    check_writable(outputs / "runs", "outputs folder")
    if resolved["run"].get("cache", True):
        check_cache_writable(outputs / "cache" / "responses.sqlite")


def create_run(resolved: dict, outputs: Path, params_file: str, sets: list[str],
               stages: list[str] | None = None) -> Run:
    phash = P.params_hash(resolved)
    name = re.sub(r"[^\w-]+", "-", resolved["run"]["name"]).strip("-") or "run"
    run_dir = new_folder(outputs / "runs", f"{name}_{phash}")
    atomic_write_text(RunFolder(run_dir).params_file, yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    manifest = {
        "run_id": run_dir.name, "created": utc_now(), "params_file": params_file, "sets": sets,
        "params_hash": phash, "params": resolved, "git": git_info(), "packages": package_versions(),
        "requested_stages": stages or stage_order(),
        "stages": {s: {"status": "pending"} for s in stage_order()},
    }
    run = Run(run_dir, manifest)
    run.save()
    return run


def open_run(run_dir: Path) -> Run:
    folder = RunFolder(run_dir)
    if not folder.is_run():
        raise P.ParamsError(f"--resume {run_dir}: not a run folder (no {folder.manifest_file.name})")
    manifest = folder.manifest()
    for stage in stage_order():
        manifest["stages"].setdefault(stage, {"status": "pending"})
    # a stage added to the workbench after this run began runs with its defaults; say so
    defaults = P.validate({}, "defaults")
    missing = [s for s in defaults if s not in manifest["params"]]
    if missing:
        manifest["params"].update({s: defaults[s] for s in missing})
        manifest.setdefault("params_added_on_resume", []).extend(missing)
        atomic_write_text(folder.params_file, yaml.safe_dump(manifest["params"], sort_keys=False, allow_unicode=True))
    return Run(run_dir, manifest)


def execute_stage(run: Run, stage: str, cwd: Path | None = None, progress: bool = False) -> None:
    import jupytext
    import nbformat
    import papermill as pm

    from .kernel import TiedKernelManager

    section = stage.partition("_")[2]
    source = P.stage_notebooks()[section]
    folder = RunFolder(run.dir)
    stage_dir = folder.stage_dir(stage)
    stage_dir.mkdir(exist_ok=True)
    folder.done_file(stage).unlink(missing_ok=True)
    notebook = folder.stage_file(stage, NOTEBOOK)
    partial = stage_dir / ".notebook.partial.ipynb"  # papermill rewrites its output after every cell
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    # the executed copy is a plain notebook: JupyterLab's jupytext refuses to open an .ipynb
    # whose pairing metadata names a notebook.py that does not exist
    nb.metadata.pop("jupytext", None)
    run.manifest["stages"][stage] = {"status": "running", "started": utc_now(), "notebook": f"{stage}/{NOTEBOOK}"}
    t0 = time.perf_counter()
    parameters = {"run_dir": str(run.dir), **run.manifest["params"][section]}
    error = None
    try:
        # written to disk first: papermill then reads a clean file instead of an in-memory object
        atomic_write_text(notebook, nbformat.writes(nb))
        run.save()
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
        _keep_if_whole(partial, notebook, run.manifest["params"]["run"])
        if error is None:
            atomic_write_text(folder.done_file(stage), utc_now() + "\n")
    except OSError as e:
        partial.unlink(missing_ok=True)
        error = error or f"{type(e).__name__}: {e}"
    if error is not None:
        error = " ".join(_scrub(error, run.manifest["params"]["run"]).split())  # one line
        _finish(run, stage, "failed", t0, error)
        raise StageFailed(stage, notebook, error)
    _finish(run, stage, "done", t0)


def _keep_if_whole(partial: Path, notebook: Path, run_params: dict) -> None:
    """Move the executed notebook into place if it is whole; a truncated one (full disk) is
    deleted, which also frees room, and the unexecuted copy stays."""
    import json

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
        atomic_write_text(partial, text.replace(key, "[API key removed]"))
    os.replace(partial, notebook)


def _secret(run_params: dict) -> str | None:
    key = os.environ.get(run_params.get("api_key_env") or "", "")
    return key if len(key) >= 8 else None


def _scrub(text: str, run_params: dict) -> str:
    key = _secret(run_params)
    return text.replace(key, "[API key removed]") if key else text


def _finish(run: Run, stage: str, status: str, t0: float, error: str | None = None) -> None:
    info = run.manifest["stages"][stage]
    info.update(status=status, seconds=round(time.perf_counter() - t0, 2))
    stage_dir = run.dir / stage
    info["outputs"] = sorted(
        str(p.relative_to(run.dir)) for p in stage_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
    )
    if error:
        info["error"] = error
    else:
        info.pop("error", None)
    run.save_on_full_disk()


def run_pipeline(run: Run, stages: list[str], log=print, progress: bool | None = None) -> None:
    """Execute stages in order, skipping done ones. Raises StageFailed on the first failure."""
    if progress is None:
        progress = sys.stderr.isatty()
    with RunLock(run.dir):
        _run_stages(run, stages, log, progress)


def _run_stages(run: Run, stages: list[str], log, progress: bool) -> None:
    for stage in stages:
        if run.stage_done(stage):
            log(f"[{stage}] done already, skipped")
            continue
        log(f"[{stage}] running ...")
        execute_stage(run, stage, progress=progress)
        info = run.manifest["stages"][stage]
        log(f"[{stage}] done in {info['seconds']:.1f}s")
