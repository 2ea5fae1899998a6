"""The one place that knows a run folder's file names.

Stages, the explorer, compare, the card and export all read a run through `RunFolder`, by
role rather than by path, so a file can move without a hunt through the code:

    run = RunFolder(path)
    run.rows("seeds")            # 01_seed/records.jsonl, or MissingInputError naming the stage
    run.stats("02_evolve")       # {} when the stage has not run
    rows, role = run.latest_dataset()   # the filtered dataset where 03_filter ran, else the evolved one

Paths resolve from the project's `outputs/`, never from the kernel's working directory.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .io import read_json, read_jsonl

OUTPUTS = Path(__file__).resolve().parent.parent / "outputs"

MANIFEST = "manifest.json"
PARAMS = "params.yaml"
STATS = "stats.json"
DONE = "DONE"
NOTEBOOK = "notebook.ipynb"
FIGURES = "figures"

# role -> run-relative path of the file a stage writes
FILES = {
    "curation": "curation.jsonl",  # marks made in 00_explore, append-only
    "seeds": "01_seed/records.jsonl",
    "seed_drops": "01_seed/dropped.jsonl",
    "attempts": "02_evolve/records.jsonl",  # every evolution attempt, kept or not
    "evolved": "02_evolve/dataset.jsonl",  # seeds + kept evolutions
    "filtered": "03_filter/dataset.jsonl",
    "filter_drops": "03_filter/dropped.jsonl",
    "scored": "04_difficulty/records.jsonl",  # the dataset with scores
    "validation": "04_difficulty/validation.jsonl",
    "near_duplicates": "05_diversity/near_duplicates.jsonl",
    "selection": "05_diversity/selection.jsonl",
    "train_log": "06_finetune/train_log.json",
    "models": "06_finetune/model",  # one folder per variant
    "eval_results": "07_evaluate/results.json",
    "eval_samples": "07_evaluate/samples.jsonl",
}
# The dataset a later stage works on, most processed first.
DATASET_ROLES = ("filtered", "evolved")


class MissingInputError(FileNotFoundError):
    pass


def stage_of(role: str) -> str:
    """The stage that writes a role's file ('' for run-level files)."""
    rel = FILES[role]
    return rel.split("/", 1)[0] if "/" in rel else ""


class RunFolder:
    def __init__(self, path: Path | str):
        self.path = Path(path).expanduser().resolve()

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

    def manifest(self) -> dict:
        if not self.is_run():
            raise MissingInputError(f"{self.path} is not a run folder (no {MANIFEST})")
        return read_json(self.manifest_file)

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

    def role_of(self, stage: str, filename: str) -> str | None:
        """The role of a stage's file named the old way (stage, filename); None when it has none."""
        return next((r for r, rel in FILES.items() if rel == f"{stage}/{filename}"), None)

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
