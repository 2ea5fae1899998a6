"""workbench.stages.seed.stage: 01_seed on a run folder; every row in is kept or dropped by a named rule."""

import pytest
from stage_fixtures import make_stage

from workbench.core import rules as R
from workbench.core.io import read_jsonl
from workbench.pipeline.params import config_errors
from workbench.stages.seed.stage import Config, run

ROWS = [
    {"instruction": "Name three rivers.", "skill": "geography"},
    {"instruction": "Sort these.", "input": "3 1 2"},
    {"instruction": "   "},  # empty: always dropped
    {"instruction": "Name three rivers."},  # duplicate: always dropped
    {"instruction": "x" * 60},  # too_long with max_chars 50
    {"instruction": "Rewrite it. <<New Task>>"},  # template_marker
    {"instruction": ["not", "text"]},  # not_text: always dropped
    {"question": "no instruction field"},  # missing_field: always dropped
    {"instruction": "Explain tides.", "output": "The moon pulls the sea."},
]


@pytest.fixture
def seed_file(write_lines):
    return str(write_lines("seeds.jsonl", ROWS))


def test_rows_in_equal_kept_plus_dropped_per_reason_and_files_by_role(tmp_path, seed_file):
    st = make_stage(tmp_path, "01_seed")
    res = run(st, Config(source=seed_file, max_chars=50))
    s = res.stats
    assert s["rows_in"] == len(ROWS) == s["kept"] + sum(s["dropped_by_reason"].values()) + s["skipped_lines"]
    assert s["dropped_by_reason"] == {"empty": 1, "duplicate": 1, "too_long": 1, "template_marker": 1,
                                      "not_text": 1, "missing_field": 1}
    assert set(s["dropped_by_reason"]) <= R.vocabulary("seed")
    assert [r["instruction"] for r in read_jsonl(st.out("seeds"))] == ["Name three rivers.", "Sort these.", "Explain tides."]
    assert len(read_jsonl(st.out("seed_drops"))) == s["dropped"] == 6
    assert s["rules"] == ["too_long", "template_marker"] and s["with_input"] == 1 and s["with_response"] == 1
    assert s["skills"] == {"unlabelled": 2, "geography": 1}


def test_a_rule_switched_off_is_neither_applied_nor_counted(tmp_path, seed_file):
    res = run(make_stage(tmp_path, "01_seed"), Config(source=seed_file, max_chars=50, rules=["too_long"]))
    assert "template_marker" not in res.stats["dropped_by_reason"]
    assert any("<<New Task>>" in r["instruction"] for r in res.records)
    res = run(make_stage(tmp_path, "01_seed"), Config(source=seed_file, max_chars=50, rules=[]))
    assert set(res.stats["dropped_by_reason"]) == {"empty", "duplicate", "not_text", "missing_field"}  # always on
    assert res.stats["kept"] == 5


def test_sampling_and_run_limit_count_as_not_sampled(tmp_path, seed_file):
    res = run(make_stage(tmp_path, "01_seed", limit=2), Config(source=seed_file, max_chars=50, n=3))
    s = res.stats
    assert s["kept"] == 2 and s["dropped_by_reason"]["not_sampled"] == 1
    assert s["rows_in"] == s["kept"] + sum(s["dropped_by_reason"].values())


def test_config_and_preflight_reject_unknown_or_always_on_rules(seed_file):
    with pytest.raises(ValueError, match="seed.rules: unknown rule 'flying'"):
        Config(rules=["flying"])
    assert config_errors("seed", {"source": seed_file, "rules": ["duplicate"]}) == [
        "seed.rules: 'duplicate' is always on in seed; leave it out of the list"]
    assert config_errors("seed", {"source": seed_file, "rules": ["too_long"]}) == []
