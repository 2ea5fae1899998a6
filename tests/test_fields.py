"""The one field-mapping convention: dotted paths, file ids, counted missing fields, reasoned
drops, and a field no row has stopping the stage before any model call."""

import json
from pathlib import Path

import pytest

from workbench.core.fields import (
    MISSING,
    FieldError,
    LoadReport,
    NoRowsError,
    get_path,
    paths_in,
    require_rows,
)
from workbench.core.stage_table import stage
from workbench.pipeline import params
from workbench.stages.difficulty.labelled import load_labelled
from workbench.stages.evaluate.eval_sets import load_eval_items

FIXTURES = Path(__file__).parent / "fixtures"
LABELLED = str(FIXTURES / "labelled.jsonl")
OWN_NAMES = {"instruction_field": "Instruction", "label_field": "Difficulty", "skill_field": "Skill",
             "id_field": "idx", "input_field": ""}


def test_dotted_paths_step_into_dicts_and_lists():
    row = {"instances": [{"input": "x", "output": None}], "a.b": 1, "n": 0}
    assert get_path(row, "instances.0.input") == "x"
    assert get_path(row, "instances.-1.input") == "x"
    assert get_path(row, "a.b") == 1 and get_path(row, "n") == 0  # a literal key wins; 0 is a value
    for missing in ("instances.1.input", "instances.0.output", "instances.x", "nope", "n.0"):
        assert get_path(row, missing) is MISSING  # null counts as missing
    assert paths_in({"conversations": [{"from": "human", "value": "hi"}]}) == [
        "conversations", "conversations.0.from", "conversations.0.value"]


def test_labelled_set_loads_by_mapping_alone_with_its_own_ids():
    rows, report = load_labelled(LABELLED, **OWN_NAMES)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]  # the file's idx, not positions
    assert rows[3] == {"id": "4", "instruction": "Three boxes are mislabelled; pick one fruit to fix all labels. How?",
                       "input": "", "skill": "Reasoning", "difficulty": 9}  # "9" read as a number
    s = report.stats()
    assert s["rows_in"] == s["kept"] + s["dropped"] == 7
    assert s["dropped_by_reason"] == {"no_label": 1, "not_number": 1, "not_text": 1}
    assert {d["id"] for d in report.dropped} == {"5", "6", "7"}  # drops name the file's id
    assert "holds a list" in next(d for d in report.dropped if d["reason"] == "not_text")["detail"]


def test_a_field_no_row_has_is_an_error_naming_file_field_and_what_exists():
    with pytest.raises(FieldError) as e:
        load_labelled(LABELLED, **{**OWN_NAMES, "label_field": "difficulty"})
    msg = str(e.value)
    assert LABELLED in msg and "difficulty.label_field = 'difficulty' is missing in every row (7 rows)" in msg
    assert "fields in the file: idx, Skill, Difficulty, Instruction" in msg
    with pytest.raises(FieldError, match="difficulty.labelled_id_field = 'key'"):
        load_labelled(LABELLED, **{**OWN_NAMES, "id_field": "key"})


def test_optional_field_at_its_default_name_is_reported_absent_not_an_error():
    rows, report = load_labelled(LABELLED, **{**OWN_NAMES, "input_field": "input"})
    assert len(rows) == 4 and report.stats()["absent_fields"] == ["input"]


def test_missing_in_some_rows_is_counted(write_lines):
    p = write_lines("e.jsonl", [{"q": "A?", "skill": "x"}, {"q": "B?"}, {"q": "C?", "skill": "y"}])
    items, report = load_eval_items(str(p), instruction_field="q")
    assert [it["skill"] for it in items] == ["x", None, "y"] and report.stats()["missing_by_field"] == {"skill": 1}
    assert [it["id"] for it in items] == ["1", "2", "3"]  # line numbers without an id field


def test_bad_and_duplicate_ids_are_reasoned_drops(write_lines):
    p = write_lines("e.jsonl", [{"key": 7, "q": "A?"}, {"key": 7, "q": "B?"}, {"key": [1], "q": "C?"}, {"key": "k", "q": "D"}])
    items, report = load_eval_items(str(p), instruction_field="q", id_field="key")
    assert [it["id"] for it in items] == ["7", "k"]
    assert [d["reason"] for d in report.dropped] == ["duplicate_id", "bad_id"]
    assert report.stats()["rows_in"] == 4


def test_eval_items_keep_workbench_checks_and_name_the_id_in_a_bad_spec(write_lines):
    p = write_lines("e.jsonl", [{"id": "a", "instruction": "x", "checks": [{"type": "no_commas"}]},
                                {"id": "b", "instruction": "y", "difficulty": "7"}])
    items, _ = load_eval_items(str(p))
    assert items[0]["checks"] == [{"type": "no_commas"}] and items[1]["checks"] == [] and items[1]["difficulty"] == 7
    bad = write_lines("bad.jsonl", [{"id": "q-9", "instruction": "x", "checks": [{"type": "nope"}]}])
    with pytest.raises(ValueError, match=r"bad\.jsonl:1 \(id q-9\): unknown check type 'nope'"):
        load_eval_items(str(bad))
    assert load_eval_items(str(bad), read_checks=False)[0][0]["checks"] == []


def test_csv_and_json_eval_sets(tmp_path):
    (tmp_path / "e.csv").write_text("\ufeffid,instruction,difficulty\nx1,Name a river.,3\n", encoding="utf-8")
    items, _ = load_eval_items(str(tmp_path / "e.csv"))
    assert items == [{"id": "x1", "instruction": "Name a river.", "input": "", "skill": None, "difficulty": 3, "checks": [],
                      "turns": ["Name a river."], "reference": None}]
    (tmp_path / "e.json").write_text(json.dumps([{"prompt": "P?"}]), encoding="utf-8")
    assert load_eval_items(str(tmp_path / "e.json"), instruction_field="prompt")[0][0]["instruction"] == "P?"


def test_bundled_sets_load_unchanged():
    items, report = load_eval_items("bundled")
    assert len(items) == report.rows_in == 80 and items[0]["id"] == "eval-001"
    rows, _ = load_labelled("bundled")
    assert rows and all(isinstance(r["difficulty"], (int, float)) for r in rows)


def test_zero_rows_stops_the_stage_with_the_reason():
    report = LoadReport("x.jsonl", rows_in=2)
    report.drop(1, "a", "no_label")
    report.drop(2, "b", "no_label")
    with pytest.raises(NoRowsError, match=r"04_difficulty: no labelled rows \(2 rows in = 0 kept \+ 2 dropped \(no_label: 2\)\)"):
        require_rows([], "04_difficulty", "labelled rows", report)
    require_rows([1], "04_difficulty", "labelled rows")


def _preflight(name: str, **over) -> list[str]:
    """The section's Config with the notebook defaults and `over`, pre-flighted as params do."""
    return stage(name).config_class()(**over).preflight()


def test_preflight_catches_mapping_before_any_model_call():
    assert _preflight("difficulty") == []
    assert _preflight("evaluate") == []
    errs = _preflight("difficulty", labelled_set=LABELLED)
    assert len(errs) == 1 and "'instruction' is missing in every row" in errs[0] and "Instruction" in errs[0]
    own = {"labelled_instruction_field": "Instruction", "label_field": "Difficulty", "labelled_skill_field": "Skill",
           "labelled_id_field": "idx", "labelled_input_field": ""}
    assert _preflight("difficulty", labelled_set=LABELLED, **own) == []
    assert _preflight("difficulty", labelled_set=LABELLED, validate=False) == []
    ifeval = str(FIXTURES / "ifeval.jsonl")
    assert "evaluate.instruction_field = 'instruction'" in _preflight("evaluate", eval_set=ifeval)[0]
    assert _preflight("evaluate", eval_set=ifeval, instruction_field="prompt", id_field="key") == []


def test_params_run_the_preflight(tmp_path):
    with pytest.raises(params.ParamsError, match="difficulty.label_field = 'Difficulty' is missing in every row"):
        params.load("params/smoke.yaml", ["difficulty.label_field=Difficulty"])
    with pytest.raises(params.ParamsError, match="seed.input_field = 'instances.0.input'"):
        params.load("params/smoke.yaml", ["seed.input_field=instances.0.input"])
    resolved = params.load("params/smoke.yaml", [f"seed.source={FIXTURES / 'self_instruct.jsonl'}",
                                                 "seed.input_field=instances.0.input", "seed.output_field=instances.0.output",
                                                 f"evaluate.eval_set={FIXTURES / 'ifeval.jsonl'}",
                                                 "evaluate.instruction_field=prompt", "evaluate.id_field=key"])
    assert resolved["evaluate"]["checks_format"] == "auto"


def test_notebooks_declare_the_mapping_keys():
    nb = params.stage_notebooks()
    assert {"labelled_instruction_field", "labelled_input_field", "label_field", "labelled_skill_field",
            "labelled_id_field"} <= set(params.read_params(nb["difficulty"]))
    assert {"id_field", "checks_format"} <= set(params.read_params(nb["evaluate"]))
    assert {"id_field", "source_name", "license"} <= set(params.read_params(nb["seed"]))
