"""Capacity per skill, answer lengths, length-controlled and tie-half win rates: each checked
against a case computed by hand."""

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from workbench.stages.evaluate import pairwise as PW
from workbench.stages.evaluate.capacity import capacity, capacity_figure, ratio
from workbench.stages.evaluate.lengths import (
    answer_lengths,
    count_words,
    fit_logistic,
    length_controlled,
)
from workbench.stages.evaluate.tie_half import tie_half

# ---- capacity ---------------------------------------------------------------------------------

UNITS = [{"skill": "math", "difficulty": 3}, {"skill": "math", "difficulty": 9},
         {"skill": "code", "difficulty": 6}, {"skill": "code", "difficulty": None}]


def test_capacity_by_hand_paired_sums_and_nulls():
    res = capacity(UNITS, {"ref": [8, 6, None, 4], "mine": [6, 6, 5, 4]}, "ref")
    assert set(res["candidates"]) == {"mine"} and res["reference"] == "ref"
    mine = res["candidates"]["mine"]
    # unit 2 has no reference score: dropped from BOTH sums, (6 + 6 + 4) / (8 + 6 + 4)
    assert mine["overall"]["ratio"] == pytest.approx(16 / 18, abs=1e-4)
    assert (mine["overall"]["n"], mine["overall"]["nulls"]) == (3, 1)
    assert mine["overall"]["candidate_sum"] == 16 and mine["overall"]["reference_sum"] == 18
    # math: units (6, 8) and (6, 6); resamples are {0,0} -> 0.75, {1,1} -> 1.0, mixed -> 12/14
    math_ = mine["by_skill"]["math"]
    assert math_["ratio"] == pytest.approx(12 / 14, abs=1e-4)
    assert (math_["lo"], math_["hi"]) == (0.75, 1.0)
    code = mine["by_skill"]["code"]
    assert code["ratio"] == 1.0 and code["n"] == 1 and code["lo"] is None and "at least 2" in code["interval_reason"]
    buckets = mine["by_bucket"]
    assert list(buckets) == ["easy", "medium", "hard", "unlabelled"]
    assert buckets["easy"]["ratio"] == 0.75 and buckets["hard"]["ratio"] == 1.0
    assert buckets["medium"]["ratio"] is None and "both" in buckets["medium"]["reason"]
    assert buckets["medium"]["nulls"] == 1


def test_capacity_uses_the_item_bucket_when_given():
    units = [{"skill": "s", "difficulty": 1, "bucket": "hard"}, {"skill": "s", "difficulty": 1, "bucket": "hard"}]
    res = capacity(units, {"ref": [5, 5], "c": [4, 5]}, "ref", boot=0)
    assert list(res["candidates"]["c"]["by_bucket"]) == ["hard"]


def test_bootstrap_resamples_units_paired():
    # candidate is exactly half the reference on every unit: any resample of PAIRED units has
    # ratio 0.5; resampling the two sides independently would give a wide interval
    ref = [2, 10, 4, 8, 6, 9, 1, 7]
    res = ratio([r / 2 for r in ref], ref, boot=500)
    assert res["ratio"] == res["lo"] == res["hi"] == 0.5


def test_bootstrap_is_seeded_and_varies_with_the_seed():
    rng = np.random.default_rng(3)
    ref, cand = rng.integers(1, 11, 40).tolist(), rng.integers(1, 11, 40).tolist()
    a, b, c = ratio(cand, ref, seed=0), ratio(cand, ref, seed=0), ratio(cand, ref, seed=1)
    assert (a["lo"], a["hi"]) == (b["lo"], b["hi"]) != (c["lo"], c["hi"])
    assert a["lo"] < a["ratio"] < a["hi"]


def test_ratio_none_with_reason():
    zero = ratio([3, 4], [0, 0])
    assert zero["ratio"] is None and "sum to 0" in zero["reason"] and zero["n"] == 2
    none = ratio([3, None, float("nan")], [None, 4, 5])
    assert none["ratio"] is None and none["n"] == 0 and none["nulls"] == 3
    assert ratio([True, 5], [5, 5])["n"] == 1  # a bool is a parse slip, not a score of 1


def test_headline_point_count_and_defensible_count():
    units, ref, cand = [], [], []

    def add(skill, pairs):
        for c, r in pairs:
            units.append({"skill": skill, "difficulty": 5})
            cand.append(c)
            ref.append(r)

    add("tight", [(9, 10), (10, 10)] * 10)      # 0.95, lower bound about 0.93
    add("noisy", [(10, 10), (8.6, 10)])          # 0.93, lower bound 0.86
    add("exact", [(9, 10), (9, 10)])             # exactly 0.9 counts as "at or above", both ways
    add("weak", [(5, 10)] * 3)                   # 0.5
    add("unscored", [(None, 10), (7, None)])     # no ratio: not counted in either
    h = capacity(units, {"ref": ref, "c": cand}, "ref")["candidates"]["c"]["headline"]
    assert h["skills_with_ratio"] == 4
    assert h["at_or_above_point"] == 3 and h["at_or_above_point_skills"] == ["exact", "noisy", "tight"]
    assert h["lower_bound_at_or_above"] == 2 and h["lower_bound_at_or_above_skills"] == ["exact", "tight"]
    assert "3 of 4" in h["statement"] and "2 of 4" in h["statement"] and "lower bound" in h["statement"]


def test_capacity_rejects_misaligned_input():
    with pytest.raises(ValueError, match="reference"):
        capacity(UNITS, {"a": [1] * 4}, "ref")
    with pytest.raises(ValueError, match="3 scores for 4 units"):
        capacity(UNITS, {"ref": [1] * 4, "a": [1] * 3}, "ref")


def test_capacity_figure_sorted_with_intervals_and_90_line():
    units = [{"skill": s, "difficulty": 5} for s in ["a", "a", "b", "b", "c", "c"]]
    res = capacity(units, {"ref": [10] * 6, "m": [5, 6, 10, 9, 8, 7]}, "ref")
    fig = capacity_figure(res, "m")
    bar = fig.data[0]
    assert [x.split(" ")[0] for x in bar.x] == ["b", "c", "a"]  # 0.95, 0.75, 0.55
    assert list(bar.y) == [0.95, 0.75, 0.55]
    assert bar.error_y.array[0] == pytest.approx(1.0 - 0.95) and bar.error_y.arrayminus[0] == pytest.approx(0.05)
    lines = [s for s in fig.layout.shapes if s.y0 == 0.9 and s.y1 == 0.9]
    assert lines and lines[0].line.dash == "dash"
    assert "relative to ref" in fig.layout.title.text


def test_capacity_figure_empty_says_why():
    res = capacity(UNITS, {"ref": [None] * 4, "m": [1, 2, 3, 4]}, "ref")
    fig = capacity_figure(res, "m")
    assert not fig.data and "no skill has a ratio" in fig.layout.annotations[0].text
    assert fig.layout.annotations[0].x == 0.5 and fig.layout.annotations[0].y == 0.5
    assert "no capacity result" in capacity_figure(res, "other").layout.annotations[0].text


# ---- lengths ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,words", [
    ("Hello, world!", 2), ("我喜欢猫", 4), ("用Python写代码。", 5), ("東京は日本の首都です。", 10),
    ("コーヒーを飲む", 7), ("안녕하세요 세계", 2), ("- ``` —", 0), ("", 0), ("e.g. 3.14 x=1", 3),
    ("Привет, мир", 2), ("答案：42", 3),
])
def test_count_words_splits_cjk_per_character(text, words):
    assert count_words(text) == words


def test_answer_lengths_by_hand():
    units = [{"difficulty": 2}, {"difficulty": 9}, {"difficulty": 9}, {"difficulty": None}]
    texts = {"a": ["one two three", "我喜欢猫", None, "x"], "b": [None, None, None, None]}
    res = answer_lengths(units, texts, len, tokenizer="chars")
    a = res["a"]
    assert a["tokenizer"] == "chars"
    # words 3, 4, 1 (None is missing, not 0); tokens = characters 13, 4, 1
    assert a["overall"] == {"n": 3, "missing": 1, "mean_words": round(8 / 3, 2), "median_words": 3.0,
                            "mean_tokens": 6.0, "median_tokens": 4.0}
    assert list(a["by_bucket"]) == ["easy", "hard", "unlabelled"]
    assert a["by_bucket"]["hard"]["n"] == 1 and a["by_bucket"]["hard"]["missing"] == 1
    assert a["by_bucket"]["hard"]["mean_words"] == 4
    assert res["b"]["overall"]["n"] == 0 and res["b"]["overall"]["mean_words"] is None
    with pytest.raises(ValueError):
        answer_lengths(units, {"a": ["x"]}, len, tokenizer="chars")


# ---- length-controlled win rate ---------------------------------------------------------------

def test_lc_equals_raw_when_outcomes_do_not_depend_on_length():
    # the same mix (2 wins, 1 tie, 1 loss) at +10 and at -10: covariance 0, so the length
    # coefficient is 0 and sigmoid(intercept) is the raw (4 + 2/2) / 8 = 0.625
    out = ["win", "win", "loss", "tie"] * 2
    res = length_controlled(out, [110] * 4 + [90] * 4, [100] * 8)
    assert res["raw_win_rate"] == 0.625 and res["win_rate"] == pytest.approx(0.625, abs=1e-4)
    assert res["length_coef"] == pytest.approx(0.0, abs=1e-4) and res["converged"]
    assert res["sides_differ"] is False and res["ties"] == 2


def test_lc_removes_a_lead_explained_by_length():
    # first longer on 8 units (wins 6 of 8), shorter on 5 (wins 1 of 5), equal |difference|:
    # two groups, two parameters, so the fit reproduces both rates and the intercept is the
    # midpoint of their logits: (logit 0.75 + logit 0.2) / 2 = -0.1438 -> 0.4641 at equal length
    out = ["win"] * 6 + ["loss"] * 2 + ["win"] + ["loss"] * 4
    res = length_controlled(out, [120] * 8 + [80] * 5, [100] * 13)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    expected = 1 / (1 + math.exp(-(logit(0.75) + logit(0.2)) / 2))
    assert res["raw_win_rate"] == pytest.approx(7 / 13, abs=1e-4)
    assert res["win_rate"] == pytest.approx(expected, abs=2e-3)
    assert res["sides_differ"] is True and "different sides" in res["note"] and "second" in res["note"]
    assert res["lo"] <= res["win_rate"] <= res["hi"]


def test_lc_separation_stays_finite():
    # length decides every unit: without the ridge the coefficient runs to infinity
    balanced = length_controlled(["win"] * 5 + ["loss"] * 5, [120] * 5 + [80] * 5, [100] * 10)
    assert balanced["converged"] and math.isfinite(balanced["length_coef"]) and balanced["length_coef"] > 1
    assert balanced["win_rate"] == pytest.approx(0.5, abs=1e-4)
    # 7 vs 3: the intercept balances 7 e^-(a+b) = 3 e^(a-b), a = ln(7/3) / 2 -> 0.6044
    skew = length_controlled(["win"] * 7 + ["loss"] * 3, [120] * 7 + [80] * 3, [100] * 10)
    assert skew["converged"] and skew["win_rate"] == pytest.approx(math.sqrt(7 / 3) / (1 + math.sqrt(7 / 3)), abs=2e-3)


def test_lc_fit_matches_a_general_optimiser_on_the_tanh_regressor():
    # the leaderboard's regressor: tanh(length difference / its standard deviation)
    rng = np.random.default_rng(7)
    outcomes = rng.choice(["loss", "tie", "win"], size=60, p=[0.3, 0.2, 0.5]).tolist()
    la, lb = rng.integers(50, 400, 60), rng.integers(50, 400, 60)
    res = length_controlled(outcomes, la.tolist(), lb.tolist(), boot=0)
    y = np.array([{"loss": 0.0, "tie": 0.5, "win": 1.0}[o] for o in outcomes])
    diff = (la - lb).astype(float)
    t = np.tanh(diff / diff.std(ddof=1))

    def neg(p):
        z = p[0] + p[1] * t
        return -(y * z - np.logaddexp(0, z)).sum() + 0.5e-3 * p[1] ** 2

    best = minimize(neg, [0.0, 0.0], method="BFGS", options={"gtol": 1e-10}).x
    assert res["converged"] and res["intercept"] == pytest.approx(best[0], abs=1e-4)
    assert res["length_coef"] == pytest.approx(best[1], abs=1e-4)
    assert res["win_rate"] == pytest.approx(1 / (1 + math.exp(-best[0])), abs=1e-4)
    assert res["lo"] is None and "boot=0" in res["interval_reason"]
    theta, phi, ok = fit_logistic(np.stack([t, t]), np.stack([y, y]))  # rows are fitted independently
    assert ok.all() and theta[0] == theta[1] == pytest.approx(best[0], abs=1e-5)


def test_lc_does_not_depend_on_the_length_unit_and_is_seeded():
    rng = np.random.default_rng(2)
    out = rng.choice(["win", "loss", "tie"], size=30).tolist()
    a, b = rng.integers(10, 300, 30).tolist(), rng.integers(10, 300, 30).tolist()
    words = length_controlled(out, a, b)
    chars = length_controlled(out, [7 * x for x in a], [7 * x for x in b])
    assert words["win_rate"] == chars["win_rate"] and (words["lo"], words["hi"]) == (chars["lo"], chars["hi"])
    assert length_controlled(out, a, b, seed=1)["lo"] != words["lo"]


def test_lc_exclusions_and_none_with_reason():
    out = ["win", "loss", "undetermined", "error", "tie", "win", "loss", "win"]
    la = [10, 20, 30, 40, None, 15, 25, 35]
    res = length_controlled(out, la, [12] * 8)
    assert res["excluded"] == {"undetermined": 1, "error": 1, "missing_length": 1}
    assert res["n"] == 5 and res["ties"] == 0 and res["win_rate"] is not None
    few = length_controlled(out, la, [12] * 8, min_units=6)
    assert few["win_rate"] is None and "5 usable units" in few["reason"] and few["raw_win_rate"] == 0.6
    same = length_controlled(["win", "loss", "win", "tie", "win"], [20] * 5, [10] * 5)
    assert same["win_rate"] is None and "same on every unit" in same["reason"]
    allwin = length_controlled(["win"] * 6, [1, 5, 9, 2, 3, 4], [4] * 6)
    assert allwin["win_rate"] == pytest.approx(1.0, abs=1e-6) and allwin["lo"] is None
    assert "same outcome" in allwin["interval_reason"]


# ---- tie-half win rate ------------------------------------------------------------------------

def test_tie_half_by_hand_beside_the_strict_rate():
    outcomes = ["win"] * 3 + ["tie", "undetermined", "loss", "error"]
    res = tie_half(outcomes)
    assert (res["wins"], res["ties"], res["losses"], res["undetermined"], res["errors"], res["n"]) == (3, 2, 1, 1, 1, 6)
    assert res["win_rate"] == pytest.approx(4 / 6, abs=1e-4)
    # scores 1,1,1,.5,.5,0: sd 0.40825, se 0.16667, half-width 1.96 * se = 0.32667
    assert res["lo"] == pytest.approx(0.34, abs=1e-3) and res["hi"] == pytest.approx(0.9933, abs=1e-3)
    assert "ties" in res["convention"] and "normal" in res["interval"]
    assert PW.summary(outcomes)["win_rate"] == 0.75  # the strict count differs on the same outcomes


def test_tie_half_interval_clipped_and_none_with_reason():
    clipped = tie_half(["win", "win", "tie"])  # mean 0.8333, half-width 0.3267 -> upper clipped at 1
    assert clipped["hi"] == 1.0 and clipped["lo"] == pytest.approx(0.5067, abs=1e-3)
    assert tie_half(["error", "error"])["win_rate"] is None and tie_half([])["reason"]
    allwin = tie_half(["win"] * 4)
    assert allwin["win_rate"] == 1.0 and allwin["lo"] is None and "zero width" in allwin["interval_reason"]
    with pytest.raises(ValueError, match="unknown"):
        tie_half(["win", "Win"])
