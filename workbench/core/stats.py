"""Statistics every stage reports with: means, rank correlation and win rates, each with a 95 %
interval, and a claim verdict that says "undetermined" when the interval cannot tell.

    mean_ci([1, 2, 3])                 -> {"mean": 2.0, "lo": 0.868, "hi": 3.132, "n": 3}
    spearman([1, 2, 3], [2, 4, 9])     -> {"rho": 1.0, "n": 3}
    wilson(8, 10)                      -> (0.49, 0.943)
    sign_test(8, 2)                    -> 0.1094   (two-sided, ties left out)

Resampling is seeded, so a rerun reports the same interval.
"""

from __future__ import annotations

import math

import numpy as np


def mean_ci(values: list) -> dict:
    """Mean with a normal-approximation 95% interval over non-null values."""
    v = np.array([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return {"mean": None, "lo": None, "hi": None, "n": 0}
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    m = float(v.mean())
    return {"mean": round(m, 4), "lo": round(m - half, 4), "hi": round(m + half, 4), "n": int(len(v))}


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):  # ties share their mean rank
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def _pairs(x: list, y: list) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in zip(x, y) if a is not None and b is not None
            and not (isinstance(a, float) and math.isnan(a)) and not (isinstance(b, float) and math.isnan(b))]


def _rho(a: np.ndarray, b: np.ndarray) -> float | None:
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def spearman(x: list, y: list, boot: int = 0, seed: int = 0) -> dict:
    """Rank correlation over the pairs where both values exist: {"rho", "n"} (rho None if
    n < 3 or a side is constant), plus a percentile bootstrap 95% interval {"lo", "hi"}
    when boot > 0 (None when too few resamples have a defined rho)."""
    pairs = _pairs(x, y)
    out: dict = {"rho": None, "n": len(pairs)}
    if boot:
        out |= {"lo": None, "hi": None}
    if len(pairs) < 3:
        return out
    a, b = (np.array(v) for v in zip(*pairs))
    rho = _rho(a, b)
    out["rho"] = None if rho is None else round(rho, 4)
    if boot and rho is not None:
        rng = np.random.default_rng(seed)
        draws = [_rho(a[i], b[i]) for i in (rng.integers(0, len(a), len(a)) for _ in range(boot))]
        draws = [d for d in draws if d is not None]
        if len(draws) >= boot // 2:
            out["lo"], out["hi"] = (round(float(q), 4) for q in np.percentile(draws, [2.5, 97.5]))
    return out


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """Wilson score 95% interval for a proportion; (None, None) when n == 0."""
    if n == 0:
        return None, None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(centre - half, 4), round(centre + half, 4)


def sign_test(wins: int, losses: int) -> float | None:
    """Two-sided exact binomial test of wins vs losses at p = 0.5 (ties are not counted)."""
    n = wins + losses
    if n == 0:
        return None
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return round(min(1.0, 2 * tail), 4)


def verdict(lo: float | None, hi: float | None, threshold: float = 0.0) -> str:
    """A claim "value > threshold": supported when the whole interval is above it, not supported
    when the whole interval is at or below it, otherwise (or with no interval) undetermined."""
    if lo is None or hi is None:
        return "undetermined"
    if lo > threshold:
        return "supported"
    if hi <= threshold:
        return "not supported"
    return "undetermined"
