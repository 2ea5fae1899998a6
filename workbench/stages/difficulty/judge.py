"""How hard is an instruction? Three views, each null with a reason when it can't be had.

  judge  an LLM rates difficulty 1-10 (the paper's method), via `rating.rate`: the expected
         rating from token probabilities where the backend has them, else a parsed integer.
  ifd    instruction-following difficulty (Cherry LLM), see `ifd.py`.
  cheap  words, constraint markers, requested steps, input length, bracket nesting.

`validate()` is the gate every difficulty figure carries: Spearman of the judge against human
labels with a bootstrap 95% interval, beside a word-count baseline on the same items. The
judge is `validated` only when its whole interval lies above the baseline's rho.
"""

from __future__ import annotations

import re

from workbench.core import templates
from workbench.core.records import full_text
from workbench.core.stats import mean_ci, spearman, verdict
from workbench.llm.rating import rate

CONSTRAINT_MARKERS = re.compile(
    r"\b(must|should|exactly|at least|at most|no more than|fewer than|less than|without|only|"
    r"ensure|make sure|do not|don't|avoid|include|limit|within|format|each|every|step[- ]by[- ]step)\b", re.I)
STEP_MARKERS = re.compile(r"(^\s*(\d+[.)]|[-*•])\s+)|\b(steps?|first|then|finally|next|afterwards)\b", re.I | re.M)
BOOTSTRAP = 1000


def judge_prompt(rec: dict) -> list[dict]:
    return [{"role": "user", "content": templates.load("difficulty_judge").render(instruction=full_text(rec))}]


def judge_difficulty(records: list[dict], generator, mode: str = "auto", min_mass: float = 0.1,
                     max_new_tokens: int = 6) -> list[dict]:
    """One result per record: {difficulty, difficulty_reason, difficulty_mode, difficulty_mass | difficulty_raw}."""
    return rate([judge_prompt(r) for r in records], generator, mode, min_mass, max_new_tokens, key="difficulty")


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


def word_count(rec: dict) -> int:
    return len(full_text(rec).split())


def validate(rows: list[dict], labels: list, judge_scores: list, seed: int = 0) -> dict:
    """The judge against human labels, beside the word-count baseline on the SAME items (those
    the judge could score), each with a bootstrap 95% interval, and a verdict:
    validated      the judge's interval lies wholly above the baseline's rho
    not validated  otherwise
    undetermined   fewer than 3 items could be compared (or rho undefined)
    """
    scored = [(r, lab, s) for r, lab, s in zip(rows, labels, judge_scores) if s is not None and lab is not None]
    judge = spearman([s for _, _, s in scored], [lab for _, lab, _ in scored], BOOTSTRAP, seed)
    baseline = spearman([word_count(r) for r, _, _ in scored], [lab for _, lab, _ in scored], BOOTSTRAP, seed)
    if judge["rho"] is None or judge["lo"] is None:
        status = "undetermined"
    elif baseline["rho"] is not None and judge["lo"] <= baseline["rho"]:
        status = "not validated"
    else:
        status = "validated"
    return {"verdict": status, "judge": judge, "baseline_word_count": baseline,
            "labelled": len(rows), "scored": len(scored), "coverage": round(len(scored) / len(rows), 4) if rows else None}


def claim_difficulty_rises(records: list[dict], key: str, judge_verdict: str, seed: int = 0) -> dict:
    """The paper's first claim, "evolution makes instructions harder", as Spearman(depth, score)
    with a bootstrap interval: depth counts the successful evolutions behind a record, while a
    round also holds parents evolved again after a failure. Spearman(round, score) is kept
    beside it. An unvalidated judge's scores cannot support or refute it; records written
    before depth was recorded are judged by round, and the claim says so."""
    scores = [(r.get("scores") or {}).get(key) for r in records]
    by = "depth" if all("depth" in r for r in records) else "round"
    rho = spearman([r[by] for r in records], scores, BOOTSTRAP, seed)
    status = verdict(rho.get("lo"), rho.get("hi"))
    if judge_verdict != "validated":
        status = "undetermined"
    return {"id": "difficulty_rises",
            "statement": f"difficulty rises with {by} (Spearman of {by} vs judge score > 0)",
            "verdict": status, "judge_validation": judge_verdict, "by": by, f"spearman_{by}": rho,
            "spearman_round": rho if by == "round" else spearman([r["round"] for r in records], scores, BOOTSTRAP, seed)}


def summarise(records: list[dict], key: str) -> dict:
    """Per round, per depth and per op: mean + CI of scores[key], and how many were null (by
    reason). Rows written before depth was recorded are left out of by_depth."""
    out: dict = {"overall": mean_ci([r["scores"].get(key) for r in records]), "by_round": {}, "by_depth": {},
                 "by_op": {}, "nulls": {}}
    for rnd in sorted({r["round"] for r in records}):
        out["by_round"][str(rnd)] = mean_ci([r["scores"].get(key) for r in records if r["round"] == rnd])
    for depth in sorted({r["depth"] for r in records if "depth" in r}):
        out["by_depth"][str(depth)] = mean_ci([r["scores"].get(key) for r in records if r.get("depth") == depth])
    for op in sorted({r["op"] or "seed" for r in records}):
        out["by_op"][op] = mean_ci([r["scores"].get(key) for r in records if (r["op"] or "seed") == op])
    for r in records:
        if r["scores"].get(key) is None:
            why = r["scores"].get(f"{key}_reason") or "unknown"
            out["nulls"][why] = out["nulls"].get(why, 0) + 1
    return out
