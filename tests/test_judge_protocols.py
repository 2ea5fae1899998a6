"""07_evaluate's judge protocols (verdict, rationale, scores) on judging units (item, turn)."""

import pytest
from fakes import FakeBackend

from workbench.core import templates
from workbench.llm import Completion, Generator
from workbench.stages.evaluate import judge_prompts as JP
from workbench.stages.evaluate import pairwise as PW
from workbench.stages.evaluate import protocols as P


def replies_shown(prompt: str) -> tuple[str, str]:
    """(Reply A, Reply B) as the judge sees them."""
    a = prompt.split("<<Reply A>>")[1].split("<<Reply B>>")[0]
    return a, prompt.split("<<Reply B>>")[1]


def recording(reply):
    """A fake judge that keeps every prompt it is sent."""
    seen: list[str] = []

    def answer(prompt):
        seen.append(prompt)
        return reply(prompt)
    backend = FakeBackend(reply=answer)
    return Generator(backend), backend, seen


class ProbsBackend(FakeBackend):
    """A judge that gives whole-reply probabilities: `probs(prompt)` -> dict, or None where it cannot."""

    def __init__(self, probs, reply=None):
        super().__init__(reply=reply or (lambda p: "Tie"))
        self.probs, self.prob_calls = probs, 0

    def choice_probs(self, prompts, choices):
        self.prob_calls += len(prompts)
        return [self.probs(m[-1]["content"]) for m in prompts]


class FailingBackend(FakeBackend):
    """A judge whose call fails for every prompt holding "BROKEN"."""

    def generate(self, prompts, gen):
        out = super().generate(prompts, gen)
        return [Completion(None, error="server said 500") if "BROKEN" in m[-1]["content"] else c
                for m, c in zip(prompts, out)]


# ---- reading the marker ---------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("A is terse, B is thorough.\n[[B]]", ("B", None)),
    ('At first glance one might answer "[[A]]", but Reply B handles the edge case.\n[[B]]', ("B", None)),
    ("Both are equally fine. [[C]]", ("Tie", None)),
    ("[[ a ]]", ("A", None)),
    ("Reply A is better.", (None, "no_marker")),
    ("[[D]]", (None, "out_of_range")),
    ("[[A]] ... on reflection [[AB]]", (None, "out_of_range")),  # the last marker counts, even when unreadable
    (None, (None, "no_marker")),
])
def test_marked_verdict_reads_the_last_marker(text, expected):
    assert P.parse_marked_verdict(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Complete and correct. [[10]]", (10, None)),
    ("I first thought [[3]], but the proof holds. [[8]]", (8, None)),
    ("[[7/10]]", (7, None)),
    ("[[11]]", (None, "out_of_range")), ("[[0]]", (None, "out_of_range")),
    ("[[7.5]]", (None, "out_of_range")), ("[[seven]]", (None, "out_of_range")),
    ("Rating: 7", (None, "no_marker")), ("", (None, "no_marker")),
])
def test_marked_rating(text, expected):
    assert P.parse_marked_rating(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Reply A is right. [[7, 4]]", ((7, 4), None)), ("[[10,1]]", ((10, 1), None)),
    ("Draft [[2, 3]], final [[9, 1]]", ((9, 1), None)),
    ("[[7, 11]]", (None, "out_of_range")), ("[[7]]", (None, "out_of_range")),
    ("7 and 4", (None, "no_marker")),
])
def test_marked_scores(text, expected):
    assert P.parse_marked_scores(text) == expected


def test_units_and_protocol_checks():
    items = [{"instruction": "q"}, {"instruction": "t1", "turns": ["t1", "t2"]}]
    assert P.units(items) == [(0, 0), (1, 0), (1, 1)]
    assert P.check_protocol("scores", "auto") == []
    assert "evaluate.protocol" in P.check_protocol("likert", "auto")[0]
    assert "needs evaluate.protocol = 'verdict'" in P.check_protocol("rationale", "probs")[0]
    with pytest.raises(ValueError, match="evaluate.protocol"):
        P.judge_pairs(items, [["a"]] * 2, [["b"]] * 2, Generator(FakeBackend()), protocol="likert")


# ---- the protocols end to end, with fake judges -----------------------------------------------------

def fair_rationale(prompt):
    """Quotes the wrong marker in its reasoning, then marks the reply that says "good"."""
    a, b = replies_shown(prompt)
    return f'Someone might say "[[{"B" if "good" in a else "A"}]]" here, but no.\n[[{"A" if "good" in a else "B"}]]'


def test_rationale_pairs_follow_the_final_marker_and_an_unmarked_reply_is_undetermined():
    items = [{"instruction": f"q{i}"} for i in range(3)]
    judge, backend, _ = recording(fair_rationale)
    out = P.judge_pairs(items, [["good"], ["bad"], ["good"]], [["bad"], ["good"], ["bad"]], judge, protocol="rationale")
    assert [o["outcome"] for o in out] == ["win", "loss", "win"]
    assert out[0]["order_1"] == "A" and out[0]["order_2"] == "B" and backend.calls == 6
    assert [(o["item"], o["turn"]) for o in out] == [(0, 1), (1, 1), (2, 1)]

    mute = Generator(FakeBackend(reply=lambda p: "Reply A is better, clearly."))
    out = P.judge_pairs(items[:1], [["good"]], [["bad"]], mute, protocol="rationale")
    assert out[0]["outcome"] == "undetermined" and out[0]["reason_1"] == out[0]["reason_2"] == "no_marker"


def test_scores_in_both_orders_by_hand():
    # order 1 (first candidate "good" as A): [[9, 3]]; order 2 (it is B): [[4, 7]]
    def judge_reply(prompt):
        a, _ = replies_shown(prompt)
        return "Good beats bad. [[9, 3]]" if "good" in a else "Bad loses. [[4, 7]]"

    out = P.judge_pairs([{"instruction": "q"}], [["good"]], [["bad"]], Generator(FakeBackend(reply=judge_reply)),
                        protocol="scores")[0]
    assert (out["order_1"], out["order_2"], out["outcome"]) == ("A", "B", "win")
    assert out["scores_1"] == [9, 3] and out["scores_2"] == [7, 4]  # both in candidate order [first, second]
    assert out["score_first"] == 8.0 and out["score_second"] == 3.5  # (9 + 7) / 2, (3 + 4) / 2


def test_scores_from_a_position_biased_judge_are_undetermined_not_a_tie():
    judge = Generator(FakeBackend(reply=lambda p: "The first reply is stronger. [[8, 5]]"))
    items = [{"instruction": "q1"}, {"instruction": "q2"}]
    out = P.judge_pairs(items, [["good"], ["bad"]], [["bad"], ["good"]], judge, protocol="scores")
    assert [o["outcome"] for o in out] == ["undetermined", "undetermined"]
    assert out[0]["order_1"] == out[0]["order_2"] == "A"
    assert out[0]["scores_2"] == [5, 8] and out[0]["score_first"] == out[0]["score_second"] == 6.5
    assert PW.aggregate(items, [o["outcome"] for o in out])["overall"]["headline"] == "undetermined"


def test_equal_scores_are_a_tie_and_an_unreadable_order_leaves_no_mean():
    out = P.judge_pairs([{"instruction": "q"}], [["x"]], [["y"]], Generator(FakeBackend(reply=lambda p: "[[6, 6]]")),
                        protocol="scores")[0]
    assert out["outcome"] == "tie" and out["score_first"] == 6.0

    def half(prompt):
        return "[[9, 2]]" if "good" in replies_shown(prompt)[0] else "[[2, 12]]"
    out = P.judge_pairs([{"instruction": "q"}], [["good"]], [["bad"]], Generator(FakeBackend(reply=half)),
                        protocol="scores")[0]
    assert out["outcome"] == "undetermined" and out["reason_2"] == "out_of_range"
    assert out["scores_1"] == [9, 2] and out["scores_2"] is None
    assert out["score_first"] is None and out["score_second"] is None


def test_verdict_protocol_keeps_todays_prompt_and_reads_probabilities_with_min_mass():
    item = {"instruction": "Add 2 and 3", "input": ""}
    plain = templates.load("pairwise_judge").render(question="Add 2 and 3", answer_a="5", answer_b="6")
    assert JP.pair_messages(item, 0, ["5"], ["6"], "verdict")[0]["content"] == plain

    def probs(prompt):
        a, _ = replies_shown(prompt)
        if "vague" in a:
            return {"A": 0.1, "B": 0.1, "Tie": 0.05}  # 0.25 < min_mass: not a verdict
        if "noprobs" in a:
            return None  # this call gave no probabilities: asked again as text
        return {"A": 0.7, "B": 0.2, "Tie": 0.1} if "good" in a else {"A": 0.2, "B": 0.7, "Tie": 0.1}

    backend = ProbsBackend(probs, reply=lambda p: "A" if "good" in replies_shown(p)[0] else "B")
    items = [item] * 3
    out = P.judge_pairs(items, [["good"], ["vague good"], ["noprobs good"]], [["bad"], ["bad"], ["bad"]],
                        Generator(backend), protocol="verdict", min_mass=0.5)
    assert out[0]["outcome"] == "win" and out[0]["raw_1"] is None  # read from probabilities, no text
    assert out[1]["outcome"] == "undetermined" and out[1]["reason_1"] == "low_mass"
    assert out[2]["outcome"] == "win" and out[2]["raw_1"] == "A" and backend.calls == 1  # only that one as text


# ---- reference-guided and multi-turn prompts ---------------------------------------------------------

@pytest.mark.parametrize("protocol", ["verdict", "rationale", "scores"])
def test_reference_is_shown_only_where_the_item_has_one_for_that_turn(protocol):
    items = [{"instruction": "q0", "reference": ["REF-ALPHA"]},
             {"instruction": "q1", "reference": None},
             {"instruction": "t1", "turns": ["t1", "t2"], "reference": ["", "REF-BETA"]},
             {"instruction": "u1", "turns": ["u1", "u2"], "reference": "REF-GAMMA"}]  # turn 1's only
    answers_1 = [["a0"], ["a1"], ["a2-1", "a2-2"], ["a3-1", "a3-2"]]
    answers_2 = [["b0"], ["b1"], ["b2-1", "b2-2"], ["b3-1", "b3-2"]]
    judge, _, seen = recording(lambda p: "[[C]]")
    P.judge_pairs(items, answers_1, answers_2, judge, "parsed", protocol=protocol)
    P.grade_single(items, answers_1, judge, protocol, "parsed")
    assert len(seen) == 18  # 6 units x 2 orders, then 6 single grades
    for p in seen:
        reply = (p.split("<<Reply A>>") if "<<Reply A>>" in p else p.split("<<Reply>>"))[1].split()[0]
        has_ref = reply in ("a0", "b0", "a2-2", "b2-2", "a3-1", "b3-1")
        assert ("<<Reference Answer>>" in p) == has_ref, (reply, p)
        assert ("REF-ALPHA" in p) == (reply in ("a0", "b0")) and ("REF-BETA" in p) == (reply in ("a2-2", "b2-2"))
        assert ("REF-GAMMA" in p) == (reply in ("a3-1", "b3-1"))
        assert "{reference}" not in p and "{earlier}" not in p and "{question}" not in p


def test_turn_2_prompt_shows_each_candidates_own_first_reply():
    item = {"instruction": "Name a prime.", "turns": ["Name a prime.", "Now double it."]}
    judge, _, seen = recording(lambda p: "[[A]]")
    out = P.judge_pairs([item], [["FIRST-1", "FIRST-2"]], [["SECOND-1", "SECOND-2"]], judge, protocol="rationale")
    assert [(o["item"], o["turn"]) for o in out] == [(0, 1), (0, 2)]
    turn1 = [p for p in seen if "Earlier Turns" not in p]
    assert len(turn1) == 2 and all("Now double it." not in p for p in turn1)
    order_1, order_2 = [p for p in seen if "Earlier Turns" in p]
    for prompt, a_side, b_side in ((order_1, "FIRST", "SECOND"), (order_2, "SECOND", "FIRST")):
        earlier_a = prompt.split("<<Earlier Turns with Assistant A>>")[1].split("<<Earlier Turns with Assistant B>>")[0]
        earlier_b = prompt.split("<<Earlier Turns with Assistant B>>")[1].split("<<Question>>")[0]
        assert f"{a_side}-1" in earlier_a and f"{b_side}-1" not in earlier_a and "Name a prime." in earlier_a
        assert f"{b_side}-1" in earlier_b and f"{a_side}-1" not in earlier_b
        assert prompt.split("<<Question>>")[1].split("<<Reply A>>")[0].strip() == "Now double it."
        a, b = replies_shown(prompt)
        assert a.strip() == f"{a_side}-2" and b.split("\n\n")[0].strip() == f"{b_side}-2"

    judge, _, seen = recording(lambda p: "[[6]]")
    grades = P.grade_single([item], [["FIRST-1", "FIRST-2"]], judge, "rationale")
    assert [g["rating"] for g in grades] == [6.0, 6.0] and [g["turn"] for g in grades] == [1, 2]
    assert "<<Earlier Turns>>" in seen[1] and "FIRST-1" in seen[1] and "SECOND-1" not in seen[1]
    assert seen[1].split("<<Reply>>")[1].split("\n\n")[0].strip() == "FIRST-2"


# ---- missing answers and failed calls are errors, never losses ---------------------------------------

@pytest.mark.parametrize("protocol", ["verdict", "rationale", "scores"])
def test_a_missing_answer_is_an_error_without_a_judge_call(protocol):
    items = [{"instruction": "q0"}, {"instruction": "q1"}, {"instruction": "t1", "turns": ["t1", "t2"]}]
    backend = FakeBackend(reply=lambda p: "[[A]]" if protocol == "rationale" else "[[7, 3]]" if protocol == "scores" else "A")
    out = P.judge_pairs(items, [["good"], None, ["only one reply"]], [["bad"], ["bad"], ["b1", "b2"]],
                        Generator(backend), "parsed", protocol=protocol)
    assert [o["outcome"] for o in out][1] == "error" and "first" in out[1]["error"]
    assert out[3]["outcome"] == "error" and out[3]["turn"] == 2  # no reply to turn 2: that unit only
    assert out[0]["outcome"] != "error" and out[2]["outcome"] != "error"
    assert backend.calls == 4  # units 0 and 2, both orders; nothing for the missing answers
    backend.calls = 0
    grades = P.grade_single(items, [["good"], None, ["only one reply"]], Generator(backend), protocol, "parsed")
    assert [g["rating_reason"] for g in grades][1] == "no_answer" and grades[3]["rating"] is None
    assert backend.calls == 2


@pytest.mark.parametrize("protocol,reply", [("verdict", "A"), ("rationale", "[[A]]"), ("scores", "[[9, 1]]")])
def test_a_failed_judge_call_is_an_error_not_a_loss(protocol, reply):
    items = [{"instruction": "fine"}, {"instruction": "BROKEN"}]
    backend = FailingBackend(reply=lambda p: reply)
    out = P.judge_pairs(items, [["x"], ["x"]], [["y"], ["y"]], Generator(backend), "parsed", protocol=protocol)
    assert out[1]["outcome"] == "error" and "server said 500" in out[1]["error"]
    assert out[1]["reason_1"] == "backend_error" and out[0]["outcome"] == "undetermined"  # always "A": biased
    if protocol == "scores":
        assert out[1]["score_first"] is None and out[0]["score_first"] == 5.0
    grades = P.grade_single(items, [["x"], ["x"]], Generator(FailingBackend(reply=lambda p: "[[7]]" if protocol != "verdict" else "7")),
                            protocol, "parsed")
    assert grades[0]["rating"] == 7.0 and grades[1]["rating"] is None
    assert grades[1]["rating_reason"] == "backend_error" and "server said 500" in grades[1]["error"]


def test_single_grades_read_the_marker_range():
    items = [{"instruction": "q0"}, {"instruction": "q1"}, {"instruction": "q2"}]
    marks = {"a0": "Flawless. [[10]]", "a1": "Beyond the scale. [[11]]", "a2": "Decent, I would say 7."}
    judge = Generator(FakeBackend(reply=lambda p: marks[p.split("<<Reply>>")[1].split()[0]]))
    grades = P.grade_single(items, [["a0"], ["a1"], ["a2"]], judge, "rationale")
    assert [(g["rating"], g["rating_reason"]) for g in grades] == [(10.0, None), (None, "out_of_range"),
                                                                   (None, "no_marker")]
    assert all(g["rating_mode"] == "marked" for g in grades)


# ---- figures per turn ---------------------------------------------------------------------------------

def test_aggregate_and_rating_summary_by_turn():
    one = {"skill": "math", "difficulty": 9}
    two = {"skill": "chat", "difficulty": 3, "turns": ["t1", "t2"]}
    unit_items, turns = [one, two, two], [1, 1, 2]
    res = PW.aggregate(unit_items, ["win", "win", "loss"], turns)
    assert res["overall"]["n"] == 3 and res["overall"]["win_rate"] == 0.6667
    assert res["by_turn"]["1"]["win"] == 2 and res["by_turn"]["2"]["loss"] == 1 and res["by_turn"]["2"]["n"] == 1
    assert "by_turn" not in PW.aggregate([one], ["win"])
    with pytest.raises(ValueError, match="turn number"):
        PW.aggregate(unit_items, ["win", "win", "loss"])
    single = PW.rating_summary(unit_items, [8.0, None, 4.0], turns)
    assert single["overall"]["mean"] == 6.0 and single["nulls"] == 1
    assert single["by_turn"]["1"]["mean"] == 8.0 and single["by_turn"]["2"]["mean"] == 4.0
    assert single["by_bucket"]["hard"]["mean"] == 8.0 and single["by_bucket"]["medium"]["n"] == 0
