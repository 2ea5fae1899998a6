"""07_evaluate, the stage: candidates answer the eval set; a judge compares them and scores them.

Reads    06_finetune/model/<variant>/ (tuned candidates), the eval set (bundled or a file)
Writes   results.json   {items, judge, models, answer_errors, pairs: {first_vs_second: {overall,
                         status, by_skill, by_bucket}}, single, verifiable, claims}
         samples.jsonl  one row per item: the item, each candidate's answer (null + error when
                         its call failed), pairwise verdicts both orders, single scores, checks
Stats    items, judge, pairs, single, verifiable, claims
"""

from __future__ import annotations

from . import checks as CK
from . import evaluate as EV
from .llm import GenParams
from .rating import rate
from .records import full_text
from .stats import mean_ci


def resolve_candidates(st, candidates: list[str]) -> dict[str, str]:
    """Candidate name -> model string: a variant 06_finetune saved in this run folder, "base"
    (the base model 06 tuned, else run.model), or any model string."""
    base = st.params.get("finetune", {}).get("base_model") or st.run["model"]
    models = {}
    for cand in candidates:
        saved = st.run_dir / "06_finetune" / "model" / cand / "config.json"
        if cand == "base":
            models[cand] = base
        elif saved.is_file():
            models[cand] = "hf:" + str(saved.parent)
        elif cand in st.params.get("finetune", {}).get("variants", []):
            raise FileNotFoundError(f"candidate {cand!r}: 06_finetune did not save {saved}; run 06_finetune first")
        else:
            models[cand] = cand
    return models


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
        verdicts = EV.judge_pairs(items, answers[first], answers[second], judge, judge_mode, min_mass)
        results["pairs"][name] = EV.aggregate(items, [v["outcome"] for v in verdicts])
        results["claims"].append(EV.claim_beats(name, results["pairs"][name]))
        for s, v in zip(samples, verdicts):
            s.setdefault("pairwise", {})[name] = v
    for cand, outs in answers.items():
        live = [i for i, a in enumerate(outs) if a is not None]
        if single_scoring:
            rated = rate([EV.single_prompt(items[i], outs[i]) for i in live], judge,
                         {"probs": "expected"}.get(judge_mode, judge_mode), min_mass)
            scores = dict(zip(live, rated))
            values = [scores[i]["rating"] if i in scores else None for i in range(len(items))]
            results["single"][cand] = {
                "overall": mean_ci(values), "nulls": sum(v is None for v in values),
                "by_bucket": {b: mean_ci([v for v, it in zip(values, items) if EV.bucket(it.get("difficulty")) == b])
                              for b, *_ in EV.BUCKETS}}
            for i, s in enumerate(samples):
                s.setdefault("single", {})[cand] = scores.get(i)
        if verifiable:
            checked = [(i, CK.evaluate_item(outs[i], items[i]["checks"])) for i in live if items[i].get("checks")]
            results["verifiable"][cand] = CK.accuracy([r for _, r in checked]) if checked else None
            for i, r in checked:
                samples[i].setdefault("verifiable", {})[cand] = r
    return results, samples
