"""Judging candidates the way the paper did: pairwise, in both orders, by difficulty bucket.

A pairwise verdict is asked twice, with the replies swapped. Per item, for the first candidate:
  win / loss     both orders agree on it
  tie            both orders say Tie
  undetermined   the orders disagree, or a verdict is unreadable (too little probability on
                 A / B / Tie, or no verdict in the text)
  error          an answer or a judge call failed: recorded with its reason, never judged
Win rate is wins / (wins + losses) over decided items with a Wilson 95% interval and a
two-sided sign test. The headline is "undetermined" when the judge is uninformative: order
consistency below 0.5, or more than half the items undetermined or in error.
Buckets by human difficulty label: easy < 5, medium 5 to < 8, hard >= 8 (the paper's hard).
"""

from __future__ import annotations

import re
from collections import defaultdict

from workbench.core import templates
from workbench.core.records import full_text
from workbench.core.stats import sign_test, verdict, wilson

VERDICTS = ["A", "B", "Tie"]
BUCKETS = (("easy", float("-inf"), 5), ("medium", 5, 8), ("hard", 8, float("inf")))
OUTCOMES = ("win", "tie", "loss", "undetermined", "error")
MIN_CONSISTENCY = 0.5


def bucket(difficulty) -> str:
    """easy < 5 <= medium < 8 <= hard: 4.5 -> easy, 7.5 -> medium, 8 -> hard, None -> unlabelled."""
    if not isinstance(difficulty, int | float) or isinstance(difficulty, bool):
        return "unlabelled"
    return next(name for name, lo, hi in BUCKETS if lo <= difficulty < hi)


def pairwise_prompt(item: dict, answer_a: str, answer_b: str) -> list[dict]:
    text = templates.load("pairwise_judge").render(question=full_text(item), answer_a=answer_a, answer_b=answer_b)
    return [{"role": "user", "content": text}]


def single_prompt(item: dict, answer: str) -> list[dict]:
    text = templates.load("single_judge").render(question=full_text(item), answer=answer)
    return [{"role": "user", "content": text}]


def parse_pair_verdict(text: str | None) -> str | None:
    """"A" / "B" / "Tie" from a judge reply, None if unreadable.

    "A" -> A; "Verdict: B." -> B; "[[A]]" -> A; "tie" -> Tie; "Assistant B is better" -> B;
    "A and B are both fine" -> None (no single verdict stated first)."""
    if not text:
        return None
    t = text.strip()
    m = re.match(r"^\W*(?:verdict\s*[:\-]\s*)?\W*(A|B|tie)\b(?!\s+and\b)", t, re.I)
    if m:
        v = m.group(1)
        return "Tie" if v.lower() == "tie" else v.upper()
    m = re.search(r"\[\[(A|B|tie)\]\]|\b(?:assistant|reply)\s+(A|B)\b", t, re.I)
    if m:
        v = m.group(1) or m.group(2)
        return "Tie" if v.lower() == "tie" else v.upper()
    return None


def verdict_from_probs(probs: dict[str, float] | None, min_mass: float) -> str | None:
    """The most probable of A / B / Tie, or None when the three whole replies together hold
    less than min_mass: the judge was not giving a verdict."""
    if not probs:
        return None
    mass = sum(probs.get(v, 0.0) for v in VERDICTS)
    if mass <= 0 or mass < min_mass:
        return None
    return max(VERDICTS, key=lambda v: probs.get(v, 0.0))


def combine_orders(first_order: str | None, second_order: str | None) -> str:
    """Outcome for the FIRST candidate from (verdict with it as A, verdict with it as B)."""
    as_a = {"A": "win", "B": "loss", "Tie": "tie"}.get(first_order)
    as_b = {"B": "win", "A": "loss", "Tie": "tie"}.get(second_order)
    if as_a is None or as_b is None or as_a != as_b:
        return "undetermined"
    return as_a


def judge_pairs(items: list[dict], answers_1: list, answers_2: list, judge, mode: str = "auto",
                min_mass: float = 0.5) -> list[dict]:
    """Both orders for every item -> [{order_1, order_2, outcome, error?}] for candidate 1.
    An answer that is None (its call failed) makes the item an error without a judge call."""
    from workbench.llm import GenParams

    live = [i for i in range(len(items)) if answers_1[i] is not None and answers_2[i] is not None]
    p1 = [pairwise_prompt(items[i], answers_1[i], answers_2[i]) for i in live]
    p2 = [pairwise_prompt(items[i], answers_2[i], answers_1[i]) for i in live]
    raw1: list = [None] * len(live)
    raw2: list = [None] * len(live)
    errors: dict[int, str] = {}
    probs1 = judge.choice_probs(p1, VERDICTS) if mode in ("auto", "probs") else [None] * len(live)
    probs2 = judge.choice_probs(p2, VERDICTS) if mode in ("auto", "probs") else [None] * len(live)
    v1 = [verdict_from_probs(p, min_mass) for p in probs1]
    v2 = [verdict_from_probs(p, min_mass) for p in probs2]
    if mode == "parsed" or (mode == "auto" and all(p is None for p in probs1 + probs2)):
        g = GenParams(max_new_tokens=8)
        for k, (c1, c2) in enumerate(zip(judge.generate(p1, g), judge.generate(p2, g))):
            raw1[k], raw2[k] = c1.text, c2.text
            v1[k], v2[k] = parse_pair_verdict(c1.text), parse_pair_verdict(c2.text)
            if not (c1.ok and c2.ok):
                errors[k] = f"judge call failed: {c1.error or c2.error}"
    out = [{"order_1": None, "order_2": None, "outcome": "error", "error": "an answer call failed"}
           for _ in items]
    for k, i in enumerate(live):
        out[i] = {"order_1": v1[k], "order_2": v2[k], "raw_1": raw1[k], "raw_2": raw2[k],
                  "outcome": "error" if k in errors else combine_orders(v1[k], v2[k])}
        if k in errors:
            out[i]["error"] = errors[k]
    return out


def summary(outcomes: list[str]) -> dict:
    """Counts, win rate with Wilson interval, sign test, and the headline (a number or "undetermined")."""
    c = {o: outcomes.count(o) for o in OUTCOMES}
    n = len(outcomes)
    decided = c["win"] + c["loss"]
    readable = c["win"] + c["loss"] + c["tie"] + c["undetermined"]
    lo, hi = wilson(c["win"], decided)
    consistency = round((c["win"] + c["loss"] + c["tie"]) / readable, 4) if readable else None
    informative = (consistency is not None and consistency >= MIN_CONSISTENCY
                   and c["undetermined"] + c["error"] <= n / 2 and decided > 0)
    rate = round(c["win"] / decided, 4) if decided else None
    return dict(c, n=n, win_rate=rate, win_rate_lo=lo, win_rate_hi=hi, sign_test_p=sign_test(c["win"], c["loss"]),
                order_consistency=consistency, headline=rate if informative else "undetermined")


def aggregate(items: list[dict], outcomes: list[str]) -> dict:
    by_skill: dict = defaultdict(list)
    by_bucket: dict = defaultdict(list)
    for item, o in zip(items, outcomes):
        by_skill[item.get("skill") or "unlabelled"].append(o)
        by_bucket[bucket(item.get("difficulty"))].append(o)
    overall = summary(outcomes)
    return {
        "overall": overall,
        "status": "determined" if overall["headline"] != "undetermined" else "undetermined",
        "by_skill": {k: summary(v) for k, v in sorted(by_skill.items())},
        "by_bucket": {k: summary(by_bucket[k]) for k in [b[0] for b in BUCKETS] + ["unlabelled"] if k in by_bucket},
    }


def claim_beats(name: str, result: dict) -> dict:
    """The paper's third claim for one comparison: the first candidate beats the second
    (win rate > 0.5), most on hard items. Undetermined when the judge was uninformative."""
    o = result["overall"]
    status = verdict(o["win_rate_lo"], o["win_rate_hi"], 0.5) if result["status"] == "determined" else "undetermined"
    hard = result["by_bucket"].get("hard", {})
    return {"id": "evolved_tuned_wins", "comparison": name,
            "statement": f"{name.replace('_vs_', ' beats ')} (win rate > 0.5), most on hard items",
            "verdict": status, "win_rate": o["win_rate"], "interval": [o["win_rate_lo"], o["win_rate_hi"]],
            "order_consistency": o["order_consistency"],
            "hard": {k: hard.get(k) for k in ("win_rate", "win_rate_lo", "win_rate_hi", "n")} if hard else None}
