"""Statistics every stage reports with: means, rank correlation and win rates, each with a 95 %
interval, and a claim verdict that says "undetermined" when the interval cannot tell.

    mean_ci([1, 2, 3])                 -> {"mean": 2.0, "lo": 0.868, "hi": 3.132, "n": 3}
    spearman([1, 2, 3], [2, 4, 9])     -> {"rho": 1.0, "n": 3}
    wilson(8, 10)                      -> (0.49, 0.943)
    sign_test(8, 2)                    -> 0.1094   (two-sided, ties left out)

Resampling is seeded, so a rerun reports the same interval. Ranks, Spearman and the binomial
figures are scipy.stats'; the bootstrap ranks its resamples in numpy blocks, so 1000 draws over
250K pairs take seconds, not hours.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binomtest, norm, spearmanr


def mean_ci(values: list) -> dict:
    """Mean with a normal-approximation 95% interval over non-null values."""
    v = np.array([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return {"mean": None, "lo": None, "hi": None, "n": 0}
    half = 1.96 * v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    m = float(v.mean())
    return {"mean": round(m, 4), "lo": round(m - half, 4), "hi": round(m + half, 4), "n": int(len(v))}


# Draws are ranked in blocks of about this many resampled values (arrays of 2 MiB), so a small
# sample is bootstrapped in one numpy pass and a large one never holds every draw; measured,
# 16 MiB blocks were slower (the arrays leave the cache).
_BOOT_BLOCK_VALUES = 1 << 18


def _pairs(x: list, y: list) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in zip(x, y) if a is not None and b is not None
            and not (isinstance(a, float) and math.isnan(a)) and not (isinstance(b, float) and math.isnan(b))]


def _constant(v: np.ndarray) -> bool:
    return bool(v.min() == v.max())


def _rho(a: np.ndarray, b: np.ndarray) -> float | None:
    """scipy's Spearman (average ranks for ties); None when a side is constant, where rank
    correlation is undefined (scipy would warn and return nan)."""
    if _constant(a) or _constant(b):
        return None
    return float(spearmanr(a, b).statistic)


def _block_ranks(codes: np.ndarray, distinct: int) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks (1-based, ties share their mean rank, as scipy.stats.rankdata) of each row
    of `codes`, a block of resamples given as indices into the sorted distinct values, and
    whether each row is constant. Counting each value's copies gives its rank without sorting
    the resample: one bincount per block instead of one sort per draw (rankdata per row was
    8x slower at 250K values)."""
    draws, n = codes.shape
    slot = (codes + distinct * np.arange(draws)[:, None]).ravel()  # (draw, value) -> one bin
    copies = np.bincount(slot, minlength=draws * distinct)
    last_rank = np.cumsum(copies.reshape(draws, distinct), axis=1).ravel()
    mean_rank = last_rank - 0.5 * copies + 0.5  # copies c ending at rank e hold e-c+1 .. e
    constant = copies.reshape(draws, distinct).max(axis=1) == n
    return mean_rank[slot].reshape(draws, n), constant


def _bootstrap_rhos(a: np.ndarray, b: np.ndarray, boot: int, seed: int) -> np.ndarray:
    """Spearman of `boot` resamples of the pairs, constant resamples left out. Resample i uses
    the i-th rng.integers(0, n, n) draw of default_rng(seed), so intervals are the same as
    before this was vectorised (and as scipy.stats.spearmanr over each resample)."""
    rng = np.random.default_rng(seed)
    n = len(a)
    values_a, codes_a = np.unique(a, return_inverse=True)
    values_b, codes_b = np.unique(b, return_inverse=True)
    per_block = max(1, _BOOT_BLOCK_VALUES // n)
    centre = (n + 1) / 2  # average ranks of n values always sum to n(n+1)/2
    rhos = []
    for start in range(0, boot, per_block):
        idx = np.empty((min(per_block, boot - start), n), dtype=np.int64)
        for row in idx:
            row[:] = rng.integers(0, n, n)
        ranks_a, constant_a = _block_ranks(codes_a[idx], len(values_a))
        ranks_b, constant_b = _block_ranks(codes_b[idx], len(values_b))
        ranks_a -= centre
        ranks_b -= centre
        # row-wise einsum rather than BLAS: measured, a BLAS dot's threads stall on a busy machine
        cov = np.einsum("ij,ij->i", ranks_a, ranks_b)
        var = np.einsum("ij,ij->i", ranks_a, ranks_a) * np.einsum("ij,ij->i", ranks_b, ranks_b)
        defined = ~(constant_a | constant_b)
        rhos.append(cov[defined] / np.sqrt(var[defined]))
    return np.concatenate(rhos)


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
        draws = _bootstrap_rhos(a, b, boot, seed)
        if len(draws) >= boot // 2:
            out["lo"], out["hi"] = (round(float(q), 4) for q in np.percentile(draws, [2.5, 97.5]))
    return out


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """Wilson score 95% interval for a proportion; (None, None) when n == 0."""
    if n == 0:
        return None, None
    confidence = 2 * norm.cdf(z) - 1  # scipy takes a level; z = 1.96 is the level 0.95004
    ci = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return round(ci.low, 4), round(ci.high, 4)


def sign_test(wins: int, losses: int) -> float | None:
    """Two-sided exact binomial test of wins vs losses at p = 0.5 (ties are not counted)."""
    n = wins + losses
    if n == 0:
        return None
    return round(min(1.0, binomtest(wins, n, 0.5).pvalue), 4)


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
