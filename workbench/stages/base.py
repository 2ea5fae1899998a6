"""What a notebook needs from its run folder: paths, the run section, generators, stats.

    st = open_stage(run_dir, "02_evolve")
    seeds = st.rows("seeds")                # earlier stages' files, by role (core/stage_table.py)
    gen = st.generator(model)               # cached; stats land in stats.json
    st.write_rows("attempts", records)      # this stage's own files, by role
    st.write_stats({...})

A stage reads only files in the run folder, never another notebook's kernel state.
"""

from __future__ import annotations

from pathlib import Path

from workbench.core import progress
from workbench.core.io import write_json, write_jsonl
from workbench.core.run_folder import (
    FILES,
    STATS,
    MissingInputError,
    RunFolder,
    latest_run,
    stage_of,
)
from workbench.core.run_section import with_defaults
from workbench.llm import Generator, get_generator

__all__ = ["MissingInputError", "Stage", "open_stage"]


class Stage:
    def __init__(self, run_dir: Path | str, name: str):
        self.run_dir = Path(run_dir).resolve()
        self.name = name
        self.dir = self.run_dir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.folder = RunFolder(self.run_dir)
        self.params = self.folder.params()
        self.run = with_defaults(self.params["run"])  # a run folder from before a run key existed
        self._generators: list[Generator] = []

    @property
    def limit(self) -> int:
        return int(self.run["limit"])

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
        d = self.folder.figures_dir(self.name)
        d.mkdir(exist_ok=True)
        return d

    def figure(self, fig, name: str) -> Path:
        """Save a figure as figures/<name>.html (with its PNG and SVG) and show it."""
        from workbench.core import plots

        path = plots.save(fig, self.figures_dir() / f"{name}.html")
        fig.show()
        return path

    def figures(self, named: list[tuple[str, object]]) -> list[Path]:
        """figure() for each (name, figure): a stage whose number of figures depends on its params."""
        return [self.figure(fig, name) for name, fig in named]

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
        # the runner's progress line where it watches, else a bar in the notebook
        gen = get_generator(model or self.run["model"], self.run, self.folder.cache_file, stage_dir=self.dir,
                            tracker=progress.tracker, bar=not progress.watched())
        self._generators.append(gen)
        return gen

    def llm_stats(self) -> list[dict]:
        return [dict(g.stats) for g in self._generators]

    def write_stats(self, stats: dict) -> Path:
        out = dict(stats)
        if self._generators:
            out["llm"] = self.llm_stats()
        path = self.path(STATS)
        write_json(path, out)
        return path


def open_stage(run_dir: str, name: str) -> Stage:
    """The runner passes run_dir; opened by hand in JupyterLab, an empty run_dir means the latest run."""
    return Stage(run_dir or latest_run().path, name)
