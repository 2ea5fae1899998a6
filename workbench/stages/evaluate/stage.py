"""07_evaluate, the stage: candidates answer the eval set; a judge compares them and scores them.

    res = run(open_stage(run_dir, "07_evaluate"), Config.from_namespace(globals()))

Reads    06_finetune/train_log.json (role train_log): each tuned variant's model_dir (role models,
         06_finetune/model/<variant>/: an adapter or whole weights, as 06 saved them) and the base
         model string; the eval set (bundled or a file)
         an answers file per "answers:<path>" candidate (answer_files.py), read before any model call
Writes   results.json (role eval_results)  {items, units, judge, protocol, eval_set, models,
                         answer_generators, answer_errors, unanswered, pairs: {first_vs_second:
                         {overall, status, by_skill, by_bucket[, by_turn]}}, tie_half,
                         length_controlled, single, capacity, lengths, verifiable, claims}
                         (judging.py says what each holds)
         samples.jsonl (role eval_samples)  one row per item: the item, each candidate's answer
                         (null + error when its call failed), pairwise verdicts both orders,
                         single scores, checks; every turn's for a multi-turn item
Stats    items, eval_set, judge, protocol, pairs, single, capacity, verifiable, claims, llm
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from workbench.core import plots
from workbench.core.config import StageConfig
from workbench.core.io import write_json
from workbench.core.records import VARIANTS
from workbench.core.run_folder import FILES, MissingInputError, RunFolder
from workbench.stages.evaluate import answer_files as AF
from workbench.stages.evaluate import checks as CK
from workbench.stages.evaluate import eval_sets
from workbench.stages.evaluate import pairwise as PW
from workbench.stages.evaluate.answering import answer_all
from workbench.stages.evaluate.capacity import capacity_figure
from workbench.stages.evaluate.judging import evaluate
from workbench.stages.evaluate.protocols import check_protocol


@dataclass(frozen=True)
class Config(StageConfig):
    eval_set: str = "bundled"
    instruction_field: str = "instruction"
    input_field: str = "input"
    skill_field: str = "skill"
    difficulty_field: str = "difficulty"
    checks_field: str = "checks"
    id_field: str = "id"
    turns_field: str = ""
    reference_field: str = ""
    checks_format: str = "auto"
    n: int = 0
    candidates: tuple = ("seeds", "evolved")
    pairs: tuple = (("evolved", "seeds"),)
    judge_model: str = ""
    judge_mode: str = "auto"
    protocol: str = "verdict"
    reference_candidate: str = ""
    min_mass: float = 0.5
    answer_max_new_tokens: int = 256
    single_scoring: bool = True
    verifiable: bool = True

    def preflight(self) -> list[str]:
        errors = check_protocol(self.protocol, self.judge_mode)
        cands = list(self.candidates)
        errors += [f"evaluate.pairs: {list(p)} compares {c!r}, which is not in evaluate.candidates {cands}"
                   for p in self.pairs for c in p if c not in cands]
        if self.reference_candidate and self.reference_candidate not in cands:
            errors.append(f"evaluate.reference_candidate: {self.reference_candidate!r} is not in evaluate.candidates "
                          f"{cands}")
        return errors + eval_sets.check_evaluate_config(self)


@dataclass
class Result:
    results: dict        # as written to results.json
    samples: list[dict]  # as written to samples.jsonl
    eval_set_summary: str  # what the eval-set load kept and dropped


def run(st, cfg: Config) -> Result:
    """The whole stage: load items, resolve candidates, answer, judge, write, stats."""
    items, report = eval_sets.load_eval_items(
        cfg.eval_set, instruction_field=cfg.instruction_field, input_field=cfg.input_field,
        skill_field=cfg.skill_field, difficulty_field=cfg.difficulty_field, checks_field=cfg.checks_field,
        id_field=cfg.id_field, checks_format=cfg.checks_format, read_checks=cfg.verifiable,
        turns_field=cfg.turns_field, reference_field=cfg.reference_field)
    if cfg.verifiable:
        CK.validate_specs([it for it in items if it["checks"]])
    # a subset keeps every difficulty bucket (the paper's high-difficulty analysis needs hard
    # items), with skills mixed by a shuffle seeded by the run seed
    random.Random(st.run["seed"]).shuffle(items)
    items = st.capped([dict(it, bucket=PW.bucket(it["difficulty"])) for it in items], by="bucket", limit=cfg.n)
    models = resolve_candidates(st.folder, cfg.candidates, st.run["model"])
    answers, answer_errors, unanswered = answer_all(st, items, models, cfg.answer_max_new_tokens)
    judge = st.generator(cfg.judge_model)
    results, samples = evaluate(st, items, answers, [list(p) for p in cfg.pairs], judge, cfg.judge_mode,
                                cfg.min_mass, cfg.single_scoring, cfg.verifiable, protocol=cfg.protocol,
                                reference_candidate=cfg.reference_candidate, seed=st.run["seed"])
    results |= {"eval_set": report.stats(), "models": models, "answer_generators": AF.answer_file_generators(models),
                "answer_errors": {c: {str(i): e for i, e in errs.items()} for c, errs in answer_errors.items()},
                "unanswered": {c: {"count": len(why), "of": len(items), "items": why} for c, why in unanswered.items()}}
    write_json(st.out("eval_results"), results)
    st.write_rows("eval_samples", samples)
    st.write_stats({k: results[k] for k in ("items", "eval_set", "judge", "protocol", "pairs", "single", "capacity",
                                            "verifiable", "claims")})
    return Result(results, samples, report.summary())


def resolve_candidates(folder: RunFolder, candidates, run_model: str) -> dict[str, str]:
    """Candidate name -> model string, from what 06_finetune wrote (train_log.json), not its
    params: a variant it trained -> hf:<its model folder> (an adapter folder loads merged into
    its base); "base" -> the base model it tuned (run.model when 06 has not run); any other
    name is a model string. A variant name 06 did not train is an error, not a hub lookup."""
    log = folder.json("train_log") if folder.has("train_log") else {}
    trained = log.get("variants", {})
    models = {}
    for cand in candidates:
        if cand == "base":
            models[cand] = log.get("base_model") or run_model
        elif cand in trained:
            path = folder.path / trained[cand].get("model_dir", f"{FILES['models']}/{cand}")
            if not path.is_dir():
                raise MissingInputError(f"candidate {cand!r}: {FILES['train_log']} lists it but {path} is missing; "
                                        "run 06_finetune again")
            models[cand] = f"hf:{path}"
        elif cand in VARIANTS:
            have = f"it trained {', '.join(trained) or 'nothing'}" if log else f"{FILES['train_log']} is missing"
            raise MissingInputError(f"candidate {cand!r} is a fine-tuned variant, but 06_finetune did not train it "
                                    f"in {folder.path} ({have}); run 06_finetune with finetune.variants including it")
        else:
            models[cand] = cand
    return models


def figure_stem(name: str) -> str:
    """A file name from a comparison or candidate name: an answers file's path loses its slashes."""
    return re.sub(r"[^\w.:-]+", "_", name).strip("_")


def figures(results: dict) -> list[tuple[str, object]]:
    """(file stem, figure) for each comparison by difficulty bucket and by skill, each
    candidate's capacity per skill, then the verifiable-check accuracy where any item had checks."""
    out = []
    for name, res in results["pairs"].items():
        for key, what in (("by_bucket", "difficulty bucket"), ("by_skill", "skill")):
            title = f"{name.replace('_vs_', ' vs ')}: outcomes by {what}"
            out.append((figure_stem(f"{name}_{key}"), plots.outcome_shares(res[key], title, res["status"])))
    cap = results.get("capacity") or {}
    for cand in cap.get("candidates", {}):
        out.append((figure_stem(f"capacity_{cand}"), capacity_figure(cap, cand)))
    fig = plots.verifiable_accuracy(results["verifiable"])
    return out + ([("verifiable", fig)] if fig is not None else [])
