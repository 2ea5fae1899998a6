"""Stage 03_filter: post-hoc cleaning of the evolved dataset by the filter rules.

    res = run(open_stage(run_dir, "03_filter"), Config.from_namespace(globals()))

Reads 02_evolve/dataset.jsonl (role "evolved"), 02_evolve/stats.json (for the figure of what
the elimination step removed before), and, when the `contaminated` rule is on, the eval set
(filter.eval_set: "bundled" or a .jsonl file with an instruction field).

The rules (workbench/core/rules.py, switched by filter.rules) run in registry order: lengths in
words, contamination, exact duplicates, near duplicates; a row is dropped by the first that
fires. Rows are visited seeds first, then by round, so the earliest of a duplicate group stays.

Writes, in the stage folder:
  dataset.jsonl   the kept rows, unchanged, in their input order
  dropped.jsonl   the dropped rows, each with drop_reason (a rule name) and drop_detail
  figures/drops_by_reason.html, drops_by_round.html, eliminations_by_rule.html

Stats keys (filter_stats):
  rows_in, kept, dropped (rows_in = kept + dropped), rules (those applied), dropped_by_reason,
  by_reason_op_round {reason: {op or "seed": {round: n}}}, rows_by_op_round, kept_by_round,
  eval_items
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from workbench.core import rules as R
from workbench.core.config import StageConfig
from workbench.core.io import read_jsonl
from workbench.core.records import full_text
from workbench.data import data_path
from workbench.stages.base import Stage
from workbench.stages.filter import rules  # noqa: F401  (registers the rules filter.rules names)
from workbench.stages.filter.filters import filter_dataset


@dataclass(frozen=True)
class Config(StageConfig):
    rules: tuple = ("instruction_too_few_words", "instruction_too_many_words", "response_too_few_words",
                    "response_too_many_words", "contaminated", "exact_duplicate", "near_duplicate")
    near_dup_threshold: float = 0.8
    min_instruction_words: int = 3
    max_instruction_words: int = 400
    min_response_words: int = 1
    max_response_words: int = 2000
    decontam_ngram: int = 8
    eval_set: str = "bundled"

    def check(self) -> list[str]:
        return R.check_names("filter", self.rules)


@dataclass
class Result:
    stats: dict
    kept: list[dict]
    dropped: list[dict]
    evolve_stats: dict  # 02_evolve's stats.json, for the figure of its eliminations


def eval_texts(cfg: Config) -> list[str]:
    """The eval set's instructions (+ inputs), read only when the contaminated rule is on."""
    if "contaminated" not in cfg.rules:
        return []
    return [full_text(r) for r in read_jsonl(data_path(cfg.eval_set, "eval.jsonl"))]


def run(st: Stage, cfg: Config) -> Result:
    rows = st.rows("evolved")
    texts = eval_texts(cfg)
    kept, dropped = filter_dataset(rows, cfg, texts)
    st.write_rows("filtered", kept)
    st.write_rows("filter_drops", dropped)
    stats = filter_stats(rows, kept, dropped, cfg) | {"eval_items": len(texts)}
    st.write_stats(stats)
    return Result(stats, kept, dropped, st.folder.stats("02_evolve"))


def by_op_round(rows: list[dict]) -> dict:
    """{op or "seed": {round: rows}}, the shape the elimination figures take."""
    out: dict = defaultdict(Counter)
    for r in rows:
        out[r["op"] or "seed"][r["round"]] += 1
    return {op: dict(sorted(c.items())) for op, c in out.items()}


def filter_stats(rows: list[dict], kept: list[dict], dropped: list[dict], cfg: Config) -> dict:
    by_reason: dict = defaultdict(list)
    for d in dropped:
        by_reason[d["drop_reason"]].append(d)
    return {
        "rows_in": len(rows), "kept": len(kept), "dropped": len(dropped), "rules": list(cfg.rules),
        "dropped_by_reason": {reason: len(ds) for reason, ds in by_reason.items()},
        "by_reason_op_round": {reason: by_op_round(ds) for reason, ds in by_reason.items()},
        "rows_by_op_round": by_op_round(rows),
        "kept_by_round": {str(k): v for k, v in sorted(Counter(r["round"] for r in kept).items())},
    }
