"""The bad-input corpus in tests/data/bad/: a clear error naming file and line, or a drop with
a reason — never a deep traceback, never a silently lost row (rows in = kept + dropped + skipped)."""

import json
from pathlib import Path

import pytest

from workbench.core.io import BadLineError
from workbench.core.packs import load_pack
from workbench.core.records import new_seed
from workbench.stages.evolve import loop as EV
from workbench.stages.seed.loaders import SeedSourceError, load_seeds

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
    prompt = EV.evolution_prompt(load_pack("general"), "complicate_input", trick, "JSON")
    assert "}} {instruction} ]]" in prompt and prompt.count("Data format: JSON") == 1
    seed = new_seed("Use {format} and {demonstration} here")
    assert "Use {format} and {demonstration} here" in EV.evolution_prompt(load_pack("general"), "complicate_input", seed, "XML")


def test_megabyte_instruction_is_dropped_not_evolved(tmp_path):
    p = tmp_path / "huge.jsonl"
    p.write_text(json.dumps({"instruction": "word " * 200_000}) + "\n" + json.dumps({"instruction": "Fine."}) + "\n")
    s = accounted(load_seeds(str(p)))
    assert s["kept"] == 1 and s["dropped_by_reason"] == {"too_long": 1}


# --- seeds from ordinary tools (Excel, Windows editors) -------------------------------------

BOM = "\ufeff"


@pytest.mark.parametrize("name,text", [
    ("bom.csv", BOM + "instruction,input\r\nName a bird.,\r\nName a fish.,in the sea\r\n"),
    ("bom.jsonl", BOM + '{"instruction": "Name a bird."}\n{"instruction": "Name a fish."}\n'),
    ("bom.json", BOM + '[{"instruction": "Name a bird."}, {"instruction": "Name a fish."}]'),
])
def test_utf8_byte_order_mark_is_accepted(tmp_path, name, text):
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    s = accounted(loaded := load_seeds(str(p)))
    assert s["kept"] == 2 and loaded.records[0]["instruction"] == "Name a bird."


@pytest.mark.parametrize("content", ["", "\n\n  \n", "instruction,input\n"])
def test_empty_or_blank_file_is_a_clear_error(tmp_path, content):
    p = tmp_path / ("s.csv" if "," in content else "s.jsonl")
    p.write_text(content)
    with pytest.raises(SeedSourceError, match=rf"no seeds kept from {p} \(the file has no rows: it is empty or blank\)"):
        load_seeds(str(p))


def test_file_that_keeps_zero_seeds_says_why(write_lines):
    p = write_lines("z.jsonl", [{"instruction": "  "}, {"instruction": 5}, {"instruction": ""}])
    with pytest.raises(SeedSourceError, match=rf"no seeds kept from {p} \(3 dropped: empty: 2, not_text: 1\)"):
        load_seeds(str(p))


def test_csv_invalid_utf8_is_reported_on_its_line_and_can_be_skipped(tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes(b'instruction,input\nName a bird.,\n"Two\nlines",x\nCaf\xe9 menu,\nName a tree.,\n')
    with pytest.raises(BadLineError) as e:
        load_seeds(str(p))
    assert e.value.line == 5 and "not valid UTF-8" in str(e.value) and str(p) in str(e.value)
    loaded = load_seeds(str(p), on_bad_line="skip")
    s = accounted(loaded)
    assert s["kept"] == 3 and s["skipped_line_details"] == [{"line": 5, "why": "not valid UTF-8 (invalid continuation byte at byte 3)"}]


def test_csv_cell_over_the_csv_limit_is_dropped_as_cell_too_long(tmp_path):
    p = tmp_path / "long.csv"
    p.write_text("instruction,input\nShort one.,\nAnother.," + "x" * 131_073 + "\nLast.,\n")
    loaded = load_seeds(str(p))
    s = accounted(loaded)
    assert s["kept"] == 2 and s["dropped_by_reason"] == {"cell_too_long": 1} and loaded.dropped[0]["row"] == 3


def test_non_string_input_is_dropped_not_repr(write_lines):
    p = write_lines("n.jsonl", [{"instruction": "Sum.", "input": [1, 2]}, {"instruction": "Sum.", "input": {"a": 1}},
                                {"instruction": "Fine.", "input": "ok"}])
    loaded = load_seeds(str(p))
    s = accounted(loaded)
    assert s["kept"] == 1 and s["dropped_by_reason"] == {"not_text": 2}
    assert all("[1, 2]" not in r["input"] for r in loaded.records)
