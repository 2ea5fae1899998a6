"""Judging candidates the way the paper did: pairwise, in both orders, by difficulty bucket.

A pairwise verdict is asked twice, with the replies swapped. A candidate wins an item only
when both orders agree; anything else is a tie, and the share of items where the two orders
disagree is reported as position bias. Scores are (W + 0.5 T) / N overall, per skill and per
difficulty bucket (easy 1-4, medium 5-7, hard 8-10).
"""

from __future__ import annotations

import re
from collections import defaultdict

from . import templates
from .records import full_text

VERDICTS = ["A", "B", "Tie"]
BUCKETS = (("easy", 1, 4), ("medium", 5, 7), ("hard", 8, 10))


def bucket(difficulty) -> str:
    if difficulty is None:
        return "unlabelled"
    for name, lo, hi in BUCKETS:
        if lo <= difficulty <= hi:
            return name
    return "unlabelled"


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


def verdict_from_probs(probs: dict[str, float] | None) -> str | None:
    if not probs or sum(probs.values()) <= 0:
        return None
    return max(VERDICTS, key=lambda v: probs.get(v, 0.0))


def combine_orders(first_order: str | None, second_order: str | None) -> tuple[str, bool]:
    """Outcome for the FIRST candidate from (verdict with it as A, verdict with it as B).

    -> ("win" | "loss" | "tie", orders_disagree). Only agreement gives a win or a loss.
    """
    as_a = {"A": "win", "B": "loss", "Tie": "tie"}.get(first_order)
    as_b = {"B": "win", "A": "loss", "Tie": "tie"}.get(second_order)
    if as_a is None or as_b is None:
        return "tie", True
    if as_a == as_b:
        return as_a, False
    return "tie", True


def _score(c: dict) -> dict:
    n = c["win"] + c["tie"] + c["loss"]
    return dict(c, n=n, score=round((c["win"] + 0.5 * c["tie"]) / n, 4) if n else None)


def aggregate(items: list[dict], outcomes: list[str], disagree: list[bool]) -> dict:
    overall = {"win": 0, "tie": 0, "loss": 0}
    by_skill: dict = defaultdict(lambda: {"win": 0, "tie": 0, "loss": 0})
    by_bucket: dict = defaultdict(lambda: {"win": 0, "tie": 0, "loss": 0})
    for item, o in zip(items, outcomes):
        overall[o] += 1
        by_skill[item.get("skill") or "unlabelled"][o] += 1
        by_bucket[bucket(item.get("difficulty"))][o] += 1
    return {
        "overall": _score(overall),
        "by_skill": {k: _score(v) for k, v in sorted(by_skill.items())},
        "by_bucket": {k: _score(by_bucket[k]) for k in [b[0] for b in BUCKETS] + ["unlabelled"] if k in by_bucket},
        "order_disagreement": round(sum(disagree) / len(disagree), 4) if disagree else None,
    }


def judge_pairs(items: list[dict], answers_1: list[str], answers_2: list[str], judge, mode: str = "auto") -> list[dict]:
    """Both orders for every item -> [{order_1, order_2, outcome, disagree}] for candidate 1."""
    from .llm import GenParams

    p1 = [pairwise_prompt(it, a, b) for it, a, b in zip(items, answers_1, answers_2)]
    p2 = [pairwise_prompt(it, b, a) for it, a, b in zip(items, answers_1, answers_2)]
    if mode in ("auto", "probs"):
        v1 = [verdict_from_probs(p) for p in judge.choice_probs(p1, VERDICTS)]
        v2 = [verdict_from_probs(p) for p in judge.choice_probs(p2, VERDICTS)]
    else:
        v1 = v2 = [None] * len(items)
    raw1 = raw2 = [None] * len(items)
    if mode == "parsed" or (mode == "auto" and all(v is None for v in v1 + v2)):
        g = GenParams(max_new_tokens=8)
        raw1 = [c.text for c in judge.generate(p1, g)]
        raw2 = [c.text for c in judge.generate(p2, g)]
        v1 = [parse_pair_verdict(t) for t in raw1]
        v2 = [parse_pair_verdict(t) for t in raw2]
    out = []
    for a, b, r1, r2 in zip(v1, v2, raw1, raw2):
        outcome, disagree = combine_orders(a, b)
        out.append({"order_1": a, "order_2": b, "outcome": outcome, "disagree": disagree,
                    "raw_1": r1, "raw_2": r2})
    return out
