"""Deita-style data selection: rank by a score, keep a row only if it is far from every row kept.

Deita (Liu et al. 2024, "What makes good data for alignment") ranks by complexity x quality
and embeds the whole conversation. Here:

    complexity   scores[score_field] from 04_difficulty (the judge's 1-10 difficulty)
    quality      a 1-10 rating of the answer, by the same rating routine the difficulty judge
                 uses (`rating.rate`) on the single-answer judge template
    score        "auto": complexity x quality when any row has both, else complexity alone,
                 else (no row has any score) no ranking at all: rows are visited in id order

A row whose score could not be had is never given a default: it is not selected, and it is
counted per reason (`no_complexity`, or the quality judge's own reason such as `no_response`).

    quality = quality_scores(rows, generator)           # [{"quality", "quality_reason", ...}]
    scores, info = selection_scores(complexity, [q["quality"] for q in quality], reasons, "auto")
    kept_ids, report = deita_select(ids, emb, scores, tau=0.9)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from workbench.core import templates
from workbench.core.records import full_text
from workbench.llm.rating import rate
from workbench.stages.diversity.metrics import as_unit

SELECTION_SCORES = ("auto", "complexity_x_quality", "complexity")
SELECTION_TEXTS = ("auto", "instruction", "conversation")


def conversation_text(rec: dict) -> str:
    """Instruction (+ input) and the response, what deita embeds: "Sort.\\n\\n3 1\\n\\n1 3"."""
    return full_text(rec) + (f"\n\n{rec['response']}" if rec.get("response") else "")


def quality_scores(rows: list[dict], generator, mode: str = "auto", min_mass: float = 0.1) -> list[dict]:
    """A 1-10 rating of each row's answer: {quality, quality_reason, quality_mode, ...}.

    Rows without a response are not sent to the judge: quality None, reason `no_response`."""
    out: list[dict] = [{"quality": None, "quality_reason": "no_response"} for _ in rows]
    todo = [i for i, r in enumerate(rows) if (r.get("response") or "").strip()]
    prompts = [[{"role": "user", "content": templates.load("single_judge").render(
        question=full_text(rows[i]), answer=rows[i]["response"])}] for i in todo]
    for i, res in zip(todo, rate(prompts, generator, mode, min_mass, key="quality") if todo else []):
        out[i] = res
    return out


def _number(v) -> float | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return float(v) if ok else None


def selection_scores(complexity: Sequence, quality: Sequence | None, quality_reasons: Sequence | None = None,
                     mode: str = "auto") -> tuple[list[float | None] | None, dict]:
    """The score each row is ranked by, and {"score_used", "scored", "unscored_by_reason"}.

    Returns scores None when no row has any score under "auto": visit rows in id order.

    >>> s, info = selection_scores([4.0, 6.0, None], [5.0, None, 7.0], [None, "no_response", None])
    >>> s, info["score_used"], info["unscored_by_reason"]
    ([20.0, None, None], 'complexity_x_quality', {'no_complexity': 1, 'no_response': 1})
    """
    if mode not in SELECTION_SCORES:
        raise ValueError(f"selection_score must be one of {', '.join(SELECTION_SCORES)}, got {mode!r}")
    c = [_number(v) for v in complexity]
    q = [_number(v) for v in quality] if quality is not None else [None] * len(c)
    q_why = list(quality_reasons) if quality_reasons is not None else ["quality_not_computed"] * len(c)
    both = any(a is not None and b is not None for a, b in zip(c, q))
    used = mode if mode != "auto" else (
        "complexity_x_quality" if both else "complexity" if any(a is not None for a in c) else "none")
    if used == "none":
        return None, {"score_used": "none", "scored": 0, "unscored_by_reason": {},
                      "note": "no row has a complexity score (04_difficulty has not run?): rows are "
                              "visited in id order, a selection by diversity alone"}
    reasons: Counter = Counter()
    scores: list[float | None] = []
    for a, b, why in zip(c, q, q_why):
        if a is None:
            reasons["no_complexity"] += 1
            scores.append(None)
        elif used == "complexity":
            scores.append(a)
        elif b is None:
            reasons[why or "no_quality"] += 1
            scores.append(None)
        else:
            scores.append(a * b)
    return scores, {"score_used": used, "scored": sum(s is not None for s in scores),
                    "unscored_by_reason": dict(sorted(reasons.items()))}


def deita_select(ids: Sequence[str], emb, scores: Sequence | None, tau: float, budget: int = 0,
                 chunk: int = 256) -> tuple[list[str], dict]:
    """Best score first, keep an item only if it is not too close to any item ALREADY KEPT
    (max cosine < tau), stop once `budget` items are kept (0: no budget).

    Items are visited by score descending, ties by id; `scores=None` visits every item in id
    order. An item whose score is None (or NaN) is never selected: it is counted in
    `missing_scores`. The kept set is an incremental faiss IndexFlatIP; candidates are checked
    a chunk at a time against it, and inside the chunk against the ones kept earlier in the
    same chunk, so the result equals the one-by-one loop. Of two near-identical items the
    better-scored one is kept.

    Report: candidates = kept + rejected_by_tau + not_reached_budget + missing_scores.

    >>> deita_select(["a", "b", "c"], [[1, 0], [0.99, 0.14], [0, 1]], [1.0, 5.0, None], tau=0.9)[0]
    ['b']
    """
    import faiss

    x = as_unit(emb)
    n = len(ids)
    if len(x) != n or (scores is not None and len(scores) != n):
        raise ValueError(f"ids, emb and scores differ in length: {n}, {len(x)}, {len(scores or [])}")
    values = [0.0] * n if scores is None else [_number(s) for s in scores]
    order = sorted((i for i in range(n) if values[i] is not None), key=lambda i: (-values[i], str(ids[i])))
    index = faiss.IndexFlatIP(x.shape[1]) if n else None
    kept: list[int] = []
    rejected = visited = 0
    for s in range(0, len(order), chunk):
        cand = order[s:s + chunk]
        xc = x[cand]
        prior = index.search(xc, 1)[0][:, 0] if index.ntotal else np.full(len(cand), -np.inf, np.float32)
        within = xc @ xc.T
        local: list[int] = []
        for t, i in enumerate(cand):
            if budget and len(kept) >= budget:
                break
            visited += 1
            if prior[t] >= tau or (local and within[t, local].max() >= tau):
                rejected += 1
                continue
            local.append(t)
            kept.append(i)
        if local:
            index.add(np.ascontiguousarray(xc[local]))
        if budget and len(kept) >= budget:
            break
    report = {"tau": tau, "budget": budget, "candidates": n, "kept": len(kept),
              "rejected_by_tau": rejected, "not_reached_budget": len(order) - visited,
              "missing_scores": n - len(order)}
    return [ids[i] for i in kept], report
