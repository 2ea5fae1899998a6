"""Capacity per skill, the WizardLM paper's figure (after Vicuna): a candidate's judge scores
as a share of a reference model's, summed over the same judging units.

    capacity(units, {"ref": [8, 6, None], "mine": [6, 6, 5]}, "ref")
      -> mine overall: ratio (6 + 6) / (8 + 6) = 0.8571 over n = 2 paired units, nulls = 1

Only units where BOTH candidates have a score are summed (paired): dropping a unit from one
side only would compare sums over different questions. Intervals are percentile bootstraps
over units (resampled within the group being summarised), seeded, so a rerun gives the same
figure. A ratio that cannot be computed (no paired unit, reference sum 0) is None with a reason.

The paper's headline counts skills at or above 90% of the reference. That count uses point
estimates, which a handful of units per skill can put on either side of 0.9 by chance, so the
count of skills whose interval's LOWER bound clears 0.9 is reported beside it: the one a
researcher can defend.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from workbench.core.plots import label
from workbench.stages.evaluate.pairwise import BUCKETS, bucket

THRESHOLD = 0.9
# Resample index blocks of about this many entries (8 MiB of int64), so 1000 draws over a
# large eval set never hold every draw at once.
_BLOCK = 1 << 20


def _score(x) -> float | None:
    """A usable score or None: missing, NaN and bools (a parse slip, not a score) are dropped."""
    if x is None or isinstance(x, bool) or not isinstance(x, int | float) or x != x:
        return None
    return float(x)


def _boot_ratios(cand: np.ndarray, ref: np.ndarray, boot: int, seed: int) -> np.ndarray:
    """sum(cand) / sum(ref) over `boot` resamples of the units; resamples whose reference sum
    is 0 are left out (the ratio is undefined there, not infinite)."""
    rng = np.random.default_rng(seed)
    n = len(cand)
    per_block = max(1, _BLOCK // n)
    out = []
    for start in range(0, boot, per_block):
        idx = rng.integers(0, n, size=(min(per_block, boot - start), n))
        num, den = cand[idx].sum(axis=1), ref[idx].sum(axis=1)
        ok = den != 0
        out.append(num[ok] / den[ok])
    return np.concatenate(out) if out else np.empty(0)


def ratio(cand_scores: list, ref_scores: list, boot: int = 1000, seed: int = 0) -> dict:
    """{"ratio", "lo", "hi", "n", "nulls", "candidate_sum", "reference_sum", "reason", "interval_reason"}
    for one group of units. n counts paired units; nulls counts units dropped because either score
    is missing. "reason" says why the ratio is None; "interval_reason" why lo / hi are None (the
    interval needs n >= 2: one unit resampled is always itself)."""
    pairs = [(c, r) for c, r in zip(map(_score, cand_scores), map(_score, ref_scores))
             if c is not None and r is not None]
    out = {"ratio": None, "lo": None, "hi": None, "n": len(pairs), "nulls": len(cand_scores) - len(pairs),
           "candidate_sum": None, "reference_sum": None, "reason": None, "interval_reason": None}
    if not pairs:
        out["reason"] = out["interval_reason"] = "no unit where both the candidate and the reference have a score"
        return out
    c, r = (np.array(v) for v in zip(*pairs))
    out["candidate_sum"], out["reference_sum"] = round(float(c.sum()), 4), round(float(r.sum()), 4)
    if r.sum() == 0:
        out["reason"] = out["interval_reason"] = "the reference's scores sum to 0 over the paired units"
        return out
    out["ratio"] = round(float(c.sum() / r.sum()), 4)
    if len(pairs) < 2:
        out["interval_reason"] = "an interval needs at least 2 paired units"
    elif not boot:
        out["interval_reason"] = "no bootstrap asked for (boot=0)"
    else:
        draws = _boot_ratios(c, r, boot, seed)
        if len(draws) >= boot // 2:
            out["lo"], out["hi"] = (round(float(q), 4) for q in np.percentile(draws, [2.5, 97.5]))
        else:
            out["interval_reason"] = "most resamples had a reference sum of 0"
    return out


def _groups(unit_items: list[dict]) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Unit indices per skill and per difficulty bucket (the item's "bucket", else its difficulty)."""
    by_skill: dict[str, list[int]] = {}
    by_bucket: dict[str, list[int]] = {}
    for i, item in enumerate(unit_items):
        by_skill.setdefault(item.get("skill") or "unlabelled", []).append(i)
        by_bucket.setdefault(item.get("bucket") or bucket(item.get("difficulty")), []).append(i)
    order = [b[0] for b in BUCKETS] + ["unlabelled"]
    by_bucket = {k: by_bucket[k] for k in order if k in by_bucket} | {
        k: v for k, v in by_bucket.items() if k not in order}
    return dict(sorted(by_skill.items())), by_bucket


def skills_at_threshold(by_skill: dict[str, dict], threshold: float = THRESHOLD) -> dict:
    """The paper's headline and the defensible one, over skills that have a ratio."""
    rated = {s: r for s, r in by_skill.items() if r["ratio"] is not None}
    point = sorted(s for s, r in rated.items() if r["ratio"] >= threshold)
    firm = sorted(s for s, r in rated.items() if r["lo"] is not None and r["lo"] >= threshold)
    pct = f"{threshold:.0%}"
    return {
        "threshold": threshold, "skills_with_ratio": len(rated),
        "at_or_above_point": len(point), "at_or_above_point_skills": point,
        "lower_bound_at_or_above": len(firm), "lower_bound_at_or_above_skills": firm,
        "statement": (f"{len(point)} of {len(rated)} skills at or above {pct} of the reference by point estimate "
                      f"(the paper's count); {len(firm)} of {len(rated)} with the 95% interval's lower bound at or "
                      f"above {pct} (the count the data supports)."),
    }


def capacity(unit_items: list[dict], scores: dict[str, list], reference: str, boot: int = 1000,
             seed: int = 0) -> dict:
    """{"reference", "threshold", "candidates": {cand: {"overall", "by_skill", "by_bucket", "headline"}}}
    for every candidate other than the reference. Each group is a `ratio` dict; "headline" is
    `skills_at_threshold` of by_skill. scores[cand] holds one score (or None) per unit."""
    if reference not in scores:
        raise ValueError(f"reference candidate {reference!r} has no scores (have: {sorted(scores)})")
    for cand, s in scores.items():
        if len(s) != len(unit_items):
            raise ValueError(f"{cand}: {len(s)} scores for {len(unit_items)} units")
    by_skill, by_bucket = _groups(unit_items)
    ref = scores[reference]
    out: dict = {"reference": reference, "threshold": THRESHOLD, "candidates": {}}
    for cand, s in scores.items():
        if cand == reference:
            continue

        def group(idx: list[int], s=s) -> dict:
            return ratio([s[i] for i in idx], [ref[i] for i in idx], boot, seed)

        skills = {k: group(v) for k, v in by_skill.items()}
        out["candidates"][cand] = {
            "overall": group(list(range(len(unit_items)))),
            "by_skill": skills,
            "by_bucket": {k: group(v) for k, v in by_bucket.items()},
            "headline": skills_at_threshold(skills),
        }
    return out


def _empty(title: str, why: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=why, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14})
    fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False)
    return fig


def capacity_figure(result: dict, candidate: str) -> go.Figure:
    """Bars of the candidate's ratio per skill, highest first, with 95% bootstrap interval bars,
    n in the labels and a dashed line at 90%; skills without a ratio are named under the title.
    An empty figure saying why when nothing can be drawn."""
    reference = result.get("reference")
    title = f"Capacity of {candidate} relative to {reference} per skill (score sums, 95% bootstrap intervals)"
    cand = result.get("candidates", {}).get(candidate)
    if cand is None:
        return _empty(title, f"no capacity result for {candidate}")
    if cand.get("status") == "undetermined":
        title += f" (undetermined: {cand.get('status_reason', 'the judge is uninformative')})"
    rated = sorted(((s, r) for s, r in cand["by_skill"].items() if r["ratio"] is not None),
                   key=lambda sr: (-sr[1]["ratio"], sr[0]))
    if not rated:
        return _empty(title, f"no skill has a ratio: no unit where both {candidate} and {reference} have a score")
    ratios = [r["ratio"] for _, r in rated]
    fig = go.Figure(go.Bar(
        x=[f"{label(s)} (n={r['n']}{'' if r['lo'] is not None else ', no interval'})" for s, r in rated], y=ratios,
        error_y={"type": "data", "symmetric": False,
                 "array": [None if r["hi"] is None else r["hi"] - r["ratio"] for _, r in rated],
                 "arrayminus": [None if r["lo"] is None else r["ratio"] - r["lo"] for _, r in rated]}))
    fig.add_hline(y=THRESHOLD, line_dash="dash", annotation_text=f"{THRESHOLD:.0%} of {reference}")
    missing = [s for s, r in cand["by_skill"].items() if r["ratio"] is None]
    subtitle = f"<br><sup>{cand['headline']['statement']}"
    subtitle += f" No ratio: {', '.join(map(label, missing))}.</sup>" if missing else "</sup>"
    fig.update_layout(title=title + subtitle, xaxis_title="skill", yaxis_tickformat=".0%",
                      yaxis_title=f"score sum, share of {reference}'s")
    return fig
