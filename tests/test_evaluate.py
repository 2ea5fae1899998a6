import pytest
from conftest import FakeBackend

from workbench import evaluate as EV
from workbench import finetune as FT
from workbench.llm import Generator
from workbench.records import new_evolution, new_seed


@pytest.mark.parametrize("o1,o2,outcome,disagree", [
    ("A", "B", "win", False), ("B", "A", "loss", False), ("Tie", "Tie", "tie", False),
    ("A", "A", "tie", True),   # each order prefers the first slot: position bias, not a win
    ("B", "B", "tie", True), ("A", "Tie", "tie", True), (None, "B", "tie", True),
])
def test_both_orders_must_agree(o1, o2, outcome, disagree):
    assert EV.combine_orders(o1, o2) == (outcome, disagree)


@pytest.mark.parametrize("text,v", [
    ("A", "A"), ("B.", "B"), ("Verdict: B", "B"), ("tie", "Tie"), ("[[A]]", "A"),
    ("Reply B is better", "B"), ("A and B are both fine", None), ("", None), ("Apples", None),
])
def test_parse_pair_verdict(text, v):
    assert EV.parse_pair_verdict(text) == v


def test_aggregate_by_bucket_and_skill():
    items = [{"skill": "math", "difficulty": 2}, {"skill": "math", "difficulty": 9}, {"skill": "writing", "difficulty": 6},
             {"skill": "writing", "difficulty": None}]
    res = EV.aggregate(items, ["win", "loss", "tie", "win"], [False, False, True, False])
    assert res["overall"] == {"win": 2, "tie": 1, "loss": 1, "n": 4, "score": 0.625}
    assert res["by_bucket"]["easy"]["score"] == 1.0 and res["by_bucket"]["hard"]["score"] == 0.0
    assert res["by_bucket"]["medium"]["tie"] == 1 and "unlabelled" in res["by_bucket"]
    assert res["by_skill"]["writing"]["score"] == 0.75 and res["order_disagreement"] == 0.25


def test_judge_pairs_with_a_position_biased_judge_gives_ties():
    judge = Generator(FakeBackend(reply=lambda p: "A"))  # always prefers the first slot
    items = [{"instruction": "q1"}, {"instruction": "q2"}]
    out = EV.judge_pairs(items, ["good", "good"], ["bad", "bad"], judge, mode="parsed")
    assert [o["outcome"] for o in out] == ["tie", "tie"] and all(o["disagree"] for o in out)

    def fair(prompt):  # prefers whichever reply says "good"
        a = prompt.split("<<Reply A>>")[1].split("<<Reply B>>")[0]
        return "A" if "good" in a else "B"
    out = EV.judge_pairs(items, ["good", "bad"], ["bad", "good"], Generator(FakeBackend(reply=fair)), mode="auto")
    assert [o["outcome"] for o in out] == ["win", "loss"] and not any(o["disagree"] for o in out)


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
