"""07_evaluate's judging step: every comparison and grade of the candidates' answers, per
judging unit (an item's turn), and the figures the paper reads off them.

    results, samples = evaluate(None, items, answers, [["evolved", "seeds"]], judge, protocol="scores")

results   items, units, judge, protocol,
          pairs       {first_vs_second: {overall, status, by_skill, by_bucket[, by_turn]}}
          tie_half    {pair: the multi-turn benchmark's (wins + ties/2) / n, beside the strict count}
          length_controlled {pair: win rate at equal answer length (tokens), with an interval}
          single      {cand: mean 1-10 grade overall and per bucket[, by_turn]}
          capacity    score sums as a share of the reference candidate's, per skill and bucket
          lengths     {cand: words and tokens, mean and median, overall and per bucket}
          verifiable, claims
samples   one row per item: answers (the reply to its last turn), pairwise / single (the
          judgment of that turn), and for a multi-turn item turn_answers, pairwise_turns,
          single_turns (every turn)

A number the judge cannot support says so: when a pair's two orders mostly disagree (pairwise
status "undetermined"), its tie-half and length-controlled rates carry headline "undetermined"
beside the figures, and so does a capacity computed from that judge's scores. Capacity comes
from the pairwise scores under protocol "scores" (the paper's, after Vicuna: each pair with the
reference candidate), else from the single grades.
"""

from __future__ import annotations

import functools

from workbench.stages.evaluate import checks as CK
from workbench.stages.evaluate import pairwise as PW
from workbench.stages.evaluate import protocols as PR
from workbench.stages.evaluate.capacity import capacity
from workbench.stages.evaluate.eval_sets import item_turns
from workbench.stages.evaluate.lengths import answer_lengths, length_controlled
from workbench.stages.evaluate.tie_half import tie_half

TOKENIZER = "SmolLM2-135M-Instruct (the embedded model's tokenizer, the same for every run)"


@functools.cache
def embedded_token_counter():
    """Token counts by one fixed tokenizer, so lengths compare across runs and judges."""
    from transformers import AutoTokenizer

    from workbench.llm.weights import embedded_model_dir

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def pair_name(first: str, second: str) -> str:
    return f"{first}_vs_{second}"


def reply_at(answer, t: int) -> str | None:
    """A candidate's reply to turn t (0-based), or None."""
    replies = PR.replies_upto(answer, t)
    return replies[-1] if replies else None


def evaluate(st, items: list[dict], answers: dict, pairs: list, judge, judge_mode: str = "auto",
             min_mass: float = 0.5, single_scoring: bool = True, verifiable: bool = True, *,
             protocol: str = "verdict", reference_candidate: str = "", seed: int = 0,
             count_tokens=None, tokenizer: str = TOKENIZER) -> tuple[dict, list[dict]]:
    """-> (results, samples) as in the module docstring. answers[cand][i]: the replies to item
    i, one per turn (a plain string for one turn), or None when the candidate has none."""
    if not items:
        raise ValueError("07_evaluate: no eval item to evaluate; check evaluate.eval_set, its field mapping and evaluate.n")
    count_tokens = count_tokens or embedded_token_counter()
    us = PR.units(items)
    unit_items, turns = [items[i] for i, _ in us], [t + 1 for _, t in us]
    texts = {c: [reply_at(a[i], t) for i, t in us] for c, a in answers.items()}
    tokens = {c: [None if x is None else count_tokens(x) for x in xs] for c, xs in texts.items()}
    results: dict = {"items": len(items), "units": len(us), "judge": judge.model_id, "protocol": protocol,
                     "pairs": {}, "tie_half": {}, "length_controlled": {}, "single": {}, "verifiable": {},
                     "claims": [], "lengths": answer_lengths(unit_items, texts, count_tokens, tokenizer)}
    per_unit: dict = {"pairwise": {}, "single": {}}
    pair_scores = {}
    for first, second in pairs:
        name = pair_name(first, second)
        js = PR.judge_pairs(items, answers[first], answers[second], judge, judge_mode, min_mass, protocol=protocol)
        outcomes = [j["outcome"] for j in js]
        res = results["pairs"][name] = PW.aggregate(unit_items, outcomes, turns)
        results["claims"].append(PW.claim_beats(name, res))
        results["tie_half"][name] = _flagged(tie_half(outcomes), res)
        results["length_controlled"][name] = _flagged(
            length_controlled(outcomes, tokens[first], tokens[second], seed=seed) | {"length_unit": "tokens"}, res)
        per_unit["pairwise"][name] = js
        if protocol == "scores":
            pair_scores[(first, second)] = ([j["score_first"] for j in js], [j["score_second"] for j in js], res)
    for cand in answers:
        if single_scoring:
            grades = PR.grade_single(items, answers[cand], judge, protocol, judge_mode, min_mass)
            results["single"][cand] = PW.rating_summary(unit_items, [g["rating"] for g in grades], turns)
            per_unit["single"][cand] = grades
        if verifiable:
            checked = [(i, CK.evaluate_item(texts[cand][k], items[i]["checks"]))
                       for k, (i, t) in enumerate(us) if t == len(item_turns(items[i])) - 1
                       and items[i].get("checks") and texts[cand][k] is not None]
            results["verifiable"][cand] = CK.accuracy([r for _, r in checked]) if checked else None
            per_unit.setdefault("verifiable", {})[cand] = dict(checked)
    reference = reference_candidate or (pairs[0][1] if pairs else next(iter(answers), ""))
    results["capacity"] = capacity_result(unit_items, reference, pair_scores, per_unit["single"], seed)
    return results, samples_of(items, us, answers, texts, per_unit)


def _flagged(figure: dict, pair: dict) -> dict:
    """A pair's derived win rate, with the headline the pair's judge can support."""
    if pair["status"] == "determined":
        return figure | {"headline": figure["win_rate"]}
    return figure | {"headline": "undetermined",
                     "headline_reason": "the judge's two orders mostly disagree or fail on this pair "
                                        f"(order consistency {pair['overall']['order_consistency']})"}


def capacity_result(unit_items: list[dict], reference: str, pair_scores: dict, single: dict, seed: int) -> dict:
    """Capacity of each candidate against the reference: from the pairwise scores of each pair
    that has the reference in it (protocol scores), else from the single grades."""
    out: dict = {"reference": reference, "candidates": {}}
    if pair_scores:
        out["source"] = "pairwise_scores"
        for (first, second), (s_first, s_second, res) in pair_scores.items():
            if reference not in (first, second):
                continue
            other, mine, ref = (second, s_second, s_first) if first == reference else (first, s_first, s_second)
            got = capacity(unit_items, {other: mine, reference: ref}, reference, seed=seed)
            out["threshold"] = got["threshold"]
            cand = got["candidates"][other] | {"pair": pair_name(first, second)}
            out["candidates"][other] = _status(res["status"] == "determined",
                                               "the judge's two orders mostly disagree on this pair", cand)
        if not out["candidates"]:
            out["reason"] = f"no pair compares a candidate with the reference {reference!r}"
        return out
    out["source"] = "single"
    if reference not in single:
        out["reason"] = ("no single grades (evaluate.single_scoring is off)" if not single
                         else f"the reference {reference!r} is not a candidate")
        return out
    got = capacity(unit_items, {c: [g["rating"] for g in gs] for c, gs in single.items()}, reference, seed=seed)
    out["threshold"] = got["threshold"]
    ref_nulls = sum(g["rating"] is None for g in single[reference])
    for cand, res in got["candidates"].items():
        nulls = sum(g["rating"] is None for g in single[cand])
        ok = max(nulls, ref_nulls) <= len(unit_items) / 2
        out["candidates"][cand] = _status(ok, f"the judge gave no readable grade to {nulls} of {cand}'s and "
                                              f"{ref_nulls} of {reference}'s {len(unit_items)} answers", res)
    return out


def _status(ok: bool, why: str, result: dict) -> dict:
    """The candidate's capacity with its status; an undetermined one says so in its headline."""
    if ok:
        return result | {"status": "determined"}
    return result | {"status": "undetermined", "status_reason": why,
                     "headline": result["headline"] | {"statement": f"undetermined: {why}"}}


def samples_of(items: list[dict], us: list, answers: dict, texts: dict, per_unit: dict) -> list[dict]:
    """One row per item: its last turn's reply and judgments; every turn's where it has several."""
    last = {i: k for k, (i, _) in enumerate(us)}  # units run in turn order within an item
    samples = []
    for i, item in enumerate(items):
        k = last[i]
        row = dict(item, answers={c: texts[c][k] for c in texts})
        row["pairwise"] = {name: js[k] for name, js in per_unit["pairwise"].items()}
        if per_unit["single"]:
            row["single"] = {c: gs[k] for c, gs in per_unit["single"].items()}
        if per_unit.get("verifiable"):
            row["verifiable"] = {c: r[i] for c, r in per_unit["verifiable"].items() if i in r}
        if len(item_turns(item)) > 1:
            ks = [j for j, (u, _) in enumerate(us) if u == i]
            row["turn_answers"] = {c: answers[c][i] for c in answers}
            row["pairwise_turns"] = {name: [js[j] for j in ks] for name, js in per_unit["pairwise"].items()}
            row["single_turns"] = {c: [gs[j] for j in ks] for c, gs in per_unit["single"].items()}
        samples.append(row)
    return samples

