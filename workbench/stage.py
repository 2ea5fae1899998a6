"""What a notebook needs from its run folder: paths, the run section, generators, stats.

    st = open_stage(run_dir, "02_evolve")
    seeds = st.rows("seeds")                # earlier stages' files, by role (run_folder.FILES)
    gen = st.generator(model)               # cached; stats land in stats.json
    st.write_rows("attempts", records)      # this stage's own files, by role
    st.write_stats({...})

A stage reads only files in the run folder, never another notebook's kernel state.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .io import read_jsonl, write_json, write_jsonl
from .llm import Generator, get_generator
from .run_folder import FILES, RunFolder, stage_of

OUTPUTS = Path(__file__).resolve().parent.parent / "outputs"
# The dataset a later stage works on: the filtered one where 03_filter ran, else the evolved one.
DATASETS = ("03_filter/dataset.jsonl", "02_evolve/dataset.jsonl")


def first_existing(run_dir: Path, candidates: tuple[str, ...]) -> str | None:
    """The first of these run-relative paths that exists, or None."""
    return next((c for c in candidates if (Path(run_dir) / c).is_file()), None)


class MissingInputError(FileNotFoundError):
    pass


def latest_run(outputs: Path = OUTPUTS) -> Path:
    runs = sorted(p for p in (outputs / "runs").glob("*") if (p / "manifest.json").exists())
    if not runs:
        raise MissingInputError(f"no runs under {outputs / 'runs'}; start one with `workbench run params/default.yaml`")
    return runs[-1]


class Stage:
    def __init__(self, run_dir: Path | str, name: str):
        self.run_dir = Path(run_dir).resolve()
        self.name = name
        self.dir = self.run_dir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        params_file = self.run_dir / "params.yaml"
        if not params_file.is_file():
            raise MissingInputError(f"{self.run_dir} is not a run folder (no params.yaml)")
        self.params = yaml.safe_load(params_file.read_text(encoding="utf-8"))
        self.run = self.params["run"]
        self.cache_dir = self.run_dir.parent.parent / "cache"
        self.folder = RunFolder(self.run_dir)
        self._generators: list[Generator] = []

    @property
    def limit(self) -> int:
        return int(self.run.get("limit") or 0)

    def capped(self, rows: list[dict], by: str = "round", limit: int = 0) -> list[dict]:
        """At most `limit` rows (default run.limit; the smaller when both are set), taken in
        turn from each group (e.g. each round), so a small run still covers every group."""
        cap = min(x for x in (limit, self.limit, len(rows)) if x) if rows else 0
        if cap >= len(rows):
            return rows
        groups: dict = {}
        for r in rows:
            groups.setdefault(r.get(by), []).append(r)
        picked, queues = [], [list(g) for g in groups.values()]
        while len(picked) < cap:
            for q in queues:
                if q and len(picked) < cap:
                    picked.append(q.pop(0))
        return picked

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    def figures_dir(self) -> Path:
        d = self.dir / "figures"
        d.mkdir(exist_ok=True)
        return d

    def input_path(self, stage: str, filename: str) -> Path:
        path = self.run_dir / stage / filename
        if not path.is_file():
            raise MissingInputError(f"{self.name} needs {stage}/{filename} in {self.run_dir}; run stage {stage} first")
        return path

    def read_input(self, stage: str, filename: str) -> list[dict]:
        return read_jsonl(self.input_path(stage, filename))

    def read_first(self, candidates: tuple[str, ...] = DATASETS) -> tuple[list[dict], str]:
        """Rows of the first candidate file that exists, and its run-relative path."""
        found = first_existing(self.run_dir, candidates)
        if found is None:
            raise MissingInputError(f"{self.name} needs one of {', '.join(candidates)} in {self.run_dir}; "
                                    "run the earlier stages first")
        return read_jsonl(self.run_dir / found), found

    def rows(self, role: str) -> list[dict]:
        """Rows of an earlier stage's file, by role; MissingInputError naming the stage to run."""
        return self.folder.rows(role)

    def latest_dataset(self) -> tuple[list[dict], str]:
        """The filtered dataset where 03_filter ran, else the evolved one, and its role."""
        return self.folder.latest_dataset()

    def out(self, role: str) -> Path:
        """Where this stage writes a role's file; a stage writes only its own files."""
        if stage_of(role) != self.name:
            raise ValueError(f"{self.name} cannot write {FILES[role]} (it belongs to {stage_of(role)})")
        return self.folder.file(role)

    def write_rows(self, role: str, rows) -> int:
        return write_jsonl(self.out(role), rows)

    def generator(self, model: str = "") -> Generator:
        gen = get_generator(model or self.run["model"], self.run, self.cache_dir)
        self._generators.append(gen)
        return gen

    def llm_stats(self) -> list[dict]:
        return [dict(g.stats) for g in self._generators]

    def write_stats(self, stats: dict) -> Path:
        out = dict(stats)
        if self._generators:
            out["llm"] = self.llm_stats()
        path = self.path("stats.json")
        write_json(path, out)
        return path


def open_stage(run_dir: str, name: str) -> Stage:
    """The runner passes run_dir; opened by hand in JupyterLab, an empty run_dir means the latest run."""
    return Stage(run_dir or latest_run(), name)
