"""params/paper.yaml is the paper's settings, and does what its comments say."""

from pathlib import Path

from workbench.core import rules as R
from workbench.pipeline import params as P

REPO = Path(__file__).resolve().parent.parent
PAPER = REPO / "params" / "paper.yaml"


def test_paper_params_are_the_papers():
    p = P.load(PAPER)
    ev, ft = p["evolve"], p["finetune"]
    assert ev["rounds"] == 4 and len(set(ev["op_weights"])) == 1 and len(ev["op_weights"]) == 6
    assert ev["reanswer_seeds"] and ev["answer_top_p"] == 1.0 and ev["answer_temperature"] == 1.0
    assert (ft["method"], ft["epochs"], ft["learning_rate"], ft["max_length"]) == ("full", 3.0, 2e-5, 2048)
    assert ft["batch_size"] * ft["grad_accum"] == 64 and not ft["equal_size"]
    assert p["evaluate"]["protocol"] == "scores"  # Vicuna's pairwise scoring, which the paper used


def test_the_elimination_is_the_papers_four_rules_and_nothing_cuts_an_evolution_short():
    rules = P.load(PAPER)["evolve"]["rules"]  # validating builds each stage's Config: every rule registered
    text = PAPER.read_text(encoding="utf-8")
    assert "Not used: too_long" in text and "evolved instructions are not cut short" in text
    assert "too_long" not in rules and "input_lost" not in rules
    for paper_rule in ("no_information_gain", "sorry_short_response", "degenerate_response", "prompt_leak"):
        assert paper_rule in rules
    assert set(rules) <= set(R.switchable("evolve"))


def test_no_cleaning_but_elimination_as_the_comment_says():
    text = PAPER.read_text(encoding="utf-8")
    assert "only cleaning was the elimination step" in text
    assert P.load(PAPER)["filter"]["rules"] == []
