"""Blind human evaluation (09_human_eval), the results: win / tie / loss per pair from the
ratings file, Krippendorff's alpha and the judge's agreement with the humans, each worked by hand,
and the table and figure 08_compare shows."""

from human_eval_fixtures import make_run, rate, sample

from workbench.core.stats import wilson
from workbench.explore import agreement as AG
from workbench.explore import human_ratings as HR

# --- aggregation, worked by hand ---

def wtl(c: dict) -> tuple:
    return c["win"]["count"], c["tie"]["count"], c["loss"]["count"]


def test_win_tie_loss_per_pair_over_two_raters_and_three_items(tmp_path):
    run = make_run(tmp_path, [sample("A", 9, "math"), sample("B", 3, "writing"), sample("C", 6, "math")])
    items = HR.load_items(run)
    # ann: A 1-5 (replaced: the last row wins) then 5-3 win, B 2-4 loss, C 3-3 tie; bob: A tie, B loss, C win
    for rater, item_id, e, s_ in [("ann", "A", 1, 5), ("ann", "A", 5, 3), ("ann", "B", 2, 4), ("ann", "C", 3, 3),
                                  ("bob", "A", 4, 4), ("bob", "B", 3, 5)]:
        rate(run, items, rater, item_id, {"evolved": e, "seeds": s_})
    rate(run, items, "bob", "C", {"evolved": 4, "seeds": 2, "base": 5})
    rows = HR.load_ratings(run)
    s = HR.pair_summary(items, rows, "evolved", "seeds")
    o = s["overall"]
    assert (o["n"], *wtl(o)) == (6, 2, 2, 2) and s["raters"] == ["ann", "bob"]
    assert o["win"]["share"] == round(2 / 6, 4) and (o["win"]["lo"], o["win"]["hi"]) == wilson(2, 6)
    assert {b: wtl(c) for b, c in s["by_bucket"].items()} == {"easy": (0, 0, 2), "medium": (1, 1, 0), "hard": (1, 1, 0)}
    assert list(s["by_bucket"]) == ["easy", "medium", "hard"]
    assert {k: wtl(c) for k, c in s["by_skill"].items()} == {"math": (2, 2, 0), "writing": (0, 0, 2)}
    # per item over raters: A win/tie split -> means 4.5 vs 3.5 win; B loss; C tie/win split -> 3.5 vs 2.5 win
    assert wtl(s["items"]) == (2, 0, 1)
    # base was rated once (bob, C) and never skipped-as-a-score: against evolved a single loss
    b = HR.pair_summary(items, rows, "evolved", "base")["overall"]
    assert (b["n"], b["loss"]["count"]) == (1, 1)
    assert HR.human_outcome([("a", 5, 3), ("b", 5, 4), ("c", 1, 5)]) == "win"  # 2 wins against 1 loss
    assert HR.human_outcome([("a", 5, 3), ("b", 2, 4)]) == "tie"  # 1 win, 1 loss; means 3.5 vs 3.5
    assert HR.human_outcome([("a", 5, 3), ("b", 3, 4)]) == "win"  # 1 win, 1 loss; means 4 vs 3.5
    assert HR.human_outcome([]) is None


# --- Krippendorff's alpha, ordinal ---

def test_alpha_by_hand_on_a_small_disagreeing_set():
    """Two raters, three answers: (1, 1), (2, 3), (3, 3). Coincidences o_11 = 2, o_23 = o_32 = 1,
    o_33 = 2; n_1 = 2, n_2 = 1, n_3 = 3, n = 6. Ordinal distances: d_12 = (3 - 1.5)^2 = 2.25,
    d_13 = (6 - 2.5)^2 = 12.25, d_23 = (4 - 2)^2 = 4. Observed: 2 * 1 * 4 = 8; expected:
    2 * (2*1*2.25 + 2*3*12.25 + 1*3*4) = 180. alpha = 1 - 5 * 8 / 180 = 7/9."""
    res = AG.ordinal_alpha([[1, 1], [2, 3], [3, 3]])
    assert res == {"alpha": round(7 / 9, 4), "units": 3, "values": 6, "reason": None}
    assert AG.ordinal_alpha([[1, 1], [2, 3], [3, 3], [5]])["alpha"] == round(7 / 9, 4)  # one value: no pair
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": the example with four
    # observers and twelve units (missing values left out); its ordinal alpha is 0.815
    observers = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
                 [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
                 [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
                 [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]
    units = [[o[u] for o in observers if o[u] is not None] for u in range(12)]
    res = AG.ordinal_alpha(units)
    assert round(res["alpha"], 3) == 0.815 and res["units"] == 11 and res["values"] == 40


def test_alpha_from_the_ratings_file(tmp_path):
    run = make_run(tmp_path, [sample("A"), sample("B"), sample("C")])
    items = HR.load_items(run)
    for rater in ("ann", "bob"):  # identical raters, varied ratings: perfect agreement
        for item_id, score in zip("ABC", (1, 3, 5)):
            rate(run, items, rater, item_id, {"evolved": score, "seeds": 6 - score})
    assert AG.inter_rater(items, HR.load_ratings(run))["alpha"] == 1.0
    run2 = make_run(tmp_path / "two", [sample("A"), sample("B"), sample("C")])
    for item_id, (a, b) in zip("ABC", ((1, 1), (2, 3), (3, 3))):  # the hand-worked set, as ratings of evolved
        rate(run2, items, "ann", item_id, {"evolved": a})
        rate(run2, items, "bob", item_id, {"evolved": b})
    rate(run2, items, "cid", "A", {}, skipped=True)  # a skipped item adds no value and no rater
    res = AG.inter_rater(items, HR.load_ratings(run2))
    assert res["alpha"] == round(7 / 9, 4) and res["raters"] == ["ann", "bob"] and res["units"] == 3
    run3 = make_run(tmp_path / "three", [sample("A"), sample("B")])  # not defined: None with the reason
    rate(run3, items, "ann", "A", {"evolved": 4})
    assert "1 rater (ann)" in AG.inter_rater(items, HR.load_ratings(run3))["reason"]
    rate(run3, items, "bob", "A", {"evolved": 4})
    res = AG.inter_rater(items, HR.load_ratings(run3))
    assert res["alpha"] is None and "same value" in res["reason"]
    assert AG.ordinal_alpha([[3], [4]])["reason"] == "no answer was rated by two raters"


# --- the judge against the humans ---

def test_judge_agreement_with_and_without_ties_by_hand(tmp_path):
    judge_and_human = [("i1", "win", (5, 2)), ("i2", "tie", (3, 3)), ("i3", "loss", (4, 1)),
                       ("i4", "undetermined", (5, 1)), ("i5", "error", (5, 1)), ("i6", "win", (2, 2)),
                       ("i7", "win", None), ("i8", "loss", (1, 4))]
    run = make_run(tmp_path, [sample(i, outcome=o) for i, o, _ in judge_and_human])
    items = HR.load_items(run)
    for i, _, scores in judge_and_human:
        if scores:
            rate(run, items, "ann", i, {"evolved": scores[0], "seeds": scores[1]})
    res = AG.judge_agreement(items, HR.load_ratings(run), "evolved", "seeds")
    # with ties: i1 agree, i2 agree, i3 disagree, i6 disagree, i8 agree -> 3 of 5
    assert res["with_ties"] == {"agree": 3, "n": 5, "share": 0.6, "lo": wilson(3, 5)[0], "hi": wilson(3, 5)[1]}
    # without ties (neither says tie): i1 agree, i3 disagree, i8 agree -> 2 of 3
    assert res["without_ties"] == {"agree": 2, "n": 3, "share": 0.6667, "lo": wilson(2, 3)[0], "hi": wilson(2, 3)[1]}
    assert res["excluded"] == {"undetermined": 1, "error": 1} and res["no_human"] == 1
    assert AG.judge_agreement(items, HR.load_ratings(run), "evolved", "base") is None  # never judged
    j = AG.judge_outcomes(items, HR.load_ratings(run), "evolved", "seeds")
    assert (j["n"], *wtl(j)) == (5, 2, 1, 2) and j["undecided"] == {"undetermined": 1, "error": 1}


def test_summary_table_and_figure_for_one_run(tmp_path):
    run = make_run(tmp_path)
    items = HR.load_items(run)
    for rater, scores in (("ann", (5, 3)), ("bob", (4, 4))):
        for it in items[:4]:
            both = {"evolved": scores[0], "seeds": scores[1]}
            rate(run, items, rater, it.id, {c: v for c, v in both.items() if it.answers[c] is not None})
    s = AG.summary(run)
    assert list(s["pairs"])[0] == "evolved_vs_seeds" and s["pairs"]["evolved_vs_seeds"]["judged"]
    assert s["pairs"]["evolved_vs_base"]["judge"] is None and s["raters"] == ["ann", "bob"]
    table = AG.side_by_side(run)
    first = table[table["pair"] == "evolved_vs_seeds"]
    assert list(first["who"]) == ["humans (2 raters)", "judge, same items"]
    # q1, q3, q4 rated by both (q2 has no seeds answer): each a win/tie split with means 4.5 vs 3.5 -> win
    assert list(first["n"]) == [3, 1] and first.iloc[0]["win"].startswith("100%")
    assert first.iloc[1]["left out"] == "undetermined 0, error 0"
    assert "not determined" not in first.iloc[0]["inter-rater alpha (ordinal)"]
    fig = AG.side_by_side_figure(run)
    assert fig.data and "nothing to draw" not in fig.layout.title.text
    assert "nothing to draw" in AG.side_by_side_figure(make_run(tmp_path / "empty")).layout.title.text
    assert "run 07_evaluate first" in AG.side_by_side_figure(tmp_path / "no_eval").layout.title.text
    assert "run 07_evaluate first" in AG.side_by_side(tmp_path / "no_eval").iloc[0, 0]
    # pairs: the judged (configured) pair first, then every other pair once; params.yaml's pairs lead
    assert HR.pairs_of(run, items) == [("evolved", "seeds"), ("evolved", "base"), ("seeds", "base")]
    (run / "params.yaml").write_text("evaluate:\n  pairs: [[base, seeds]]\n")
    assert HR.pairs_of(run, items) == [("base", "seeds"), ("evolved", "seeds"), ("evolved", "base")]



def test_a_run_nobody_rated_yet_says_so_in_the_table_and_the_figure(tmp_path):
    run = make_run(tmp_path)  # 07's samples, judged, but no human_ratings.jsonl
    assert not HR.ratings_path(run).exists() and AG.summary(run)["raters"] == []
    table = AG.side_by_side(run)
    assert list(table.columns) == ["nothing to show"] and len(table) == 1
    assert "no human ratings yet" in table.iloc[0, 0] and "09_human_eval" in table.iloc[0, 0]
    assert "no human ratings yet" in AG.side_by_side_figure(run).layout.title.text
    alone = make_run(tmp_path / "one", [sample("A", answers={"evolved": "a reply"})])
    rate(alone, HR.load_items(alone), "ann", "A", {"evolved": 4})
    assert "no pair to compare" in AG.side_by_side(alone).iloc[0, 0]
    assert "no pair to compare" in AG.side_by_side_figure(alone).layout.title.text
