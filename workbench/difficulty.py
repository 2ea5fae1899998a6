"""How hard is an instruction? Three views, each null with a reason when it can't be had.

  judge  an LLM rates difficulty 1-10 (the paper's method). Where the backend exposes token
         probabilities the score is the expected rating, sum(r * P(r)) over "1".."10";
         otherwise the integer parsed from its reply. Unparsable -> None, never a default.
  ifd    instruction-following difficulty (Cherry LLM): mean answer loss given the
         instruction / mean answer loss alone. > 1 means the instruction does not help.
  cheap  words, constraint markers, requested steps, input length, bracket nesting.

`validate()` reports Spearman of every score against human labels, next to a word-count
baseline, so a user can see whether the judge beats counting words.
"""

from __future__ import annotations

import math
import re

import numpy as np

from . import templates
from .records import full_text

RATINGS = [str(r) for r in range(1, 11)]
CONSTRAINT_MARKERS = re.compile(
    r"\b(must|should|exactly|at least|at most|no more than|fewer than|less than|without|only|"
    r"ensure|make sure|do not|don't|avoid|include|limit|within|format|each|every|step[- ]by[- ]step)\b", re.I)
STEP_MARKERS = re.compile(r"(^\s*(\d+[.)]|[-*•])\s+)|\b(steps?|first|then|finally|next|afterwards)\b", re.I | re.M)


def judge_prompt(rec: dict) -> list[dict]:
    return [{"role": "user", "content": templates.load("difficulty_judge").render(instruction=full_text(rec))}]


def parse_rating(text: str | None) -> int | None:
    """First integer 1..10 standing alone in the reply: "7" -> 7, "Rating: 10/10" -> 10, "eleven" -> None."""
    if not text:
        return None
    m = re.search(r"(?<![\d.])(10|[1-9])(?![\d.]\d)", text)
    return int(m.group(1)) if m else None


def expected_rating(probs: dict[str, float] | None, min_mass: float) -> tuple[float | None, str | None, float]:
    """-> (score, reason if None, probability mass the model put on valid ratings)."""
    if probs is None:
        return None, "no_token_probabilities", 0.0
    mass = sum(probs.values())
    if mass < min_mass:
        return None, "rating_mass_low", mass
    return sum(int(r) * p for r, p in probs.items()) / mass, None, mass


def judge_difficulty(records: list[dict], generator, mode: str = "auto", min_mass: float = 0.05,
                     max_new_tokens: int = 6) -> list[dict]:
    """One result per record: {difficulty, difficulty_reason, difficulty_mode, difficulty_mass, difficulty_raw}."""
    return rate([judge_prompt(r) for r in records], generator, mode, min_mass, max_new_tokens, key="difficulty")


def rate(prompts: list[list[dict]], generator, mode: str = "auto", min_mass: float = 0.05,
         max_new_tokens: int = 6, key: str = "rating") -> list[dict]:
    """A 1-10 rating per prompt: the expected rating from token probabilities where the backend
    has them (mode auto/expected), else the integer parsed from a short reply (auto/parsed).
    -> [{key, key_reason, key_mode, ...}]; a rating that could not be had is None with a reason."""
    from .llm import GenParams

    results: list[dict] = [{} for _ in prompts]
    need_text = list(range(len(prompts)))
    if mode in ("auto", "expected"):
        probs = generator.choice_probs(prompts, RATINGS)
        need_text = []
        for i, p in enumerate(probs):
            score, reason, mass = expected_rating(p, min_mass)
            results[i] = {key: score, f"{key}_reason": reason, f"{key}_mode": "expected",
                          f"{key}_mass": round(mass, 4)}
            if p is None and mode == "auto":
                need_text.append(i)
    if need_text:
        outs = generator.generate([prompts[i] for i in need_text], GenParams(max_new_tokens=max_new_tokens))
        for i, c in zip(need_text, outs):
            rating = parse_rating(c.text) if c.ok else None
            reason = None if rating is not None else ("backend_error" if not c.ok else "unparsable")
            results[i] = {key: float(rating) if rating is not None else None, f"{key}_reason": reason,
                          f"{key}_mode": "parsed", f"{key}_raw": c.text if c.ok else c.error}
    return results


def ifd_scores(records: list[dict], backend, max_length: int = 1024) -> list[dict]:
    """{ifd, ifd_reason, loss_given_instruction, loss_alone} per record (needs a local model)."""
    answers = [r.get("response") or "" for r in records]
    cond = backend.answer_losses([full_text(r) for r in records], answers, max_length)
    alone = backend.answer_losses([None] * len(records), answers, max_length)
    out = []
    for a, c, s in zip(answers, cond, alone):
        if not a.strip():
            out.append({"ifd": None, "ifd_reason": "no_response"})
        elif c is None or s is None or s <= 0:
            out.append({"ifd": None, "ifd_reason": "answer_too_short"})
        else:
            out.append({"ifd": c / s, "ifd_reason": None, "loss_given_instruction": c, "loss_alone": s})
    return out


def _nesting(text: str) -> int:
    depth = best = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            best = max(best, depth)
        elif ch in ")]}" and depth:
            depth -= 1
    return best


def cheap_features(rec: dict) -> dict:
    """{"words": 12, "constraints": 2, "steps": 1, "input_words": 0, "nesting": 0}"""
    text = full_text(rec)
    return {
        "words": len(rec["instruction"].split()),
        "constraints": len(CONSTRAINT_MARKERS.findall(text)),
        "steps": len(STEP_MARKERS.findall(text)),
        "input_words": len((rec.get("input") or "").split()),
        "nesting": _nesting(text),
    }


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):  # ties share their mean rank
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(x: list, y: list) -> dict:
    """Rank correlation over the pairs where both values exist: {"rho", "n"} (rho None if n < 3
    or a side is constant)."""
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None
             and not (isinstance(a, float) and math.isnan(a))]
    if len(pairs) < 3:
        return {"rho": None, "n": len(pairs)}
    a, b = (np.array(v, dtype=float) for v in zip(*pairs))
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return {"rho": None, "n": len(pairs)}
    return {"rho": round(float(np.corrcoef(ra, rb)[0, 1]), 4), "n": len(pairs)}


def validate(rows: list[dict], labels: list, scores: dict[str, list]) -> dict:
    """Spearman of each score against labels, plus the word-count baseline."""
    report = {name: spearman(vals, labels) for name, vals in scores.items()}
    report["baseline_word_count"] = spearman([len(full_text(r).split()) for r in rows], labels)
    return report


def mean_ci(values: list) -> dict:
    """Mean with a normal-approximation 95% interval over non-null values."""
    v = np.array([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return {"mean": None, "lo": None, "hi": None, "n": 0}
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    m = float(v.mean())
    return {"mean": round(m, 4), "lo": round(m - half, 4), "hi": round(m + half, 4), "n": int(len(v))}


def summarise(records: list[dict], key: str) -> dict:
    """Per round and per op: mean + CI of scores[key], and how many were null (by reason)."""
    out: dict = {"overall": mean_ci([r["scores"].get(key) for r in records]), "by_round": {}, "by_op": {},
                 "nulls": {}}
    for rnd in sorted({r["round"] for r in records}):
        out["by_round"][str(rnd)] = mean_ci([r["scores"].get(key) for r in records if r["round"] == rnd])
    for op in sorted({r["op"] or "seed" for r in records}):
        out["by_op"][op] = mean_ci([r["scores"].get(key) for r in records if (r["op"] or "seed") == op])
    for r in records:
        if r["scores"].get(key) is None:
            why = r["scores"].get(f"{key}_reason") or "unknown"
            out["nulls"][why] = out["nulls"].get(why, 0) + 1
    return out
