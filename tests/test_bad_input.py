"""The bad-input corpus in tests/data/bad/: a clear error naming file and line, or a drop with
a reason — never a deep traceback, never a silently lost row (rows in = kept + dropped + skipped)."""

import json
from pathlib import Path

import pytest

from workbench import evolve as EV
from workbench.io import BadLineError
from workbench.records import new_seed
from workbench.seeds import load_seeds

BAD = Path(__file__).parent / "data" / "bad"


def accounted(loaded):
    s = loaded.stats()
    assert s["rows_in"] == s["kept"] + s["dropped"] + s["skipped_lines"]
    return s


@pytest.mark.parametrize("name,line", [("malformed.jsonl", 2), ("invalid_utf8.jsonl", 2), ("ragged.csv", 3)])
def test_unreadable_lines_name_file_and_line_or_are_counted(name, line):
    with pytest.raises(BadLineError) as e:
        load_seeds(str(BAD / name))
    assert e.value.line == line and str(BAD / name) in str(e.value)
    s = accounted(load_seeds(str(BAD / name), on_bad_line="skip"))
    assert s["skipped_lines"] == 1 and s["skipped_line_details"][0]["line"] == line


def test_empty_lines_and_empty_instructions():
    s = accounted(load_seeds(str(BAD / "empty_lines.jsonl")))
    assert s["kept"] == 2 and s["dropped_by_reason"] == {"empty": 2}


def test_missing_fields_are_dropped_with_a_reason():
    loaded = load_seeds(str(BAD / "missing_fields.jsonl"))
    s = accounted(loaded)
    assert s["kept"] == 1 and s["dropped_by_reason"] == {"missing_field": 3}
    assert loaded.dropped[0]["instruction"] == "no 'instruction' field (has: prompt)"


def test_duplicated_ids_keep_distinct_content_and_drop_true_duplicates():
    loaded = load_seeds(str(BAD / "duplicated_ids.jsonl"))
    s = accounted(loaded)
    assert [r["instruction"] for r in loaded.records] == ["Name a bird.", "Name a fish."]
    assert len({r["id"] for r in loaded.records}) == 2 and s["dropped_by_reason"] == {"duplicate": 1}


def test_template_markers_are_dropped_and_brace_tricks_stay_literal():
    loaded = load_seeds(str(BAD / "marker_words.jsonl"))
    s = accounted(loaded)
    assert s["dropped_by_reason"] == {"template_marker": 2}
    kept = [r["instruction"] for r in loaded.records]
    assert "Explain why a new task list helps." in kept  # plain words are fine in a seed
    trick = next(r for r in loaded.records if "{instruction}" in r["instruction"])
    prompt = EV.evolution_prompt("complicate_input", trick, "JSON")
    assert "}} {instruction} ]]" in prompt and prompt.count("Data format: JSON") == 1
    seed = new_seed("Use {format} and {demonstration} here")
    assert "Use {format} and {demonstration} here" in EV.evolution_prompt("complicate_input", seed, "XML")


def test_megabyte_instruction_is_dropped_not_evolved(tmp_path):
    p = tmp_path / "huge.jsonl"
    p.write_text(json.dumps({"instruction": "word " * 200_000}) + "\n" + json.dumps({"instruction": "Fine."}) + "\n")
    s = accounted(load_seeds(str(p)))
    assert s["kept"] == 1 and s["dropped_by_reason"] == {"too_long": 1}
