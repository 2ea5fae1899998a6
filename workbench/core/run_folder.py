"""The one place that knows a run folder's file names.

Stages, the explorer, compare, the card and export all read a run through `RunFolder`, by
role rather than by path, so a file can move without a hunt through the code:

    run = RunFolder(path)
    run.rows("seeds")            # 01_seed/records.jsonl, or MissingInputError naming the stage
    run.manifest()["stages"]     # read once, kept; save_manifest() writes it back atomically
    run.cache_file               # the response cache this run shares with its outputs/ siblings
    run.stats("02_evolve")       # {} when the stage has not run
    rows, role = run.latest_dataset()   # the filtered dataset where 03_filter ran, else the evolved one

Paths resolve from the project's `outputs/`, never from the kernel's working directory.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from workbench.core.io import atomic_write_text, read_json, read_jsonl, write_json
from workbench.core.stage_table import REPO_ROOT, all_files, pipeline

OUTPUTS = REPO_ROOT / "outputs"

MANIFEST = "manifest.json"
PARAMS = "params.yaml"
STATS = "stats.json"
DONE = "DONE"
NOTEBOOK = "notebook.ipynb"
FIGURES = "figures"
CACHE = "cache"  # outputs/cache/, beside outputs/runs/
RESPONSES = "responses.sqlite"  # the content-addressed LLM response cache in it

FILES = all_files()  # role -> run-relative path of the file a stage writes (stage_table.py)
# The dataset a later stage works on, most processed first.
DATASET_ROLES = ("filtered", "evolved")


class MissingInputError(FileNotFoundError):
    pass


def stage_of(role: str) -> str:
    """The stage that writes a role's file ('' for run-level files)."""
    rel = FILES[role]
    return rel.split("/", 1)[0] if "/" in rel else ""


def cache_file(outputs: Path | str) -> Path:
    """The response cache of every run under `outputs`."""
    return Path(outputs) / CACHE / RESPONSES


class RunFolder:
    def __init__(self, path: Path | str):
        self.path = Path(path).expanduser().resolve()
        self._manifest: dict | None = None

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    def is_run(self) -> bool:
        return (self.path / MANIFEST).is_file()

    @property
    def manifest_file(self) -> Path:
        return self.path / MANIFEST

    @property
    def params_file(self) -> Path:
        return self.path / PARAMS

    def stats_file(self, stage: str) -> Path:
        return self.path / stage / STATS

    def done_file(self, stage: str) -> Path:
        return self.path / stage / DONE

    def file(self, role: str) -> Path:
        return self.path / FILES[role]

    def has(self, role: str) -> bool:
        return self.file(role).exists()

    def stage_dir(self, stage: str) -> Path:
        return self.path / stage

    def stage_file(self, stage: str, name: str) -> Path:
        return self.path / stage / name

    def figures_dir(self, stage: str) -> Path:
        return self.path / stage / FIGURES

    @property
    def cache_file(self) -> Path:
        return cache_file(self.path.parent.parent)

    def manifest(self) -> dict:
        """The manifest, read on first use and kept: the runner changes it and saves it back."""
        if self._manifest is None:
            if not self.is_run():
                raise MissingInputError(f"{self.path} is not a run folder (no {MANIFEST})")
            self._manifest = read_json(self.manifest_file)
        return self._manifest

    def save_manifest(self, manifest: dict | None = None, in_place_when_full: bool = False) -> None:
        """Write the manifest atomically (in place only where a full disk leaves no room)."""
        if manifest is not None:
            self._manifest = manifest
        write_json(self.manifest_file, self._manifest, in_place_when_full=in_place_when_full)

    def write_params(self, resolved: dict) -> None:
        atomic_write_text(self.params_file, yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))

    @property
    def requested_stages(self) -> list[str]:
        """The stages this run was started (or last resumed) for; all of them in older manifests."""
        return self.manifest().get("requested_stages") or [s.name for s in pipeline()]

    def stage_done(self, stage: str) -> bool:
        """Done in the manifest and marked DONE on disk: a stage killed after one but not the other reruns."""
        info = self.manifest()["stages"].get(stage, {})
        return info.get("status") == "done" and self.done(stage)

    def params(self) -> dict:
        path = self.params_file
        if not path.is_file():
            raise MissingInputError(f"{self.path} is not a run folder (no {PARAMS})")
        return yaml.safe_load(path.read_text(encoding="utf-8"))

    def stats(self, stage: str) -> dict:
        """A stage's stats.json, or {} when the stage has not written one."""
        path = self.stats_file(stage)
        return read_json(path) if path.is_file() else {}

    def done(self, stage: str) -> bool:
        return self.done_file(stage).is_file()

    def _missing(self, role: str) -> MissingInputError:
        stage = stage_of(role)
        hint = f"; run stage {stage} first" if stage else ""
        return MissingInputError(f"{FILES[role]} not found in {self.path}{hint}")

    def rows(self, role: str) -> list[dict]:
        """The rows of a role's JSONL file; MissingInputError naming the stage when absent."""
        if not self.has(role):
            raise self._missing(role)
        return read_jsonl(self.file(role))

    def rows_or_none(self, role: str) -> list[dict] | None:
        return read_jsonl(self.file(role)) if self.has(role) else None

    def json(self, role: str):
        if not self.has(role):
            raise self._missing(role)
        return read_json(self.file(role))

    def first_role(self, roles: tuple[str, ...] = DATASET_ROLES) -> str | None:
        return next((r for r in roles if self.has(r)), None)

    def latest_dataset(self, roles: tuple[str, ...] = DATASET_ROLES) -> tuple[list[dict], str]:
        """Rows of the first role whose file exists, and that role."""
        role = self.first_role(roles)
        if role is None:
            raise MissingInputError(f"none of {', '.join(FILES[r] for r in roles)} in {self.path}; "
                                    "run the earlier stages first")
        return read_jsonl(self.file(role)), role


def runs(outputs: Path | str = OUTPUTS) -> list[RunFolder]:
    """Every run folder under outputs/runs, oldest first (folder names start with the UTC time)."""
    found = sorted(p for p in (Path(outputs) / "runs").glob("*") if (p / MANIFEST).is_file())
    return [RunFolder(p) for p in found]


def latest_run(outputs: Path | str = OUTPUTS) -> RunFolder:
    found = runs(outputs)
    if not found:
        raise MissingInputError(f"no runs under {Path(outputs) / 'runs'}; start one with "
                                "`workbench run params/default.yaml`")
    return found[-1]
