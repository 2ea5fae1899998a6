"""workbench.stages.filter.stage: 03_filter on a run folder; rows in = kept + dropped per reason."""

import pytest
from stage_fixtures import make_stage

from workbench.core import rules as R
from workbench.core.io import read_jsonl
from workbench.core.records import new_evolution, new_seed
from workbench.stages.filter.stage import Config, by_op_round, run

ANSWER = "A sensible answer here."


def answered(rec, response=ANSWER):
    return dict(rec, response=response)


def dataset():
    rainbow = answered(new_seed("Explain how a rainbow forms after a storm in simple words."))
    sky = answered(new_seed("Why is the sky blue on a clear day?"))
    return [
        rainbow, sky,
        answered(new_evolution(rainbow, 1, "deepening", "Explain how a rainbow forms after a storm, in simple words!")),
        answered(new_evolution(sky, 2, "deepening", "Explain how a rainbow forms after a storm in very simple words.")),
        answered(new_evolution(sky, 1, "breadth", "Hi")),
        answered(new_evolution(sky, 1, "concretizing", "Describe the water cycle for a child in a story."), ""),
        answered(new_evolution(rainbow, 1, "breadth", "Write a poem about the sea at night with four lines.")),
    ]


def stage(tmp_path, rows=None):
    return make_stage(tmp_path, "03_filter", {"evolved": rows or dataset()},
                      stats={"02_evolve": {"by_rule_op_round": {"unchanged": {"deepening": {"1": 1}}}}})


def test_rows_in_equal_kept_plus_dropped_per_reason_and_files_by_role(tmp_path):
    st = stage(tmp_path)
    res = run(st, Config(near_dup_threshold=0.7))
    s = res.stats
    assert s["rows_in"] == 7 == s["kept"] + sum(s["dropped_by_reason"].values())
    assert s["dropped_by_reason"] == {"exact_duplicate": 1, "near_duplicate": 1, "instruction_too_few_words": 1,
                                      "response_too_few_words": 1}
    assert set(s["dropped_by_reason"]) <= R.vocabulary("filter") and s["rules"] == list(Config.rules)
    assert read_jsonl(st.out("filtered")) == res.kept and len(res.kept) == 3
    assert [d["drop_reason"] for d in read_jsonl(st.out("filter_drops"))] == [d["drop_reason"] for d in res.dropped]
    assert s["rows_by_op_round"] == by_op_round(dataset()) and s["rows_by_op_round"]["seed"] == {0: 2}
    assert s["by_reason_op_round"]["instruction_too_few_words"] == {"breadth": {1: 1}}
    assert s["eval_items"] > 0 and res.evolve_stats["by_rule_op_round"]


def test_a_rule_switched_off_is_neither_applied_nor_counted(tmp_path):
    rules = [r for r in Config.rules if r not in ("near_duplicate", "contaminated")]
    res = run(stage(tmp_path), Config(near_dup_threshold=0.7, rules=rules))
    assert "near_duplicate" not in res.stats["dropped_by_reason"] and res.stats["kept"] == 4
    assert res.stats["eval_items"] == 0  # the eval set is not even read


def test_a_row_is_never_dropped_as_a_duplicate_of_a_dropped_row(tmp_path):
    text = "Explain how a rainbow forms after a storm in simple words."
    a = answered(new_seed(text))
    b = answered(new_evolution(answered(new_seed("Why?")), 1, "deepening", text.replace("simple", "very simple")))
    c = answered(new_evolution(a, 2, "deepening", text.replace("simple", "very simple")))  # b's text, a's lineage
    res = run(stage(tmp_path, [a, b, c]), Config(near_dup_threshold=0.7))
    assert [d["id"] for d in res.dropped] == [b["id"]] and res.dropped[0]["drop_reason"] == "near_duplicate"
    assert c in res.kept  # its only match is b, which is not in the output


def test_unknown_rule_names_fail_at_construction():
    with pytest.raises(ValueError, match="filter.rules: unknown rule 'dedup_exact'"):
        Config(rules=["dedup_exact"])
