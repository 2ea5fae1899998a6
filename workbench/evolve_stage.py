"""Stage 02_evolve: M rounds of evolve -> answer -> eliminate (workbench/evolve.py).

    res = run(open_stage(run_dir, "02_evolve"), Config.from_namespace(globals()))

Reads 01_seed/records.jsonl (role "seeds"), capped at run.limit.

Writes, in the stage folder:
  records.jsonl   every record: the seeds (answered where they had no response), then every
                  attempt with id, root_id, parent_id, round, op, format, instruction, input,
                  response, status (kept | eliminated | failed), reasons (rule names of
                  workbench/rules.py), model, gen, template_sha, answer_model, answer_gen,
                  checks {equal_judge, leaked_phrases}, error (failed only)
  dataset.jsonl   the seeds with a response plus every kept evolution, shuffled with run.seed
  figures/eliminations_by_rule.html, figures/eliminations_by_round.html

Stats keys (evolve_stats):
  seeds, seeds_answered, rounds, attempts, status, kept_rate, rules (those applied),
  reasons, reason_share, by_rule_op_round {reason: {op: {round: n}}},
  attempts_by_op_round, kept_by_op_round, judge_verdicts, judge_verdict_sources,
  unchecked_kept, unchecked_kept_share, backend_failures, dataset, llm

After writing everything the stage fails when more than max_failure_rate of the records
failed at the model backend, so a broken backend never passes as a poor evolver.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, fields

from . import eliminate as E
from . import rules as R
from . import templates
from .config import StageConfig
from .evolve import run_evolution
from .records import OPS
from .stage import Stage


@dataclass(frozen=True)
class Config(StageConfig):
    rounds: int = 4
    ops: tuple = ("add_constraints", "deepening", "concretizing", "increase_reasoning", "complicate_input", "breadth")
    op_weights: tuple = (1, 1, 1, 1, 1, 1)
    formats: tuple = ("JSON", "XML", "SQL", "CSV table", "Python code", "HTML", "LaTeX", "shell command")
    model: str = ""
    answer_model: str = ""
    judge_model: str = ""
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 160
    answer_temperature: float = 0.0
    answer_max_new_tokens: int = 192
    answer_seeds: bool = True
    rules: tuple = ("empty", "too_long", "unchanged", "prompt_leak", "input_lost", "empty_response",
                    "sorry_short_response", "degenerate_response", "no_information_gain")
    judge_unparsable: str = "keep"
    judge_min_mass: float = 0.5
    sorry_max_words: int = 80
    max_instruction_chars: int = 2000
    max_failure_rate: float = 0.2

    def __post_init__(self):
        for name in ("ops", "op_weights", "formats", "rules"):
            if isinstance(getattr(self, name), list):  # a notebook passes lists
                object.__setattr__(self, name, tuple(getattr(self, name)))
        if errors := check_config({f.name: getattr(self, f.name) for f in fields(self)}):
            raise ValueError("; ".join(errors))


@dataclass
class Result:
    stats: dict
    records: list[dict]  # seeds, then every attempt
    dataset: list[dict]


def check_config(values: dict) -> list[str]:
    """Checks on the evolve section that types alone cannot catch (run before work)."""
    errs = R.check_names("evolve", values.get("rules", list(Config.rules)))
    ops, weights = list(values.get("ops", OPS)), values.get("op_weights")
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        errs.append(f"evolve.ops: unknown op(s) {unknown} (known: {', '.join(OPS)})")
    if not ops:
        errs.append("evolve.ops: enable at least one op")
    if weights is not None and len(weights) != len(ops):
        errs.append(f"evolve.op_weights: {len(weights)} weights for {len(ops)} ops")
    elif weights is not None and (any(not isinstance(w, int | float) or w < 0 for w in weights) or sum(weights) <= 0):
        errs.append("evolve.op_weights: weights must be >= 0 with a positive sum")
    bad_formats = [f for f in values.get("formats", []) if f not in templates.FORMATS]
    if bad_formats:
        errs.append(f"evolve.formats: unknown format(s) {bad_formats} (known: {', '.join(templates.FORMATS)})")
    return errs


def run(st: Stage, cfg: Config, log=print) -> Result:
    """The whole stage: evolve the seeds, write records, dataset and stats, then the failure gate."""
    seeds = st.rows("seeds")
    seeds = seeds[: st.limit] if st.limit else seeds
    evolver = st.generator(cfg.model)
    answerer = st.generator(cfg.answer_model) if cfg.answer_model else evolver
    judge = st.generator(cfg.judge_model) if cfg.judge_model else evolver
    seed = int(st.run["seed"])
    log(f"{len(seeds)} seeds, {cfg.rounds} rounds, evolver {evolver.model_id}")
    evolution = run_evolution(seeds, cfg, evolver, answerer, judge, seed=seed, log=log)
    records = evolution.records
    data = dataset(records, seed)
    st.write_rows("attempts", records)
    st.write_rows("evolved", data)
    stats = evolve_stats(evolution.seeds, evolution.attempts, cfg) | {"dataset": len(data)}
    st.write_stats(stats)
    log(unchecked_banner(stats))
    check_failure_rate(records, cfg.max_failure_rate)
    return Result(stats, records, data)


def _nested(counts: dict) -> dict:
    return {op: dict(sorted(c.items())) for op, c in counts.items()}


def evolve_stats(seeds: list[dict], attempts: list[dict], cfg: Config) -> dict:
    """Counts per status, per reason x op x round, and keep rates per op and round."""
    by_rule: dict = defaultdict(lambda: defaultdict(Counter))
    tried, kept = defaultdict(Counter), defaultdict(Counter)
    for a in attempts:
        tried[a["op"]][a["round"]] += 1
        if a["status"] == "kept":
            kept[a["op"]][a["round"]] += 1
        for reason in a["reasons"]:
            by_rule[reason][a["op"]][a["round"]] += 1
    n = len(attempts)
    reasons = Counter(r for a in attempts for r in a["reasons"])
    judged = [a.get("checks", {}).get("equal_judge") for a in attempts]
    verdicts = Counter(j["verdict"] for j in judged if j)
    sources = Counter(j["source"] for j in judged if j)
    kept_evolved = [a for a in attempts if a["status"] == "kept"]
    # kept without a readable Equal / Not Equal verdict: the information-gain rule never ran on them
    unchecked = sum(a.get("checks", {}).get("equal_judge", {}).get("verdict", E.UNPARSABLE) == E.UNPARSABLE
                    for a in kept_evolved)
    return {
        "seeds": len(seeds),
        "seeds_answered": sum(1 for s in seeds if s.get("response")),
        "rounds": cfg.rounds,
        "attempts": n,
        "status": dict(Counter(a["status"] for a in attempts)),
        "kept_rate": round(len(kept_evolved) / n, 4) if n else None,
        "rules": list(cfg.rules),
        "reasons": dict(reasons.most_common()),
        "reason_share": {r: round(c / n, 4) for r, c in reasons.most_common()} if n else {},
        "by_rule_op_round": {r: _nested(ops) for r, ops in by_rule.items()},
        "attempts_by_op_round": _nested(tried),
        "kept_by_op_round": _nested(kept),
        "judge_verdicts": dict(verdicts),
        "judge_verdict_sources": dict(sources),
        "unchecked_kept": unchecked,
        "unchecked_kept_share": round(unchecked / len(kept_evolved), 4) if kept_evolved else None,
        "backend_failures": reasons.get("backend_error", 0),
    }


def dataset(records: list[dict], seed: int) -> list[dict]:
    """Seeds + every kept evolution, shuffled with the run seed (seeds need an answer)."""
    rows = [r for r in records if r["status"] == "kept" and r.get("response")]
    random.Random(seed).shuffle(rows)
    return rows


def unchecked_banner(stats: dict) -> str:
    """One line on how many kept evolutions no judge checked for information gain."""
    share = stats.get("unchecked_kept_share")
    if share is None:
        return "no evolution was kept"
    return (f"{'WARNING: ' if share > 0.2 else ''}{stats['unchecked_kept']} of "
            f"{stats['status'].get('kept', 0)} kept evolutions ({share:.0%}) were never checked for "
            f"information gain (no readable Equal / Not Equal verdict, or the rule is off)")


def check_failure_rate(records: list[dict], max_failure_rate: float) -> None:
    """Fail the stage when more than max_failure_rate of the model-called items failed."""
    failed = sum(r["status"] == "failed" for r in records)
    tried = len(records)
    if tried and failed / tried > max_failure_rate:
        raise RuntimeError(f"{failed} of {tried} items failed at the model backend (more than max_failure_rate="
                           f"{max_failure_rate}); records.jsonl keeps every attempt; check the backend and resume")
