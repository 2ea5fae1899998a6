"""Stage 02_evolve: M rounds of evolve -> answer -> eliminate (workbench/stages/evolve/loop.py).

    res = run(open_stage(run_dir, "02_evolve"), Config.from_namespace(globals()))

Reads 01_seed/records.jsonl (role "seeds"), capped at run.limit.

Writes, in the stage folder:
  records.jsonl   every record: the seeds (answered where they had no response), then every
                  attempt with id, root_id, parent_id, round, op, format, instruction, input,
                  response, status (kept | eliminated | failed), reasons (rule names of
                  workbench/core/rules.py), model, gen, template_sha, answer_model, answer_gen,
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

import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from workbench.core import rules as R
from workbench.core import templates
from workbench.core.config import StageConfig
from workbench.core.io import JsonlWriter, iter_jsonl, read_jsonl
from workbench.core.packs import Pack, PackError, load_pack
from workbench.core.run_folder import FILES
from workbench.stages.base import Stage
from workbench.stages.evolve import rules as E
from workbench.stages.evolve.loop import run_evolution


@dataclass(frozen=True)
class Config(StageConfig):
    rounds: int = 4
    templates: str = "general"
    ops: tuple = ()
    op_weights: tuple = ()
    formats: tuple = ("JSON", "XML", "SQL", "CSV table", "Python code", "HTML", "LaTeX", "shell command")
    model: str = ""
    answer_model: str = ""
    judge_model: str = ""
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 160
    answer_temperature: float = 0.0
    answer_max_new_tokens: int = 192
    answer_top_p: float = 1.0
    answer_seeds: bool = True
    reanswer_seeds: bool = False
    rules: tuple = ("empty", "too_long", "unchanged", "prompt_leak", "input_lost", "empty_response",
                    "sorry_short_response", "degenerate_response", "no_information_gain")
    judge_unparsable: str = "keep"
    judge_min_mass: float = 0.5
    sorry_max_words: int = 80
    max_instruction_chars: int = 2000
    max_failure_rate: float = 0.2

    def pack(self) -> Pack:
        return load_pack(self.templates)

    def op_names(self) -> tuple[str, ...]:
        """The ops in use: evolve.ops, or every op of the pack."""
        return tuple(self.ops) or tuple(self.pack().ops)

    def weights(self) -> tuple:
        return tuple(self.op_weights) or (1,) * len(self.op_names())

    def check(self) -> list[str]:
        errs = R.check_names("evolve", self.rules)
        try:
            pack = self.pack()
        except PackError as e:
            return errs + str(e).splitlines()
        ops, weights = self.op_names(), self.weights()
        unknown = [o for o in ops if o not in pack.ops]
        if unknown:
            errs.append(f"evolve.ops: unknown op(s) {unknown} (ops of pack {pack.name}: {', '.join(pack.ops)})")
        if len(weights) != len(ops):
            errs.append(f"evolve.op_weights: {len(weights)} weights for {len(ops)} ops")
        elif any(not isinstance(w, int | float) or w < 0 for w in weights) or sum(weights) <= 0:
            errs.append("evolve.op_weights: weights must be >= 0 with a positive sum")
        bad_formats = [f for f in self.formats if f not in templates.FORMATS]
        if bad_formats:
            errs.append(f"evolve.formats: unknown format(s) {bad_formats} (known: {', '.join(templates.FORMATS)})")
        if not unknown and not (self.answer_seeds or self.reanswer_seeds) and any(
                pack.ops[op].target == "response" for op in ops):
            errs.append(f"evolve.answer_seeds: the ops of pack {pack.name} rewrite answers, so seeds need answers; "
                        "set answer_seeds: true")
        return errs + ([] if unknown else self.format_errors(pack))

    def format_errors(self, pack: Pack) -> list[str]:
        """An op that adds input writes it in one of evolve.formats: none listed would fail
        every such item after the model calls before it were paid for."""
        if self.formats:
            return []
        used = [op for op, w in zip(self.op_names(), self.weights()) if w and pack.ops[op].adds_input]
        return [f"evolve.formats: empty while evolve.ops has {op}; list at least one format, "
                f"or remove {op} from evolve.ops" for op in used]


@dataclass
class Result:
    stats: dict
    records_path: Path  # seeds, then every attempt
    dataset_path: Path

    @property
    def records(self) -> list[dict]:
        return read_jsonl(self.records_path)

    @property
    def dataset(self) -> list[dict]:
        return read_jsonl(self.dataset_path)

    def attempts_table(self, n: int = 20):
        """Kept / eliminated / failed per op, and the first n attempts, as two DataFrames."""
        import pandas as pd

        kept = self.stats["kept_by_op_round"]
        counts = pd.DataFrame([{"op": op, "tried": sum(r.values()), "kept": sum(kept.get(op, {}).values())}
                               for op, r in self.stats["attempts_by_op_round"].items()], columns=["op", "tried", "kept"])
        first = []
        for row in iter_jsonl(self.records_path):
            if row["round"] > 0:
                first.append({k: row.get(k) for k in ("round", "op", "status", "reasons", "instruction")})
                if len(first) == n:
                    break
        return counts, pd.DataFrame(first)


def run(st: Stage, cfg: Config, log=print) -> Result:
    """The whole stage: evolve the seeds, write records, dataset and stats, then the failure gate.

    Records are streamed to records.jsonl as each slice of a round finishes (under a temporary
    name until the stage ends), counted on the way, and never all held in memory; the dataset
    is then drawn from the file by line offsets."""
    seeds = st.rows("seeds")
    seeds = seeds[: st.limit] if st.limit else seeds
    evolver = st.generator(cfg.model)
    answerer = st.generator(cfg.answer_model) if cfg.answer_model else evolver
    judge = st.generator(cfg.judge_model) if cfg.judge_model else evolver
    seed = int(st.run["seed"])
    log(f"{len(seeds)} seeds, {cfg.rounds} rounds, evolver {evolver.model_id}")
    tally = Tally(cfg)
    with JsonlWriter(st.out("attempts")) as out:
        def sink(rows: list[dict]) -> None:
            out.write_all(rows)
            tally.add(rows)

        evolution = run_evolution(seeds, cfg, evolver, answerer, judge, seed=seed, log=log, sink=sink)
    n_data = write_dataset(st.out("attempts"), st.out("evolved"), seed)
    stats = tally.stats(evolution.seeds) | {"dataset": n_data}
    st.write_stats(stats)
    log(unchecked_banner(stats))
    check_failure_rate(tally.failed, tally.records, cfg.max_failure_rate)
    return Result(stats, st.out("attempts"), st.out("evolved"))


def _nested(counts: dict) -> dict:
    return {op: dict(sorted(c.items())) for op, c in counts.items()}


class Tally:
    """Counts per status, per reason x op x round, keep rates per op and round, judge verdicts:
    added to as records stream past, so no list of all attempts is needed."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.by_rule: dict = defaultdict(lambda: defaultdict(Counter))
        self.tried, self.kept = defaultdict(Counter), defaultdict(Counter)
        self.status, self.reasons, self.verdicts, self.sources = Counter(), Counter(), Counter(), Counter()
        self.attempts = self.kept_evolved = self.unchecked = 0
        self.records = self.failed = 0  # every record, seeds included, for the failure gate

    def add(self, rows: list[dict]) -> None:
        for a in rows:
            self.records += 1
            self.failed += a["status"] == "failed"
            if a["round"] == 0:
                continue
            self.attempts += 1
            self.status[a["status"]] += 1
            self.tried[a["op"]][a["round"]] += 1
            judged = a.get("checks", {}).get("equal_judge")
            if judged:
                self.verdicts[judged["verdict"]] += 1
                self.sources[judged["source"]] += 1
            if a["status"] == "kept":
                self.kept[a["op"]][a["round"]] += 1
                self.kept_evolved += 1
                # kept without a readable Equal / Not Equal verdict: the information-gain rule never ran on them
                self.unchecked += (judged or {}).get("verdict", E.UNPARSABLE) == E.UNPARSABLE
            for reason in a["reasons"]:
                self.by_rule[reason][a["op"]][a["round"]] += 1
                self.reasons[reason] += 1

    def stats(self, seeds: list[dict]) -> dict:
        n, kept = self.attempts, self.kept_evolved
        return {
            "seeds": len(seeds),
            "seeds_answered": sum(1 for s in seeds if s.get("response")),
            "rounds": self.cfg.rounds,
            "attempts": n,
            "status": dict(self.status),
            "kept_rate": round(kept / n, 4) if n else None,
            "rules": list(self.cfg.rules),
            "reasons": dict(self.reasons.most_common()),
            "reason_share": {r: round(c / n, 4) for r, c in self.reasons.most_common()} if n else {},
            "by_rule_op_round": {r: _nested(ops) for r, ops in self.by_rule.items()},
            "attempts_by_op_round": _nested(self.tried),
            "kept_by_op_round": _nested(self.kept),
            "judge_verdicts": dict(self.verdicts),
            "judge_verdict_sources": dict(self.sources),
            "unchecked_kept": self.unchecked,
            "unchecked_kept_share": round(self.unchecked / kept, 4) if kept else None,
            "backend_failures": self.reasons.get("backend_error", 0),
        }


def evolve_stats(seeds: list[dict], attempts: list[dict], cfg: Config) -> dict:
    """The stage's stats from records in memory (tests and fixtures build them this way)."""
    tally = Tally(cfg)
    tally.add(attempts)
    return tally.stats(seeds)


def _in_dataset(row: dict) -> bool:
    return row["status"] == "kept" and bool(row.get("response"))


def dataset(records: list[dict], seed: int) -> list[dict]:
    """Seeds + every kept evolution, shuffled with the run seed (seeds need an answer)."""
    rows = [r for r in records if _in_dataset(r)]
    random.Random(seed).shuffle(rows)
    return rows


def write_dataset(records_path: Path, out_path: Path, seed: int) -> int:
    """dataset() of a records file, written without loading it: the byte offsets of the rows
    that belong are shuffled exactly as dataset() shuffles the rows, then copied in that order."""
    offsets = []
    with open(records_path, "rb") as f:
        while line := f.readline():
            if _in_dataset(json.loads(line)):
                offsets.append(f.tell() - len(line))
    random.Random(seed).shuffle(offsets)
    with open(records_path, "rb") as f, JsonlWriter(out_path) as out:
        for offset in offsets:
            f.seek(offset)
            out.write(json.loads(f.readline()))
    return len(offsets)


def unchecked_banner(stats: dict) -> str:
    """One line on how many kept evolutions no judge checked for information gain."""
    share = stats.get("unchecked_kept_share")
    if share is None:
        return "no evolution was kept" if stats.get("attempts") else f"no evolution attempted ({stats.get('rounds')} rounds)"
    return (f"{'WARNING: ' if share > 0.2 else ''}{stats['unchecked_kept']} of "
            f"{stats['status'].get('kept', 0)} kept evolutions ({share:.0%}) were never checked for "
            f"information gain (no readable Equal / Not Equal verdict, or the rule is off)")


def check_failure_rate(failed: int, tried: int, max_failure_rate: float) -> None:
    """Fail the stage when more than max_failure_rate of the model-called items failed."""
    if tried and failed / tried > max_failure_rate:
        raise RuntimeError(f"{failed} of {tried} items failed at the model backend (more than max_failure_rate="
                           f"{max_failure_rate}); {FILES['attempts']} keeps every attempt; check the backend and resume")
