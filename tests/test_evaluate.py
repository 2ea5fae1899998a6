import pytest
from fakes import FakeBackend

from workbench.core.records import new_evolution, new_seed
from workbench.llm import Generator
from workbench.stages.evaluate import pairwise as PW
from workbench.stages.evaluate.protocols import judge_pairs
from workbench.stages.finetune import train as FT


@pytest.mark.parametrize("o1,o2,outcome", [
    ("A", "B", "win"), ("B", "A", "loss"), ("Tie", "Tie", "tie"),
    ("A", "A", "undetermined"),   # each order prefers the first slot: position bias, not a tie
    ("B", "B", "undetermined"), ("A", "Tie", "undetermined"), (None, "B", "undetermined"), (None, None, "undetermined"),
])
def test_both_orders_must_agree(o1, o2, outcome):
    assert PW.combine_orders(o1, o2) == outcome


@pytest.mark.parametrize("label,name", [(1, "easy"), (4.5, "easy"), (5, "medium"), (7.5, "medium"), (7.99, "medium"),
                                        (8, "hard"), (10, "hard"), (None, "unlabelled"), ("7", "unlabelled")])
def test_buckets_take_non_integer_labels_and_hard_is_8_and_up(label, name):
    assert PW.bucket(label) == name


def test_verdict_needs_probability_mass():
    assert PW.verdict_from_probs({"A": 0.5, "B": 0.2, "Tie": 0.1}, 0.5) == "A"
    assert PW.verdict_from_probs({"A": 0.05, "B": 0.01, "Tie": 0.0}, 0.5) is None
    assert PW.verdict_from_probs(None, 0.5) is None


def test_win_rate_interval_and_sign_test_by_hand():
    res = PW.summary(["win"] * 8 + ["loss"] * 2 + ["tie"] * 2)
    # Wilson, 8 of 10, z=1.96: centre (0.8 + 0.19208) / 1.38416 = 0.71674, half = 0.22653
    assert res["win_rate"] == 0.8 and res["win_rate_lo"] == pytest.approx(0.4902, abs=1e-4)
    assert res["win_rate_hi"] == pytest.approx(0.9433, abs=1e-4)
    # sign test: 2 * P(X <= 2 | n=10, p=.5) = 2 * 56 / 1024
    assert res["sign_test_p"] == pytest.approx(0.1094, abs=1e-4)
    assert res["headline"] == 0.8 and res["order_consistency"] == 1.0


def test_an_inconsistent_judge_makes_the_comparison_undetermined():
    res = PW.summary(["undetermined"] * 14 + ["win", "tie"])
    assert res["headline"] == "undetermined" and res["order_consistency"] == 0.125
    assert res["tie"] == 1 and res["undetermined"] == 14
    assert PW.summary(["error"] * 9 + ["win"] * 7)["headline"] == "undetermined"  # most items failed


@pytest.mark.parametrize("text,v", [
    ("A", "A"), ("B.", "B"), ("Verdict: B", "B"), ("tie", "Tie"), ("[[A]]", "A"),
    ("Reply B is better", "B"), ("A and B are both fine", None), ("", None), ("Apples", None),
])
def test_parse_pair_verdict(text, v):
    assert PW.parse_pair_verdict(text) == v


def test_aggregate_by_bucket_and_skill():
    items = [{"skill": "math", "difficulty": 2}, {"skill": "math", "difficulty": 9}, {"skill": "writing", "difficulty": 6},
             {"skill": "writing", "difficulty": None}, {"skill": "writing", "difficulty": 8.5}]
    res = PW.aggregate(items, ["win", "loss", "tie", "win", "undetermined"])
    o = res["overall"]
    assert (o["win"], o["loss"], o["tie"], o["undetermined"], o["n"]) == (2, 1, 1, 1, 5) and o["win_rate"] == 0.6667
    assert res["by_bucket"]["easy"]["win"] == 1 and res["by_bucket"]["hard"]["loss"] == 1
    assert res["by_bucket"]["hard"]["undetermined"] == 1 and "unlabelled" in res["by_bucket"]
    assert res["by_skill"]["writing"]["n"] == 3 and res["status"] == "determined"
    claim = PW.claim_beats("evolved_vs_seeds", res)
    assert claim["verdict"] == "undetermined" and claim["interval"][0] < 0.5 < claim["interval"][1]


def test_judge_pairs_with_a_position_biased_judge_is_undetermined_and_failed_answers_are_errors():
    judge = Generator(FakeBackend(reply=lambda p: "A"))  # always prefers the first slot
    items = [{"instruction": "q1"}, {"instruction": "q2"}, {"instruction": "q3"}]
    out = judge_pairs(items, ["good", "good", None], ["bad", "bad", "bad"], judge, mode="parsed")
    assert [o["outcome"] for o in out] == ["undetermined", "undetermined", "error"]
    assert PW.aggregate(items, [o["outcome"] for o in out])["overall"]["headline"] == "undetermined"

    def fair(prompt):  # prefers whichever reply says "good"
        a = prompt.split("<<Reply A>>")[1].split("<<Reply B>>")[0]
        return "A" if "good" in a else "B"
    out = judge_pairs(items[:2], ["good", "bad"], ["bad", "good"], Generator(FakeBackend(reply=fair)), mode="auto")
    assert [o["outcome"] for o in out] == ["win", "loss"]


def test_variant_rows_equal_size_and_rounds():
    seeds = [dict(new_seed(f"seed {i}"), response="r") for i in range(3)]
    evo = [dict(new_evolution(seeds[0], 1, "deepening", f"evo {i}"), response="r") for i in range(5)]
    data = FT.variant_rows(seeds + evo, None, ["seeds", "evolved"], equal_size=True, seed=0)
    assert len(data["seeds"]) == len(data["evolved"]) == 3
    assert all(r["round"] == 0 for r in data["seeds"])
    data = FT.variant_rows(seeds + evo, None, ["seeds", "evolved"], equal_size=False, seed=0)
    assert len(data["evolved"]) == 8
    with pytest.raises(FileNotFoundError, match="05_diversity"):
        FT.variant_rows(seeds, None, ["selected"], True, 0)
    conv = FT.to_conversations([dict(seeds[0], input="ctx")])[0]
    assert conv["prompt"][0]["content"] == "seed 0\n\nctx" and conv["completion"][0]["content"] == "r"
