"""workbench.core.stats: the same figures as scipy.stats and as by hand, ties and nulls included,
and a bootstrap over the paper's 250K rows (correctness only: timings are bench/stats.py's)."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from workbench.core import stats as S


def test_spearman_with_ties_by_hand_and_as_scipy():
    # ranks of x with the tie averaged: 1, 2.5, 2.5, 4; of y: 1, 3, 2, 4; both centred on 2.5:
    # cov = 2.25 + 0 + 0 + 2.25 = 4.5, var x = 4.5, var y = 5, rho = 4.5 / sqrt(22.5) = 0.9487
    x, y = [1, 2, 2, 3], [1, 3, 2, 4]
    assert S.spearman(x, y)["rho"] == 0.9487
    assert S.spearman(x, y)["rho"] == round(scipy_stats.spearmanr(x, y).statistic, 4)
    rng = np.random.default_rng(5)
    for _ in range(20):
        a, b = rng.integers(0, 4, 30), rng.integers(0, 6, 30)  # many ties on both sides
        assert S.spearman(list(a), list(b))["rho"] == round(scipy_stats.spearmanr(a, b).statistic, 4)


def test_nulls_keep_their_reasons_constant_too_few_and_missing_values():
    assert S.spearman([1, 1, 1, 1], [1, 2, 3, 4], boot=100) == {"rho": None, "n": 4, "lo": None, "hi": None}
    assert S.spearman([1, 2], [1, 2]) == {"rho": None, "n": 2}
    assert S.spearman([1, None, 3, math.nan, 5, 6], [1, 2, 3, 4, None, 7])["n"] == 3
    assert S.spearman([], [], boot=10) == {"rho": None, "n": 0, "lo": None, "hi": None}
    # one odd value per side, at different rows: most resamples miss one of them and are
    # constant, so too few draws have a rho and the interval is null while rho is not
    x, y = [1] * 9 + [2], [2] + [1] * 9
    out = S.spearman(x, y, boot=200)
    assert out["rho"] == round(scipy_stats.spearmanr(x, y).statistic, 4) and out["lo"] is None is out["hi"]


def scipy_bootstrap(x, y, boot, seed):
    """The interval spearman() promises, one resample at a time through scipy."""
    x, y, rng = np.asarray(x, float), np.asarray(y, float), np.random.default_rng(seed)
    rhos = []
    for _ in range(boot):
        i = rng.integers(0, len(x), len(x))
        if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0:
            rhos.append(scipy_stats.spearmanr(x[i], y[i]).statistic)
    return [round(float(q), 4) for q in np.percentile(rhos, [2.5, 97.5])]


@pytest.mark.parametrize("n", [5, 40, 3000])
def test_bootstrap_interval_is_scipys_over_the_same_seeded_resamples(n):
    rng = np.random.default_rng(n)
    x = rng.integers(0, 7, n).astype(float)  # ties, and constant resamples when n is small
    y = x + rng.normal(0, 3, n)
    out = S.spearman(list(x), list(y), boot=300, seed=11)
    assert [out["lo"], out["hi"]] == scipy_bootstrap(x, y, 300, 11)
    assert out == S.spearman(list(x), list(y), boot=300, seed=11)  # deterministic per seed


def test_spearman_with_a_bootstrap_over_250k_values():
    rng = np.random.default_rng(0)
    n = 250_000
    x = np.round(rng.normal(size=n), 3)  # judge-like ratings: mostly distinct, some ties
    y = np.round(x + rng.normal(size=n), 3)
    out = S.spearman(x.tolist(), y.tolist(), boot=1000, seed=0)
    assert out["n"] == n and out["rho"] == round(scipy_stats.spearmanr(x, y).statistic, 4)
    # the standard error of rho at this n is about 0.001: the interval is narrow and holds rho
    assert out["lo"] < out["rho"] < out["hi"] and out["hi"] - out["lo"] < 0.01


def test_wilson_and_sign_test_are_scipys_binomial_figures():
    assert S.wilson(8, 10) == (0.4902, 0.9433)  # the module docstring's example, by hand
    assert S.wilson(0, 10)[0] == 0.0 and S.wilson(10, 10)[1] == 1.0 and S.wilson(0, 0) == (None, None)
    for k, n in [(1, 3), (37, 120), (500, 1000), (9999, 250_000)]:
        ci = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert S.wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-4)
    assert S.sign_test(8, 2) == 0.1094 and S.sign_test(5, 5) == 1.0 and S.sign_test(0, 0) is None
    # 2 * P(X <= 480 | n = 1000, p = .5), and an n as large as the paper's dataset
    assert S.sign_test(520, 480) == round(2 * scipy_stats.binom.cdf(480, 1000, 0.5), 4)
    assert S.sign_test(130_000, 120_000) == 0.0
