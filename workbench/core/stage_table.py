"""The pipeline, declared once: every stage, its notebook, its package, what it reads and writes.

The runner, params validation, the run folder and the command line all read this table; adding
a stage means one row here, one notebook `notebooks/<name>.py` and one package holding its
`Config` (a pipeline stage: `workbench/stages/<section>/stage.py`; an interactive notebook:
`workbench/explore/<section>.py`).

    >>> stage("evolve").name, stage("02_evolve").section
    ('02_evolve', 'evolve')
    >>> stage("evolve").files["attempts"]
    '02_evolve/records.jsonl'
    >>> [s.name for s in pipeline()][:3]
    ['01_seed', '02_evolve', '03_filter']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


@dataclass(frozen=True)
class StageSpec:
    name: str  # the notebook's stem and the stage folder's name: "02_evolve"
    writes: tuple[tuple[str, str], ...] = ()  # (role, file name in the stage folder)
    # what the stage cannot start without: each entry is a set of roles, any one of which will do
    reads: tuple[tuple[str, ...], ...] = ()
    interactive: bool = False  # for people in JupyterLab, never run by the runner
    doc: str = field(default="", compare=False)

    @property
    def section(self) -> str:
        """The params section: the name without its number ("evolve")."""
        return self.name.split("_", 1)[1]

    @property
    def notebook(self) -> Path:
        return NOTEBOOKS_DIR / f"{self.name}.py"

    @property
    def module(self) -> str:
        """The module holding the stage's Config (and run() for pipeline stages)."""
        return f"workbench.explore.{self.section}" if self.interactive else f"workbench.stages.{self.section}.stage"

    @property
    def files(self) -> dict[str, str]:
        """role -> run-relative path of each file this stage writes."""
        return {role: f"{self.name}/{name}" for role, name in self.writes}

    def config_class(self):
        return importlib.import_module(self.module).Config


STAGES: tuple[StageSpec, ...] = (
    StageSpec("00_explore", interactive=True, doc="evolution-tree browser, curation marks"),
    StageSpec("01_seed", writes=(("seeds", "records.jsonl"), ("seed_drops", "dropped.jsonl")),
              doc="load and normalise seeds"),
    StageSpec("02_evolve", reads=(("seeds",),),
              writes=(("attempts", "records.jsonl"),  # every evolution attempt, kept or not
                      ("evolved", "dataset.jsonl")),  # seeds + kept evolutions
              doc="M rounds of evolve -> answer -> eliminate"),
    StageSpec("03_filter", reads=(("evolved",),),
              writes=(("filtered", "dataset.jsonl"), ("filter_drops", "dropped.jsonl")),
              doc="dedup, near-dup, length, decontamination"),
    StageSpec("04_difficulty", reads=(("filtered", "evolved"),),
              writes=(("scored", "records.jsonl"), ("validation", "validation.jsonl")),
              doc="judge difficulty, IFD, cheap features"),
    StageSpec("05_diversity", reads=(("scored", "filtered", "evolved"),),
              writes=(("near_duplicates", "near_duplicates.jsonl"), ("selection", "selection.jsonl")),
              doc="embeddings, diversity metrics, Deita-style selection"),
    StageSpec("06_finetune", reads=(("filtered", "evolved"),),
              writes=(("train_log", "train_log.json"), ("models", "model")),  # model/<variant>/
              doc="SFT of dataset variants"),
    StageSpec("07_evaluate", writes=(("eval_results", "results.json"), ("eval_samples", "samples.jsonl")),
              doc="candidates answer, judges compare"),
    StageSpec("08_compare", interactive=True, doc="runs side by side, human ratings beside the judge"),
    # ratings go to 07_evaluate/, beside the samples they rate (explore/human_ratings.py)
    StageSpec("09_human_eval", interactive=True, doc="blind human rating of 07's answers, 1-5, per rater, resumable"),
)
RUN_FILES = {"curation": "curation.jsonl"}  # run-level files: marks made in 00_explore, append-only


def pipeline() -> list[StageSpec]:
    """The stages the runner executes, in order."""
    return [s for s in STAGES if not s.interactive]


def stage(name: str) -> StageSpec:
    """A stage by name ("02_evolve") or section ("evolve"); KeyError listing the stages."""
    for s in STAGES:
        if name in (s.name, s.section):
            return s
    raise KeyError(f"unknown stage {name!r} (stages: {', '.join(s.name for s in STAGES)})")


def all_files() -> dict[str, str]:
    """role -> run-relative path, for every file any stage writes, in pipeline order."""
    out = dict(RUN_FILES)
    for s in STAGES:
        out |= s.files
    return out
