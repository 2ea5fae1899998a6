"""workbench.stages.diversity.selection: Deita selection, complexity x quality, the quality judge."""

import numpy as np
import pytest
from diversity_fixtures import clustered, unit
from fakes import FakeBackend

from workbench.core.records import new_seed
from workbench.llm import Generator
from workbench.stages import diversity as DV
from workbench.stages.diversity.selection import conversation_text, quality_scores, selection_scores


def naive_deita(ids, x, scores, tau, budget):
    order = sorted((i for i in range(len(ids)) if scores[i] is not None), key=lambda i: (-scores[i], ids[i]))
    kept = []
    for i in order:
        if budget and len(kept) >= budget:
            break
        if all(float(x[i] @ x[j]) < tau for j in kept):
            kept.append(i)
    return [ids[i] for i in kept]




@pytest.mark.parametrize("chunk", [1, 7, 256])
def test_deita_never_keeps_two_items_at_or_above_tau_and_matches_the_greedy_loop(chunk):
    x, _ = clustered()
    rng = np.random.default_rng(3)
    ids = [f"r{i:04d}" for i in range(len(x))]
    scores = [None if rng.random() < 0.2 else float(rng.integers(0, 5)) for _ in ids]  # ties + missing
    tau = 0.8
    kept, report = DV.deita_select(ids, x, scores, tau, budget=0, chunk=chunk)
    pos = [ids.index(k) for k in kept]
    gram = x[pos] @ x[pos].T
    np.fill_diagonal(gram, -1)
    assert 1 < len(kept) < len(ids) and gram.max() < tau
    assert kept == naive_deita(ids, x, scores, tau, 0)
    missing = sum(s is None for s in scores)
    assert report["kept"] == len(kept) and report["rejected_by_tau"] == len(ids) - len(kept) - missing
    assert report["not_reached_budget"] == 0 and report["missing_scores"] == missing
    assert not {ids[i] for i in range(len(ids)) if scores[i] is None} & set(kept)  # never a default score
    # every rejected item really was too close to something kept
    rejected = [i for i in range(len(ids)) if ids[i] not in set(kept) and scores[i] is not None]
    assert (x[rejected] @ x[pos].T).max(1).min() >= tau


def test_deita_keeps_the_better_scored_of_a_near_identical_pair():
    a = [1.0, 0.0, 0.0]
    x = unit([a, [0.999, 0.02, 0.0], [0.0, 0.0, 1.0]])
    assert float(x[0] @ x[1]) > 0.99
    kept, report = DV.deita_select(["a", "a2", "b"], x, [0.5, 0.9, 0.1], tau=0.9)
    assert kept == ["a2", "b"]  # a2 outscores a; not both dropped, b is far from both
    assert report["rejected_by_tau"] == 1
    kept, _ = DV.deita_select(["a", "a2", "b"], x, [0.9, 0.5, 0.1], tau=0.9)
    assert kept == ["a", "b"]


def test_deita_respects_the_budget_order_and_reports_what_was_not_reached():
    x = np.eye(10, dtype=np.float32)  # nothing is close: only the budget stops it
    ids = [f"id{i}" for i in range(10)]
    scores = [3.0, None, 7.0, 7.0, 1.0, None, 5.0, 2.0, 0.0, 4.0]
    kept, report = DV.deita_select(ids, x, scores, tau=0.5, budget=3)
    assert kept == ["id2", "id3", "id6"]  # 7, 7 (tie by id), 5
    assert report == {"tau": 0.5, "budget": 3, "candidates": 10, "kept": 3, "rejected_by_tau": 0,
                      "not_reached_budget": 5, "missing_scores": 2}  # 3 + 0 + 5 + 2 = 10 rows in
    kept, report = DV.deita_select(ids, x, scores, tau=0.5, budget=0)
    assert len(kept) == 8 and "id1" not in kept and "id5" not in kept and report["not_reached_budget"] == 0
    kept, report = DV.deita_select(ids, x, None, tau=0.5, budget=4)  # no scores at all: id order
    assert kept == ["id0", "id1", "id2", "id3"] and report["missing_scores"] == 0


# ----------------------------------------------------------------- scores

def test_auto_uses_complexity_times_quality_when_both_exist_and_never_defaults_a_missing_one():
    scores, info = selection_scores([4.0, 6.0, None, 2.0], [5.0, None, 7.0, 9.0],
                                    [None, "rating_mass_low", None, None], "auto")
    assert scores == [20.0, None, None, 18.0]
    assert info == {"score_used": "complexity_x_quality", "scored": 2,
                    "unscored_by_reason": {"no_complexity": 1, "rating_mass_low": 1}}


def test_auto_falls_back_to_complexity_then_to_no_ranking():
    scores, info = selection_scores([4.0, None], None, None, "auto")  # quality judge off
    assert scores == [4.0, None] and info["score_used"] == "complexity"
    scores, info = selection_scores([4.0, 3.0], [None, None], ["no_response", "no_response"], "auto")
    assert scores == [4.0, 3.0] and info["score_used"] == "complexity"  # no row has both
    scores, info = selection_scores([None, None], [8.0, 9.0], [None, None], "auto")
    assert scores is None and info["score_used"] == "none" and "id order" in info["note"]
    scores, info = selection_scores([4.0, 3.0], None, None, "complexity_x_quality")  # asked for: no default
    assert scores == [None, None] and info["unscored_by_reason"] == {"quality_not_computed": 2}
    with pytest.raises(ValueError, match="selection_score"):
        selection_scores([1.0], None, None, "quality")


def test_quality_judge_uses_the_rating_routine_and_skips_rows_without_an_answer():
    replies = iter(["8", "I cannot say"])
    backend = FakeBackend(reply=lambda p: next(replies))
    rows = [new_seed("Name a river.", response="The Nile."), new_seed("Say hi.", response=""),
            new_seed("Add 2 and 2.", response="5")]
    res = quality_scores(rows, Generator(backend))
    assert backend.calls == 2  # the empty answer is never sent
    assert [r["quality"] for r in res] == [8.0, None, None]
    assert [r["quality_reason"] for r in res] == [None, "no_response", "unparsable"]
    assert res[0]["quality_mode"] == "parsed"


def test_conversation_text_is_instruction_input_and_response():
    rec = new_seed("Sort.", "3 1", response="1 3")
    assert conversation_text(rec) == "Sort.\n\n3 1\n\n1 3"
    assert conversation_text(new_seed("Hi.")) == "Hi."


def test_selection_by_conversation_can_keep_two_answers_to_one_instruction():
    x_instr = unit([[1, 0, 0], [1, 0, 0]])  # one instruction asked twice...
    x_conv = unit([[1, 0, 0.1], [0, 1, 0.1]])  # ...with very different answers
    assert DV.deita_select(["a", "b"], x_instr, [2.0, 1.0], tau=0.9)[0] == ["a"]
    assert DV.deita_select(["a", "b"], x_conv, [2.0, 1.0], tau=0.9)[0] == ["a", "b"]
