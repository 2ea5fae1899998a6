import math

import pytest
from conftest import FakeBackend

from workbench import difficulty as D
from workbench.llm import Generator
from workbench.llm.hf import exclusive_probs
from workbench.records import new_seed


@pytest.mark.parametrize("text,rating", [
    ("7", 7), ("Rating: 10", 10), ("10/10", 10), (" 3.", 3), ("I'd say 4 out of 10", 4),
    ("eleven", None), ("", None), (None, None), ("0", None), ("2.5", None),
])
def test_parse_rating(text, rating):
    assert D.parse_rating(text) == rating


def test_expected_rating_and_nulls():
    probs = dict.fromkeys(D.RATINGS, 0.0) | {"2": 0.3, "8": 0.1}
    score, reason, mass = D.expected_rating(probs, 0.05)
    assert reason is None and math.isclose(score, (2 * 0.3 + 8 * 0.1) / 0.4) and math.isclose(mass, 0.4)
    assert D.expected_rating(dict.fromkeys(D.RATINGS, 0.001), 0.05)[:2] == (None, "rating_mass_low")
    assert D.expected_rating(None, 0.05)[:2] == (None, "no_token_probabilities")


def test_exclusive_probs_separates_one_from_ten():
    seqs = {"1": (5,), "10": (5, 9), "2": (6,)}
    lp = {"1": math.log(0.5), "10": math.log(0.2), "2": math.log(0.1)}
    p = exclusive_probs(lp, seqs)
    assert math.isclose(p["1"], 0.3) and math.isclose(p["10"], 0.2) and math.isclose(p["2"], 0.1)


def test_judge_falls_back_to_parsing_and_never_invents_a_score():
    replies = iter(["Rating: 6", "no idea", "9"])
    gen = Generator(FakeBackend(reply=lambda p: next(replies)))  # fake: no token probabilities
    rows = [new_seed("a"), new_seed("b"), new_seed("c")]
    res = D.judge_difficulty(rows, gen, mode="auto")
    assert [r["difficulty"] for r in res] == [6.0, None, 9.0]
    assert res[1]["difficulty_reason"] == "unparsable" and res[0]["difficulty_mode"] == "parsed"
    res = D.judge_difficulty(rows, Generator(FakeBackend()), mode="expected")
    assert all(r["difficulty"] is None and r["difficulty_reason"] == "no_token_probabilities" for r in res)


def test_cheap_features():
    f = D.cheap_features(new_seed("First, list exactly three steps. Then explain (briefly [in order]).", "a b c"))
    assert f["constraints"] >= 1 and f["steps"] >= 3 and f["input_words"] == 3 and f["nesting"] == 2


def test_spearman_and_validation():
    assert D.spearman([1, 2, 3, 4], [10, 20, 30, 40])["rho"] == 1.0
    assert D.spearman([1, 2, 3, 4], [4, 3, 2, 1])["rho"] == -1.0
    assert D.spearman([1, None, 3, 4, 5], [1, 2, 3, 4, 5])["n"] == 4
    assert D.spearman([1, 1, 1], [1, 2, 3])["rho"] is None
    rows = [new_seed("w " * n) for n in (3, 9, 5, 12)]
    report = D.validate(rows, [1, 3, 2, 4], {"judge": [2, 6, 4, 8]})
    assert report["judge"]["rho"] == 1.0 and report["baseline_word_count"]["rho"] == 1.0


def test_summarise_counts_nulls_by_reason():
    rows = [dict(new_seed(f"s{i}"), scores={"difficulty": v, "difficulty_reason": None if v else "unparsable"})
            for i, v in enumerate([2.0, 4.0, None])]
    s = D.summarise(rows, "difficulty")
    assert s["overall"]["mean"] == 3.0 and s["overall"]["n"] == 2 and s["nulls"] == {"unparsable": 1}
    assert s["by_round"]["0"]["lo"] < 3.0 < s["by_round"]["0"]["hi"]


@pytest.mark.slow
def test_real_model_rating_distribution_and_ifd():
    from workbench.llm import get_generator
    from workbench.llm.registry import load_backend

    gen = get_generator("embedded", {"batch_size": 4, "cache": False}, None)
    rows = [new_seed("Say hi."), new_seed("Prove that there are infinitely many primes, then generalise the proof.")]
    res = D.judge_difficulty(rows, gen, mode="expected", min_mass=0.0)
    for r in res:
        assert r["difficulty_mode"] == "expected" and 1.0 <= r["difficulty"] <= 10.0 and 0 < r["difficulty_mass"] <= 1.0001
    rows[0]["response"] = "Hi! How can I help you today?"
    rows[1]["response"] = "Suppose there are finitely many primes p1..pn. Then p1*...*pn + 1 has a prime factor not in the list."
    ifd = D.ifd_scores(rows, load_backend("embedded", {"batch_size": 4}))
    assert all(x["ifd"] is not None and 0 < x["ifd"] < 5 and x["loss_alone"] > 0 for x in ifd)
    no_answer = D.ifd_scores([new_seed("x")], load_backend("embedded", {"batch_size": 4}))
    assert no_answer[0] == {"ifd": None, "ifd_reason": "no_response"}
