import csv
import json
from pathlib import Path

import pytest

from workbench.core.fields import FieldError
from workbench.core.io import BadLineError
from workbench.core.records import schema_errors
from workbench.stages.seed.loaders import (
    FieldMap,
    SeedSourceError,
    bundled_seeds_path,
    load_seeds,
    normalise,
    provenance,
)


def test_bundled_set_is_big_and_varied():
    loaded = load_seeds("bundled")
    assert len(loaded.records) >= 100 and not loaded.dropped
    skills = {r["skill"] for r in loaded.records}
    assert len(skills) >= 15
    assert sum(1 for r in loaded.records if r["input"]) >= 10
    assert all(not schema_errors(r) for r in loaded.records)
    assert bundled_seeds_path().is_file()


def test_normalise_whitespace_keeps_line_breaks():
    assert normalise("  a \t b  \r\n\n\n\n  c  ") == "a b\n\nc"
    assert normalise(None) == ""


def test_alpaca_jsonl_drops_with_reasons_and_accounts_for_every_row(write_lines):
    p = write_lines("a.jsonl", [
        {"instruction": "Sort  these", "input": "3, 1, 2", "output": "1, 2, 3"},
        {"instruction": "   ", "input": ""},
        {"instruction": "Sort these", "input": "3, 1, 2"},  # duplicate after normalising
        {"instruction": "x" * 50},
        {"instruction": 42},
    ])
    loaded = load_seeds(str(p), max_chars=40)
    assert [r["instruction"] for r in loaded.records] == ["Sort these"]
    assert loaded.records[0]["input"] == "3, 1, 2" and loaded.records[0]["response"] == "1, 2, 3"
    assert [d["reason"] for d in loaded.dropped] == ["empty", "duplicate", "too_long", "not_text"]
    assert [d["row"] for d in loaded.dropped] == [2, 3, 4, 5]  # file line numbers
    s = loaded.stats()
    assert s["rows_in"] == s["kept"] + s["dropped"] + s["skipped_lines"] == 5


def test_json_list_and_field_map(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps([{"q": "Explain tides.", "ctx": ""}, {"q": "Add them", "ctx": "1 2"}]))
    loaded = load_seeds(str(p), fields=FieldMap(instruction="q", input="ctx"))
    assert [(r["instruction"], r["input"]) for r in loaded.records] == [("Explain tides.", ""), ("Add them", "1 2")]


def test_sharegpt_first_human_turn(write_lines):
    p = write_lines("sg.jsonl", [{"conversations": [
        {"from": "system", "value": "be nice"}, {"from": "human", "value": "Plan a picnic."},
        {"from": "gpt", "value": "Sure"}, {"from": "human", "value": "Thanks"}]}])
    assert load_seeds(str(p)).records[0]["instruction"] == "Plan a picnic."


def test_csv_and_ragged_row(tmp_path):
    p = tmp_path / "s.csv"
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["instruction", "input"])
        w.writerow(["Name a fruit.", ""])
        w.writerow(["Too", "many", "cells"])
        w.writerow(["Describe the sea.", "in spring"])
    with pytest.raises(BadLineError, match=r"s\.csv:3: expected 2 columns, got 3"):
        load_seeds(str(p))
    loaded = load_seeds(str(p), on_bad_line="skip")
    assert len(loaded.records) == 2 and loaded.stats()["skipped_lines"] == 1 and loaded.rows_in == 3


def test_malformed_jsonl_fails_with_line_or_is_skipped_and_counted(write_lines):
    p = write_lines("m.jsonl", [{"instruction": "ok one"}, '{"instruction": "broken"', {"instruction": "ok two"}])
    with pytest.raises(BadLineError) as e:
        load_seeds(str(p))
    assert e.value.line == 2 and "m.jsonl" in str(e.value)
    loaded = load_seeds(str(p), on_bad_line="skip")
    assert len(loaded.records) == 2 and loaded.stats()["skipped_lines"] == 1
    assert loaded.stats()["skipped_line_details"][0]["line"] == 2


def test_datasets_folder(tmp_path):
    from datasets import Dataset, DatasetDict

    ds = Dataset.from_dict({"prompt": ["Write a limerick.", "Define entropy."], "context": ["", ""]})
    DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "dd"))
    loaded = load_seeds(str(tmp_path / "dd"), fields=FieldMap(instruction="prompt", input="context"))
    assert [r["instruction"] for r in loaded.records] == ["Write a limerick.", "Define entropy."]
    with pytest.raises(SeedSourceError, match="no split 'test'"):
        load_seeds(str(tmp_path / "dd"), split="test")


def test_sampling_is_seeded_and_reports_the_rest():
    a = load_seeds("bundled", n=10, seed=1)
    b = load_seeds("bundled", n=10, seed=1)
    c = load_seeds("bundled", n=10, seed=2)
    assert [r["id"] for r in a.records] == [r["id"] for r in b.records] != [r["id"] for r in c.records]
    assert len(a.records) == 10 and a.stats()["dropped_by_reason"]["not_sampled"] == a.rows_in - 10


def test_missing_source_is_a_clear_error():
    with pytest.raises(SeedSourceError, match="not found: /no/such/file.jsonl"):
        load_seeds("/no/such/file.jsonl")


# --- published shapes, by field mapping alone ----------------------------------------------

FIXTURES = Path(__file__).parent / "fixtures"


def accounted(loaded):
    s = loaded.stats()
    assert s["rows_in"] == s["kept"] + s["dropped"] + s["skipped_lines"]
    return s


def test_self_instruct_by_dotted_paths_keeps_inputs_and_outputs():
    fm = FieldMap(input="instances.0.input", output="instances.0.output", id="id")
    loaded = load_seeds(str(FIXTURES / "self_instruct.jsonl"), fields=fm)
    s = accounted(loaded)
    assert s["kept"] == 6 and s["missing_by_field"] == {}
    assert sum(1 for r in loaded.records if r["input"]) == 4  # every non-empty instances[0].input
    sort = next(r for r in loaded.records if r["source_id"] == "seed_task_1")
    assert (sort["input"], sort["response"]) == ("8, 3, 12, 5", "3, 5, 8, 12")


def test_self_instruct_unmapped_says_input_is_absent_and_a_list_is_never_text():
    loaded = load_seeds(str(FIXTURES / "self_instruct.jsonl"))
    assert loaded.stats()["absent_fields"] == ["input", "output"]  # reported, not a silent ""
    with pytest.raises(SeedSourceError, match=r"no seeds kept .*6 dropped: not_text: 6"):
        load_seeds(str(FIXTURES / "self_instruct.jsonl"), fields=FieldMap(input="instances"))
    with pytest.raises(FieldError, match=r"(?s)seed.input_field = 'instances.0.inptu' is missing in every row .*"
                                         r"fields in the file: id, name, instruction, instances, instances.0.input"):
        load_seeds(str(FIXTURES / "self_instruct.jsonl"), fields=FieldMap(input="instances.0.inptu"))


def test_alpaca_json_list():
    loaded = load_seeds(str(FIXTURES / "alpaca.json"))
    assert accounted(loaded)["kept"] == 3 and loaded.records[1]["input"] == "The library opens at nine."


def test_sharegpt_and_openai_messages_give_instruction_and_reply():
    sg = load_seeds(str(FIXTURES / "sharegpt.json"), fields=FieldMap(id="id"))
    assert [(r["instruction"], r["response"], r["source_id"]) for r in sg.records] == [
        ("Plan a two-day hiking trip.", "Day one: ...", "sg-1"),
        ("Explain what a mortgage is.", "A loan secured by a home.", "sg-2")]
    assert sg.stats()["missing_by_field"] == {}
    oa = load_seeds(str(FIXTURES / "openai_messages.jsonl"), fields=FieldMap(conversations="messages"))
    assert [r["instruction"] for r in oa.records] == ["What causes tides?", "Write a limerick about a cat."]
    assert oa.records[0]["response"] == "Mostly the Moon's gravity."
    first_turn = load_seeds(str(FIXTURES / "openai_messages.jsonl"), fields=FieldMap(instruction="messages.1.content"))
    assert [r["instruction"] for r in first_turn.records] == ["What causes tides?", "A cat with a hat ..."]


def test_dolly_context_as_input():
    loaded = load_seeds(str(FIXTURES / "dolly.jsonl"), fields=FieldMap(input="context", output="response"))
    s = accounted(loaded)
    assert s["kept"] == 2 and s["dropped_by_reason"] == {"not_text": 1}
    assert loaded.records[0]["input"].startswith("The Rivet Bridge") and loaded.records[0]["response"] == "Ada Moss."
    assert "seed.input_field = 'context' holds a list" in loaded.dropped[0]["instruction"]


def test_datasets_folder_with_nested_fields(tmp_path):
    from datasets import Dataset

    Dataset.from_list([{"instruction": "Sort.", "instances": [{"input": "3 1 2", "output": "1 2 3"}]}]).save_to_disk(
        str(tmp_path / "ds"))
    loaded = load_seeds(str(tmp_path / "ds"), fields=FieldMap(input="instances.0.input", output="instances.0.output"))
    assert (loaded.records[0]["input"], loaded.records[0]["response"]) == ("3 1 2", "1 2 3")


def test_provenance_is_unknown_for_any_source_but_the_bundled_one():
    assert provenance("bundled") == ("bundled Evol-Instruct Workbench seeds", "Apache-2.0", None)
    name, lic, warning = provenance("mine.jsonl")
    assert (name, lic) == ("unknown", "unknown") and "seed.source_name and seed.license" in warning
    assert provenance("mine.jsonl", "My set", "CC-BY-4.0") == ("My set", "CC-BY-4.0", None)


def test_card_states_unknown_provenance_with_a_warning_for_foreign_seeds():
    from workbench.export.card import NOT_RECORDED, seed_provenance

    name, lic, warning = seed_provenance({"source": "data/mine.jsonl", "source_name": "", "license": ""}, {})
    assert (name, lic) == ("unknown", "unknown") and "data/mine.jsonl" in warning
    assert seed_provenance({"source": "bundled", "source_name": "", "license": ""}, {})[:2] == (
        "bundled Evol-Instruct Workbench seeds", "Apache-2.0")
    # earlier runs stored the bundled set's name and license as defaults whatever the source
    old = {"source": "mine.jsonl", "source_name": "bundled Evol-Instruct Workbench seeds", "license": "Apache-2.0"}
    assert seed_provenance(old, {})[:2] == ("unknown", "unknown")
    assert seed_provenance({}, {}) == (NOT_RECORDED, NOT_RECORDED, None)
