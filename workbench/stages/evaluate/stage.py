"""07_evaluate, the stage: candidates answer the eval set; a judge compares them and scores them.

    res = run(open_stage(run_dir, "07_evaluate"), Config.from_namespace(globals()))

Reads    06_finetune/train_log.json (role train_log): each tuned variant's model_dir (role models,
         06_finetune/model/<variant>/: an adapter or whole weights, as 06 saved them) and the base
         model string; the eval set (bundled or a file)
Writes   results.json (role eval_results)  {items, judge, eval_set, models, answer_errors,
                         pairs: {first_vs_second: {overall, status, by_skill, by_bucket}}, single,
                         verifiable, claims}
         samples.jsonl (role eval_samples)  one row per item: the item, each candidate's answer
                         (null + error when its call failed), pairwise verdicts both orders,
                         single scores, checks
Stats    items, eval_set, judge, pairs, single, verifiable, claims, llm (stage.write_stats)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from workbench.core import plots
from workbench.core.config import StageConfig
from workbench.core.io import write_json
from workbench.core.records import VARIANTS, full_text
from workbench.core.run_folder import FILES, MissingInputError, RunFolder
from workbench.core.stats import mean_ci
from workbench.llm import GenParams
from workbench.llm.rating import rate
from workbench.stages.evaluate import checks as CK
from workbench.stages.evaluate import eval_sets
from workbench.stages.evaluate import pairwise as PW


@dataclass(frozen=True)
class Config(StageConfig):
    eval_set: str = "bundled"
    instruction_field: str = "instruction"
    input_field: str = "input"
    skill_field: str = "skill"
    difficulty_field: str = "difficulty"
    checks_field: str = "checks"
    id_field: str = "id"
    checks_format: str = "auto"
    n: int = 0
    candidates: tuple = ("seeds", "evolved")
    pairs: tuple = (("evolved", "seeds"),)
    judge_model: str = ""
    judge_mode: str = "auto"
    min_mass: float = 0.5
    answer_max_new_tokens: int = 256
    single_scoring: bool = True
    verifiable: bool = True

    def preflight(self) -> list[str]:
        return eval_sets.check_evaluate_config(self)


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
        id_field=cfg.id_field, checks_format=cfg.checks_format, read_checks=cfg.verifiable)
    if cfg.verifiable:
        CK.validate_specs([it for it in items if it["checks"]])
    # a subset keeps every difficulty bucket (the paper's high-difficulty analysis needs hard
    # items), with skills mixed by a shuffle seeded by the run seed
    random.Random(st.run["seed"]).shuffle(items)
    items = st.capped([dict(it, bucket=PW.bucket(it["difficulty"])) for it in items], by="bucket", limit=cfg.n)
    models = resolve_candidates(st.folder, cfg.candidates, st.run["model"])
    answers, answer_errors = answer_all(st, items, models, cfg.answer_max_new_tokens)
    judge = st.generator(cfg.judge_model)
    results, samples = evaluate(st, items, answers, [list(p) for p in cfg.pairs], judge, cfg.judge_mode,
                                cfg.min_mass, cfg.single_scoring, cfg.verifiable)
    results |= {"eval_set": report.stats(), "models": models,
                "answer_errors": {c: {str(i): e for i, e in errs.items()} for c, errs in answer_errors.items()}}
    write_json(st.out("eval_results"), results)
    st.write_rows("eval_samples", samples)
    st.write_stats({k: results[k] for k in ("items", "eval_set", "judge", "pairs", "single", "verifiable", "claims")})
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


def figures(results: dict) -> list[tuple[str, object]]:
    """(file stem, figure) for each comparison by difficulty bucket and by skill, then the
    verifiable-check accuracy where any item had checks."""
    out = []
    for name, res in results["pairs"].items():
        for key, what in (("by_bucket", "difficulty bucket"), ("by_skill", "skill")):
            title = f"{name.replace('_vs_', ' vs ')}: outcomes by {what}"
            out.append((f"{name}_{key}", plots.outcome_shares(res[key], title, res["status"])))
    fig = plots.verifiable_accuracy(results["verifiable"])
    return out + ([("verifiable", fig)] if fig is not None else [])


def answer_all(st, items: list[dict], models: dict[str, str], max_new_tokens: int) -> tuple[dict, dict]:
    """-> ({candidate: [answer or None]}, {candidate: {item index: error}}): a failed call is an
    error with its reason, never an empty answer that the judge would score as a loss."""
    gen = GenParams(max_new_tokens=max_new_tokens)
    answers, errors = {}, {}
    for cand, model in models.items():
        outs = st.generator(model).generate([[{"role": "user", "content": full_text(it)}] for it in items], gen)
        answers[cand] = [c.text if c.ok else None for c in outs]
        errors[cand] = {i: c.error for i, c in enumerate(outs) if not c.ok}
    return answers, errors


def evaluate(st, items: list[dict], answers: dict, pairs: list, judge, judge_mode: str, min_mass: float,
             single_scoring: bool, verifiable: bool) -> tuple[dict, list[dict]]:
    """-> (results, samples) for the pairwise comparisons, single scores and verifiable checks."""
    if not items:
        raise ValueError("07_evaluate: no eval item to evaluate; check evaluate.eval_set, its field mapping and evaluate.n")
    results: dict = {"items": len(items), "judge": judge.model_id, "pairs": {}, "single": {}, "verifiable": {},
                     "claims": []}
    samples = [dict(it, answers={c: answers[c][i] for c in answers}) for i, it in enumerate(items)]
    for first, second in pairs:
        name = f"{first}_vs_{second}"
        verdicts = PW.judge_pairs(items, answers[first], answers[second], judge, judge_mode, min_mass)
        results["pairs"][name] = PW.aggregate(items, [v["outcome"] for v in verdicts])
        results["claims"].append(PW.claim_beats(name, results["pairs"][name]))
        for s, v in zip(samples, verdicts):
            s.setdefault("pairwise", {})[name] = v
    for cand, outs in answers.items():
        live = [i for i, a in enumerate(outs) if a is not None]
        if single_scoring:
            rated = rate([PW.single_prompt(items[i], outs[i]) for i in live], judge,
                         {"probs": "expected"}.get(judge_mode, judge_mode), min_mass)
            scores = dict(zip(live, rated))
            values = [scores[i]["rating"] if i in scores else None for i in range(len(items))]
            results["single"][cand] = {
                "overall": mean_ci(values), "nulls": sum(v is None for v in values),
                "by_bucket": {b: mean_ci([v for v, it in zip(values, items) if PW.bucket(it.get("difficulty")) == b])
                              for b, *_ in PW.BUCKETS}}
            for i, s in enumerate(samples):
                s.setdefault("single", {})[cand] = scores.get(i)
        if verifiable:
            checked = [(i, CK.evaluate_item(outs[i], items[i]["checks"])) for i in live if items[i].get("checks")]
            results["verifiable"][cand] = CK.accuracy([r for _, r in checked]) if checked else None
            for i, r in checked:
                samples[i].setdefault("verifiable", {})[cand] = r
    return results, samples
