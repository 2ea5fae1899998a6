"""Stage 01_seed: the seed instructions, read, normalised and checked by the seed rules.

    res = run(open_stage(run_dir, "01_seed"), Config.from_namespace(globals()))

Reads seed.source (the bundled set, a JSONL / JSON / CSV file, a `datasets` folder or a hub
name); nothing from the run folder. Drops follow workbench/core/rules.py: `too_long` and
`template_marker` are switched by seed.rules; an unreadable cell, a bad or repeated id, a
missing or non-text field, an empty instruction and a duplicate seed are always dropped (a
seed needs text and one id), and seeds left out by seed.n are `not_sampled`.

Writes, in the stage folder:
  records.jsonl   one seed record per kept seed (workbench/core/records.py): id = root_id, round 0,
                  instruction, input, response (the source's answer or null), status kept,
                  skill and source_id where the source has them
  dropped.jsonl   one row per dropped seed: row (file line), id, reason, instruction (200 chars)
  figures/skills.html

Stats keys:
  source, rows_in, kept, dropped, dropped_by_reason, skipped_lines, skipped_line_details,
  missing_by_field, absent_fields      rows_in = kept + dropped + skipped_lines
  rules                                the switchable seed rules applied
  with_input, with_response, skills    {skill: seeds}, most common first
  source_name, license, provenance_warning
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from workbench.core import rules as R
from workbench.core.config import StageConfig
from workbench.core.fields import FieldError
from workbench.core.tables import SourceError
from workbench.data import BUNDLED
from workbench.stages.base import Stage
from workbench.stages.seed.loaders import FieldMap, SeedLoad, load_seeds, provenance


@dataclass(frozen=True)
class Config(StageConfig):
    source: str = "bundled"
    format: str = "auto"
    instruction_field: str = "instruction"
    input_field: str = "input"
    output_field: str = "output"
    conversations_field: str = "conversations"
    id_field: str = ""
    split: str = "train"
    n: int = 0
    max_chars: int = 20000
    rules: tuple = ("too_long", "template_marker")
    on_bad_line: str = "fail"
    source_name: str = ""
    license: str = ""

    def check(self) -> list[str]:
        return R.check_names("seed", self.rules)

    def preflight(self) -> list[str]:
        """The mapping tried on the file itself, so a field no row has, a bad id field or a file
        that keeps no seed stops the run before any work. Unreadable lines are left to the
        stage, which reports them by line."""
        if self.source != BUNDLED and not Path(self.source).expanduser().exists():
            return []  # hub names load in the stage; the params path check reports a missing file
        try:
            load(self, on_bad_line="skip")
        except (SourceError, FieldError, ValueError) as e:
            return [f"seed.source: {e}"]
        return []

    def field_map(self) -> FieldMap:
        return FieldMap(self.instruction_field, self.input_field, self.output_field, self.conversations_field,
                        self.id_field)


@dataclass
class Result:
    stats: dict
    records: list[dict]


def seed_stats(loaded: SeedLoad, cfg: Config) -> dict:
    stats = loaded.stats() | {"rules": list(cfg.rules)}
    stats["with_input"] = sum(1 for r in loaded.records if r["input"])
    stats["with_response"] = sum(1 for r in loaded.records if r["response"])
    stats["skills"] = dict(Counter(r.get("skill", "unlabelled") for r in loaded.records).most_common())
    stats["source_name"], stats["license"], stats["provenance_warning"] = provenance(
        cfg.source, cfg.source_name, cfg.license)
    return stats


def load(cfg: Config, n: int = 0, seed: int = 0, on_bad_line: str | None = None) -> SeedLoad:
    return load_seeds(cfg.source, cfg.format, cfg.field_map(), n=n, seed=seed,
                      on_bad_line=on_bad_line or cfg.on_bad_line, split=cfg.split, max_chars=cfg.max_chars,
                      rules=cfg.rules)


def run(st: Stage, cfg: Config) -> Result:
    """Load, drop by the seed rules, sample seed.n (capped by run.limit), write, count."""
    cap = min((x for x in (cfg.n, st.limit) if x > 0), default=0)
    loaded = load(cfg, n=cap, seed=st.run["seed"])
    st.write_rows("seeds", loaded.records)
    st.write_rows("seed_drops", loaded.dropped)
    stats = seed_stats(loaded, cfg)
    st.write_stats(stats)
    return Result(stats, loaded.records)
