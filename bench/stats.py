"""Time of workbench.core.stats.spearman at the paper's sizes, before and after ranking moved to
scipy (point estimate) and counted numpy blocks (bootstrap).

"before" is the old rank function, kept here only to measure the ratio: it looped over every
distinct value, O(n x distinct), and judge ratings are continuous. Its 1000-draw bootstrap
would take hours, so it is timed over --old-draws resamples and scaled to 1000 (marked "est").

    python bench/stats.py [--sizes 40000,80000,250000] [--boot 1000] [--old-draws 2]
Last line: n=… spearman_s_before=… spearman_s_after=… boot_s_before_est=… boot_s_after=… (largest n)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbench.core import stats  # noqa: E402


def old_ranks(x: np.ndarray) -> np.ndarray:
    """The rank function stats.py had before issue 23 (for timing only)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):  # ties share their mean rank
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def old_rho(a: np.ndarray, b: np.ndarray) -> float | None:
    ra, rb = old_ranks(a), old_ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def judge_like(n: int, seed: int = 0) -> tuple[list, list]:
    """Continuous ratings (expected values over "1".."10") against depth 0..4: every rating distinct."""
    rng = np.random.default_rng(seed)
    depth = rng.integers(0, 5, n)
    rating = np.clip(4 + 0.4 * depth + rng.normal(0, 1.5, n), 1, 10)
    return depth.tolist(), rating.tolist()


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def measure(n: int, boot: int, old_draws: int) -> dict:
    x, y = judge_like(n)
    a, b = np.array(x, float), np.array(y, float)
    before_s, before_rho = timed(lambda: old_rho(a, b))
    rng = np.random.default_rng(0)
    draws = [rng.integers(0, n, n) for _ in range(old_draws)]
    old_boot_s, _ = timed(lambda: [old_rho(a[i], b[i]) for i in draws])
    after_s, after = timed(lambda: stats.spearman(x, y))
    boot_s, with_boot = timed(lambda: stats.spearman(x, y, boot=boot))
    assert after["rho"] == round(before_rho, 4), (after, before_rho)
    return {"n": n, "spearman_s_before": before_s, "spearman_s_after": after_s,
            "boot_s_before_est": before_s + old_boot_s * boot / old_draws, "boot_s_after": boot_s,
            "rho": after["rho"], "lo": with_boot["lo"], "hi": with_boot["hi"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="40000,80000,250000")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--old-draws", type=int, default=2, help="old bootstrap resamples timed, then scaled")
    args = ap.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        r = measure(n, args.boot, args.old_draws)
        rows.append(r)
        print(f"n={n:>7}: spearman {r['spearman_s_before']:7.2f} s -> {r['spearman_s_after']:5.2f} s | "
              f"boot={args.boot} {r['boot_s_before_est']:8.0f} s (est) -> {r['boot_s_after']:5.2f} s | "
              f"rho {r['rho']} [{r['lo']}, {r['hi']}]", flush=True)
    last = rows[-1]
    print(f"n={last['n']} spearman_s_before={last['spearman_s_before']:.2f} "
          f"spearman_s_after={last['spearman_s_after']:.2f} boot_s_before_est={last['boot_s_before_est']:.0f} "
          f"boot_s_after={last['boot_s_after']:.2f}")

if __name__ == "__main__":
    main()
