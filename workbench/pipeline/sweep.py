"""Sweeps: one params file with a `grid:` section -> one run per combination.

    include: ../smoke.yaml
    grid:
      evolve.rounds: [1, 2]
      evolve.temperature: [0.0, 0.7]

expands to the cartesian product in file order (rounds1-temperature0.0, rounds1-temperature0.7,
rounds2-...). Every combination is validated like a `--set` before the first run starts, so a
typo in the fourth combination cannot waste the first three runs. The runs share
outputs/cache, so a prefix the combinations have in common (same seeds, same round 1) is
answered from the response cache instead of the model.

    outputs/sweeps/<utc yyyymmdd-HHMMSS>_<name>/sweep.json   combinations, run dirs, status, error

sweep.json is rewritten atomically after every run, like a run's manifest.json, so a killed
sweep still says which runs finished.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.io import write_json
from workbench.pipeline import params as P
from workbench.pipeline import runner, runs

GRID_KEY = "grid"


@dataclass
class Combination:
    name: str  # run.name of this run: <base name>-<slug of the varying values>
    values: dict  # {"evolve.rounds": 1, ...}: every grid key, in grid order
    params: dict  # resolved and validated


@dataclass
class Sweep:
    path: Path
    name: str
    grid: dict
    combinations: list[Combination] = field(default_factory=list)


def _check_grid(grid, source: str) -> dict:
    if not isinstance(grid, dict) or not grid:
        raise P.ParamsError(f"{source}: a sweep needs a `grid:` mapping of SECTION.KEY to a list of values")
    for key, values in grid.items():
        section, dot, name = str(key).partition(".")
        if not dot or not section or not name:
            raise P.ParamsError(f"{source}: grid key {key!r}: expected SECTION.KEY, e.g. evolve.rounds")
        if not isinstance(values, list) or not values:
            raise P.ParamsError(f"{source}: grid {key}: expected a non-empty list of values")
        dumped = [json.dumps(v, sort_keys=True) for v in values]
        if len(set(dumped)) != len(dumped):
            raise P.ParamsError(f"{source}: grid {key}: a value is listed twice")
    return grid


def _short(value) -> str:
    """A value as it reads in a folder name: 0.7, true, a file's basename, a list joined with +."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "+".join(_short(v) for v in value)
    elif isinstance(value, str) and "/" in value:
        text = value.rstrip("/").rsplit("/", 1)[-1]
    else:
        text = str(value)
    return re.sub(r"[^\w.+-]+", "-", text).strip("-")[:32] or "empty"


def slug(values: dict, varying: list[str]) -> str:
    """'rounds1-temperature0.7': the varying keys only, by their short name unless two sections share it."""
    names = [k.partition(".")[2] for k in varying]
    parts = []
    for key, name in zip(varying, names):
        label = name if names.count(name) == 1 else key.replace(".", "_")
        parts.append(f"{label}{_short(values[key])}")
    return "-".join(parts)


def expand(path: Path | str) -> Sweep:
    """Read the sweep file, expand its grid and validate every combination; runs nothing.

    Raises ParamsError naming the file, the combination and the key at the first bad one.
    """
    path = Path(path)
    raw = P.load_yaml(path)  # includes merged; the grid may come from a base file too
    grid = _check_grid(raw.pop(GRID_KEY, None), str(path))
    run_section = raw.get("run") if isinstance(raw.get("run"), dict) else {}
    base_name = str(run_section.get("name", P.RUN_PARAMS["name"].default))
    varying = [k for k, vs in grid.items() if len(vs) > 1]
    sweep = Sweep(path, base_name, grid)
    seen: dict[str, int] = {}
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo))
        tail = slug(values, varying)
        name = f"{base_name}-{tail}" if tail else base_name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # two values that read the same in a folder name
            name = f"{name}-{seen[name]}"
        where = f"{path} (grid: {', '.join(f'{k}={json.dumps(v)}' for k, v in values.items())})"
        resolved = P.validate(P.set_values(raw, values | {"run.name": name}, "grid"), where)
        sweep.combinations.append(Combination(name, values, resolved))
    return sweep


def run_sweep(sweep: Sweep, outputs: Path, stages: list[str], log=print) -> dict:
    """Run every combination in order; a failed run is recorded and the next one starts.

    Returns the sweep manifest (also in outputs/sweeps/<id>/sweep.json); its "failed" lists the
    names of the runs that failed.
    """
    sweep_dir = runs.new_folder(outputs / "sweeps", sweep.name or "sweep")
    manifest = {
        "sweep_id": sweep_dir.name, "created": runs.utc_now(), "params_file": str(sweep.path),
        "grid": sweep.grid, "stages": stages, "status": "running",
        "runs": [{"name": c.name, "values": c.values, "run_dir": None, "status": "pending", "error": None}
                 for c in sweep.combinations],
        "failed": [],
    }
    path = sweep_dir / "sweep.json"
    write_json(path, manifest)
    log(f"sweep folder: {sweep_dir} ({len(sweep.combinations)} runs)")
    for combo, entry in zip(sweep.combinations, manifest["runs"]):
        sets = [f"{k}={json.dumps(v)}" for k, v in combo.values.items()]
        the_run = runs.create_run(combo.params, outputs, str(sweep.path), sets, stages)
        the_run.manifest()["sweep"] = {"sweep_id": sweep_dir.name, "values": combo.values}
        the_run.save_manifest()
        entry.update(run_dir=os.path.relpath(the_run.path, outputs), status="running")
        write_json(path, manifest)
        log(f"--- {combo.name}: {the_run.path}")
        try:
            runner.run_pipeline(the_run, stages, log=log)
        except Exception as e:  # StageFailed or anything else: record it, go on with the next run
            entry.update(status="failed", error=str(e))
            manifest["failed"].append(combo.name)
            log(f"error: {e}")
        else:
            entry["status"] = "done"
        write_json(path, manifest)
    manifest.update(status="failed" if manifest["failed"] else "done", finished=runs.utc_now())
    write_json(path, manifest)
    return manifest
