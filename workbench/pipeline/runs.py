"""Creating a run folder and opening one to resume; choosing the stages a command runs.

    outputs/runs/<utc yyyymmdd-HHMMSS>_<name>_<params-hash8>/
      manifest.json  params.yaml  <stage>/{notebook.ipynb, data files, stats.json, DONE}

The manifest records the resolved params and their hash, the git sha and dirty flag, the
installed package versions and every stage's state; runner.py executes the stages.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from workbench.core.run_folder import FILES, RunFolder, cache_file, stage_of
from workbench.core.stage_table import REPO_ROOT, pipeline, stage
from workbench.pipeline import params as P
from workbench.pipeline.lock import check_cache_writable, check_writable

PACKAGES = (
    "workbench", "torch", "transformers", "datasets", "accelerate", "gguf", "papermill", "jupytext",
    "sentence-transformers", "trl", "peft", "openai", "faiss-cpu", "numpy", "plotly", "kaleido", "scipy",
)


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


CONSTRAINTS = REPO_ROOT / "constraints.txt"  # the versions `make setup` installs


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def environment(constraints: Path = CONSTRAINTS) -> dict:
    """What was installed: a hash over every distribution==version, and each package whose
    version differs from the set-up's constraints (a run made outside `make` says so)."""
    have = {_canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    listing = "\n".join(f"{n}=={v}" for n, v in sorted(have.items()))
    pinned = {}
    if constraints.is_file():
        for line in constraints.read_text(encoding="utf-8").splitlines():
            name, sep, version = line.strip().partition("==")
            if sep and not name.startswith("#"):
                pinned[_canonical(name)] = version
    off = {n: {"constraint": v, "installed": have.get(n)} for n, v in sorted(pinned.items())
           if (have.get(n) or "").split("+")[0] != v}
    return {"distributions": len(have), "sha256": hashlib.sha256(listing.encode()).hexdigest()[:16],
            "constraints": constraints.name if constraints.is_file() else None, "off_constraints": off}


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def stage_order() -> list[str]:
    return [s.name for s in pipeline()]


def select_stages(spec: str | None, run: RunFolder | None = None) -> list[str]:
    """'02_evolve,filter' -> ['02_evolve', '03_filter'] in pipeline order; None -> all.

    Each picked stage's inputs must exist in `run` (when resuming one) or be written by an
    earlier picked stage: `--stages 03_filter` on a new run stops here, before any work."""
    order = stage_order()
    if spec is None:
        return order
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise P.ParamsError(f"--stages {spec!r}: no stage named (stages: {', '.join(order)})")
    picked = []
    for item in items:
        try:
            spec_ = stage(item)
        except KeyError:
            spec_ = None
        if spec_ is None or spec_.interactive:
            raise P.ParamsError(f"--stages: unknown stage {item!r} (stages: {', '.join(order)})")
        picked.append(spec_.name)
    selected = [s for s in order if s in picked]
    check_inputs(selected, run)
    return selected


def check_inputs(selected: list[str], run: RunFolder | None) -> None:
    """ParamsError naming each input a selected stage needs that nothing will provide."""
    provided, errors = set(), []
    for name in selected:
        spec = stage(name)
        for alternatives in spec.reads:
            if not any(r in provided or (run is not None and run.has(r)) for r in alternatives):
                files = " or ".join(FILES[r] for r in alternatives)
                makers = sorted({stage_of(r) for r in alternatives})
                errors.append(f"--stages: {name} reads {files}, which no earlier selected stage writes"
                              f"{' and the run lacks' if run is not None else ''}; add {' or '.join(makers)}")
        provided |= {role for role, _ in spec.writes}
    if errors:
        raise P.ParamsError("\n".join(errors))


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
    if resolved["run"]["cache"]:
        check_cache_writable(cache_file(outputs))


def create_run(resolved: dict, outputs: Path, params_file: str, sets: list[str],
               stages: list[str] | None = None) -> RunFolder:
    phash = P.params_hash(resolved)
    name = re.sub(r"[^\w-]+", "-", resolved["run"]["name"]).strip("-") or "run"
    run = RunFolder(new_folder(outputs / "runs", f"{name}_{phash}"))
    run.write_params(resolved)
    run.save_manifest({
        "run_id": run.name, "created": utc_now(), "params_file": params_file, "sets": sets,
        "params_hash": phash, "params": resolved, "git": git_info(), "packages": package_versions(),
        "environment": environment(),
        "requested_stages": stages or stage_order(),
        "stages": {s: {"status": "pending"} for s in stage_order()},
    })
    return run


def open_run(run_dir: Path) -> RunFolder:
    run = RunFolder(run_dir)
    if not run.is_run():
        raise P.ParamsError(f"--resume {run_dir}: not a run folder (no {run.manifest_file.name})")
    manifest = run.manifest()
    for name in stage_order():
        manifest["stages"].setdefault(name, {"status": "pending"})
    # a stage added to the workbench after this run began runs with its defaults; say so
    defaults = P.validate({}, "defaults")
    missing = [s for s in defaults if s not in manifest["params"]]
    if missing:
        manifest["params"].update({s: defaults[s] for s in missing})
        manifest.setdefault("params_added_on_resume", []).extend(missing)
        run.write_params(manifest["params"])
    return run
