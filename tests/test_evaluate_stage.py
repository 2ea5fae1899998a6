from conftest import FakeBackend

from workbench import evaluate_stage as ES
from workbench.llm import Generator


def test_failed_answers_are_errors_not_losses_and_the_claim_is_stated():
    items = [{"id": f"e{i}", "instruction": f"q{i}", "input": "", "skill": "math", "difficulty": d,
              "checks": [{"type": "word_count_max", "n": 5}] if i == 0 else []} for i, d in enumerate([2, 6, 9, 9])]
    answers = {"evolved": ["good short", "good", None, "good"], "seeds": ["bad", "bad", "bad", "bad"]}

    def fair(prompt):
        if "<<Reply A>>" not in prompt:
            return "7"
        return "A" if "good" in prompt.split("<<Reply A>>")[1].split("<<Reply B>>")[0] else "B"

    judge = Generator(FakeBackend(reply=fair))
    results, samples = ES.evaluate(None, items, answers, [["evolved", "seeds"]], judge, "auto", 0.5, True, True)
    o = results["pairs"]["evolved_vs_seeds"]["overall"]
    assert (o["win"], o["error"], o["loss"]) == (3, 1, 0) and o["headline"] == 1.0
    assert samples[2]["pairwise"]["evolved_vs_seeds"]["outcome"] == "error"
    assert results["single"]["evolved"]["overall"]["n"] == 3  # the failed answer is not rated
    assert results["verifiable"]["evolved"]["prompt_strict"] == 1.0
    assert results["claims"][0]["verdict"] == "undetermined"  # 3 wins: the interval still reaches below 0.5
    assert results["claims"][0]["interval"][0] < 0.5


def test_no_items_is_a_plain_error():
    import pytest

    with pytest.raises(ValueError, match="no eval item"):
        ES.evaluate(None, [], {}, [], Generator(FakeBackend()), "auto", 0.5, True, True)
