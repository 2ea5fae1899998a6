"""workbench.stages.diversity.equal_n: groups compared at equal n, with intervals, and the claim."""

import numpy as np
import pytest
from diversity_fixtures import random_unit, unit

from workbench.stages.diversity import diversity_claim, equal_n_compare, kmeans_labels, vendi_score
from workbench.stages.diversity.equal_n import MIN_CLAIM_N, group_rng


def overlap(a, b):
    return a["lo"] <= b["hi"] and b["lo"] <= a["hi"]


def test_same_distribution_at_16_and_64_differs_raw_but_overlaps_at_equal_n():
    x = random_unit(80, 48, seed=1)
    small, large = np.arange(80) < 16, np.arange(80) >= 16
    raw_small, raw_large = vendi_score(x[small]), vendi_score(x[large])
    assert raw_large > 1.8 * raw_small  # what the unequal comparison would report
    labels, k = kmeans_labels(x, 16, seed=0)
    cmp = equal_n_compare(x, {"seeds": small, "evolved": large}, repeats=300, seed=0, labels=labels, k=k)
    s, e = cmp["groups"]["seeds"], cmp["groups"]["evolved"]
    assert cmp["n"] == 16 and s["whole"] and not e["whole"]
    for m in ("vendi", "mean_pairwise_cosine_distance", "cluster_coverage", "cluster_entropy"):
        assert overlap(s[m], e[m]), m
    assert abs(e["vendi"]["mean"] - raw_small) < 0.1 * raw_small  # evolved measured at n 16, not 64
    assert s["vendi"]["lo"] == s["vendi"]["hi"] == s["vendi"]["mean"]  # whole group: one set, no spread
    assert diversity_claim(cmp)["verdict"] == "undetermined"


def test_claim_is_supported_or_not_when_the_groups_really_differ():
    rng = np.random.default_rng(2)
    spread = random_unit(60, 32, seed=2)
    tight = unit(random_unit(1, 32, seed=3) + 0.3 * rng.standard_normal((20, 32)) / np.sqrt(32))
    x = np.vstack([tight, spread])
    first, rest = np.arange(80) < 20, np.arange(80) >= 20
    up = diversity_claim(equal_n_compare(x, {"seeds": first, "evolved": rest}, repeats=100))
    assert up["verdict"] == "supported" and up["evolved"]["lo"] >= up["seeds"]["hi"] and up["n"] == 20
    down = diversity_claim(equal_n_compare(x, {"seeds": rest, "evolved": first}, repeats=100))
    assert down["verdict"] == "not supported" and down["evolved"]["hi"] < down["seeds"]["lo"]
    assert set(up) >= {"id", "statement", "verdict", "metric", "seeds", "evolved", "n", "reason", "rule"}


def test_claim_is_undetermined_for_small_groups_and_missing_groups():
    x = random_unit(40, 16, seed=4)
    few = np.arange(40) < MIN_CLAIM_N - 1
    c = diversity_claim(equal_n_compare(x, {"seeds": few, "evolved": ~few}, repeats=20))
    assert c["verdict"] == "undetermined" and "seeds has 7 items" in c["reason"]
    c = diversity_claim(equal_n_compare(x, {"seeds": np.ones(40, bool)}, repeats=20))
    assert c["verdict"] == "undetermined" and "evolved has 0 items" in c["reason"]
    c = diversity_claim(equal_n_compare(x, {"seeds": few, "evolved": ~few}, n=4, repeats=20))
    assert c["verdict"] == "undetermined"


def test_equal_n_equals_a_hand_computation():
    x = random_unit(12, 8, seed=5)
    idx = np.arange(2, 12)  # a group of 10, subsampled to 4, five times
    cmp = equal_n_compare(x, {"a": np.arange(2), "b": idx}, n=4, repeats=5, seed=7)
    assert cmp["n"] == 2  # n never exceeds the smallest group
    cmp = equal_n_compare(x, {"b": idx, "c": np.arange(0, 6)}, n=4, repeats=5, seed=7)
    rng = np.random.default_rng([7, __import__("zlib").crc32(b"b")])
    values = []
    for _ in range(5):
        pick = np.sort(rng.choice(idx, size=4, replace=False))
        k = x[pick].astype(np.float64) @ x[pick].T.astype(np.float64) / 4
        lam = np.linalg.eigvalsh(k)
        lam = lam[lam > 1e-12]
        values.append(float(np.exp(-(lam * np.log(lam)).sum())))
    got = cmp["groups"]["b"]["vendi"]
    assert got["mean"] == pytest.approx(np.mean(values), abs=1e-5)
    assert got["lo"] == pytest.approx(np.percentile(values, 2.5), abs=1e-5)
    assert got["hi"] == pytest.approx(np.percentile(values, 97.5), abs=1e-5)


def test_a_groups_draws_do_not_depend_on_the_other_groups_and_tiny_groups_are_skipped():
    x = random_unit(50, 16, seed=6)
    a, b = np.arange(50) < 10, (np.arange(50) >= 10) & (np.arange(50) < 30)
    one = equal_n_compare(x, {"a": a, "b": b}, repeats=30, seed=3)
    two = equal_n_compare(x, {"b": b, "a": a, "c": np.arange(50) >= 30, "d": np.arange(50) == 0}, repeats=30, seed=3)
    assert one["groups"]["b"] == two["groups"]["b"] and one["n"] == two["n"] == 10
    assert "d" not in two["groups"] and "fewer than 2" in two["skipped"]["d"]
    other_seed = equal_n_compare(x, {"a": a, "b": b}, repeats=30, seed=4)
    assert other_seed["groups"]["b"] != one["groups"]["b"]
    assert group_rng(3, "b").random() == group_rng(3, "b").random()
