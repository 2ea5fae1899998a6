"""Run folders and stage execution: jupytext notebook -> .ipynb in the stage folder -> Papermill.

    outputs/runs/<utc yyyymmdd-HHMMSS>_<name>_<params-hash8>/
      manifest.json  params.yaml  <stage>/{notebook.ipynb, data files, stats.json, DONE}

The manifest is rewritten atomically after every state change, so a killed run still has a
readable manifest that says which stages finished; `--resume` skips those.
"""

from __future__ import annotations

import importlib.metadata
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
from .io import atomic_write_text, read_json, write_json

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
    if not spec:
        return order
    picked = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
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
        return self.dir / "manifest.json"

    def save(self) -> None:
        write_json(self.manifest_path, self.manifest)

    def stage_done(self, stage: str) -> bool:
        info = self.manifest["stages"].get(stage, {})
        return info.get("status") == "done" and (self.dir / stage / "DONE").is_file()


def new_folder(parent: Path, name: str) -> Path:
    """parent/<utc yyyymmdd-HHMMSS>_<name>, made now; -2, -3 ... when started in the same second."""
    clean = re.sub(r"[^\w-]+", "-", name).strip("-") or "run"
    base = parent / f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}_{clean}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    out.mkdir(parents=True)
    return out


def create_run(resolved: dict, outputs: Path, params_file: str, sets: list[str]) -> Run:
    phash = P.params_hash(resolved)
    name = re.sub(r"[^\w-]+", "-", resolved["run"]["name"]).strip("-") or "run"
    run_dir = new_folder(outputs / "runs", f"{name}_{phash}")
    atomic_write_text(run_dir / "params.yaml", yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    manifest = {
        "run_id": run_dir.name, "created": utc_now(), "params_file": params_file, "sets": sets,
        "params_hash": phash, "params": resolved, "git": git_info(), "packages": package_versions(),
        "stages": {s: {"status": "pending"} for s in stage_order()},
    }
    run = Run(run_dir, manifest)
    run.save()
    return run


def open_run(run_dir: Path) -> Run:
    if not (run_dir / "manifest.json").is_file():
        raise P.ParamsError(f"--resume {run_dir}: not a run folder (no manifest.json)")
    manifest = read_json(run_dir / "manifest.json")
    for stage in stage_order():
        manifest["stages"].setdefault(stage, {"status": "pending"})
    # a stage added to the workbench after this run began runs with its defaults; say so
    defaults = P.validate({}, "defaults")
    missing = [s for s in defaults if s not in manifest["params"]]
    if missing:
        manifest["params"].update({s: defaults[s] for s in missing})
        manifest.setdefault("params_added_on_resume", []).extend(missing)
        atomic_write_text(run_dir / "params.yaml", yaml.safe_dump(manifest["params"], sort_keys=False, allow_unicode=True))
    return Run(run_dir, manifest)


def execute_stage(run: Run, stage: str, cwd: Path | None = None, progress: bool = False) -> None:
    import jupytext
    import nbformat
    import papermill as pm

    section = stage.partition("_")[2]
    source = P.stage_notebooks()[section]
    stage_dir = run.dir / stage
    stage_dir.mkdir(exist_ok=True)
    (stage_dir / "DONE").unlink(missing_ok=True)
    notebook = stage_dir / "notebook.ipynb"
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    # written to disk first: papermill then reads a clean file instead of an in-memory object
    atomic_write_text(notebook, nbformat.writes(nb))
    info = {"status": "running", "started": utc_now(), "notebook": f"{stage}/notebook.ipynb"}
    run.manifest["stages"][stage] = info
    run.save()
    t0 = time.perf_counter()
    parameters = {"run_dir": str(run.dir), **run.manifest["params"][section]}
    try:
        with live_progress.watch(stage_dir, stage):  # one updating line: items, calls, tok/s, ETA
            pm.execute_notebook(
                str(notebook), str(notebook), parameters=parameters, kernel_name="python3",
                cwd=str(cwd or Path.cwd()), progress_bar=False, log_output=False, **live_progress.kernel_options(),
            )
    except pm.PapermillExecutionError as e:
        error = f"{e.ename}: {e.evalue}"
        _finish(run, stage, "failed", t0, error)
        raise StageFailed(stage, notebook, error) from None
    except Exception as e:  # kernel died, notebook unreadable, ...
        error = f"{type(e).__name__}: {e}"
        _finish(run, stage, "failed", t0, error)
        raise StageFailed(stage, notebook, error) from None
    atomic_write_text(stage_dir / "DONE", utc_now() + "\n")
    _finish(run, stage, "done", t0)


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
    run.save()


def run_pipeline(run: Run, stages: list[str], log=print, progress: bool | None = None) -> None:
    """Execute stages in order, skipping done ones. Raises StageFailed on the first failure."""
    if progress is None:
        progress = sys.stderr.isatty()
    for stage in stages:
        if run.stage_done(stage):
            log(f"[{stage}] done already, skipped")
            continue
        log(f"[{stage}] running ...")
        execute_stage(run, stage, progress=progress)
        info = run.manifest["stages"][stage]
        log(f"[{stage}] done in {info['seconds']:.1f}s")
