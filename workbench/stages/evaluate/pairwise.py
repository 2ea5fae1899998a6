"""Judging candidates the way the paper did: pairwise, in both orders, by difficulty bucket.

What the judge is asked and how its reply is read is protocols.py (verdict, rationale, scores);
this module turns the verdicts into outcomes and the outcomes into figures.
A pairwise verdict is asked twice, with the replies swapped. Per judging unit (an item's turn),
for the first candidate:
  win / loss     both orders agree on it
  tie            both orders say Tie
  undetermined   the orders disagree, or a verdict is unreadable (too little probability on
                 A / B / Tie, or no verdict in the text)
  error          an answer or a judge call failed: recorded with its reason, never judged
Win rate is wins / (wins + losses) over decided items with a Wilson 95% interval and a
two-sided sign test. The headline is "undetermined" when the judge is uninformative: order
consistency below 0.5, or more than half the units undetermined or in error. Every unit counts
once, so a 2-turn item weighs twice overall; by_turn shows each turn on its own.
Buckets by human difficulty label: easy < 5, medium 5 to < 8, hard >= 8 (the paper's hard).
"""

from __future__ import annotations

import re
from collections import defaultdict

from workbench.core.stats import mean_ci, sign_test, verdict, wilson
from workbench.stages.evaluate.eval_sets import item_turns

VERDICTS = ["A", "B", "Tie"]
BUCKETS = (("easy", float("-inf"), 5), ("medium", 5, 8), ("hard", 8, float("inf")))
OUTCOMES = ("win", "tie", "loss", "undetermined", "error")
MIN_CONSISTENCY = 0.5


def bucket(difficulty) -> str:
    """easy < 5 <= medium < 8 <= hard: 4.5 -> easy, 7.5 -> medium, 8 -> hard, None -> unlabelled."""
    if not isinstance(difficulty, int | float) or isinstance(difficulty, bool):
        return "unlabelled"
    return next(name for name, lo, hi in BUCKETS if lo <= difficulty < hi)


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


def _turn_numbers(items: list[dict], turns: list[int] | None) -> list[int] | None:
    """Each unit's 1-based turn when any item has more than one turn (then by_turn is reported),
    else None. Multi-turn units without their turn numbers cannot be told apart: an error."""
    if not any(len(item_turns(it)) > 1 for it in items):
        return None
    if turns is None or len(turns) != len(items):
        raise ValueError("multi-turn items: pass each unit's turn number (turns=[judgment['turn'], ...])")
    return turns


def _by_turn(turns: list[int], values: list, summarise) -> dict:
    groups: dict = defaultdict(list)
    for t, v in zip(turns, values):
        groups[t].append(v)
    return {str(t): summarise(groups[t]) for t in sorted(groups)}


def aggregate(items: list[dict], outcomes: list[str], turns: list[int] | None = None) -> dict:
    """Outcomes of judging units -> {overall, status, by_skill, by_bucket[, by_turn]}. items[k]
    is unit k's item (a 2-turn item appears twice), turns[k] its 1-based turn; by_turn
    ({"1": summary, "2": ...}) is there when any item has more than one turn."""
    by_skill: dict = defaultdict(list)
    by_bucket: dict = defaultdict(list)
    for item, o in zip(items, outcomes):
        by_skill[item.get("skill") or "unlabelled"].append(o)
        by_bucket[bucket(item.get("difficulty"))].append(o)
    overall = summary(outcomes)
    out = {
        "overall": overall,
        "status": "determined" if overall["headline"] != "undetermined" else "undetermined",
        "by_skill": {k: summary(v) for k, v in sorted(by_skill.items())},
        "by_bucket": {k: summary(by_bucket[k]) for k in [b[0] for b in BUCKETS] + ["unlabelled"] if k in by_bucket},
    }
    numbers = _turn_numbers(items, turns)
    if numbers is not None:
        out["by_turn"] = _by_turn(numbers, outcomes, summary)
    return out


def rating_summary(items: list[dict], ratings: list, turns: list[int] | None = None) -> dict:
    """Single grades of judging units (None where there is none) -> {overall, nulls, by_bucket
    (every bucket, mean_ci each)[, by_turn]}; items and turns per unit as in aggregate."""
    out = {"overall": mean_ci(ratings), "nulls": sum(r is None for r in ratings),
           "by_bucket": {b: mean_ci([r for r, it in zip(ratings, items) if bucket(it.get("difficulty")) == b])
                         for b, *_ in BUCKETS}}
    numbers = _turn_numbers(items, turns)
    if numbers is not None:
        out["by_turn"] = _by_turn(numbers, ratings, mean_ci)
    return out


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
