"""07_evaluate: multi-turn eval items with references, answers read from files (the leaderboard
and multi-turn shapes), and candidates answering turn by turn in their own words.

Fixtures in tests/fixtures/eval_answers/ are written for these tests in the public shapes:
questions.jsonl (MT-Bench questions), model_answers.jsonl (MT-Bench model answers),
eval_set.json + outputs_model_*.json[l] (AlpacaEval eval set and model outputs)."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes import FakeBackend

from workbench.core.fields import FieldError
from workbench.core.records import full_text
from workbench.llm import Completion, Generator
from workbench.stages.evaluate import answer_files as AF
from workbench.stages.evaluate.answering import answer_all
from workbench.stages.evaluate.eval_sets import check_evaluate_config, load_eval_items
from workbench.stages.evaluate.stage import Config

FIX = Path(__file__).parent / "fixtures" / "eval_answers"
MT = {"id_field": "question_id", "skill_field": "category", "turns_field": "turns", "reference_field": "reference"}


def mt_items():
    return load_eval_items(str(FIX / "questions.jsonl"), **MT)


def alpaca_items():
    return load_eval_items(str(FIX / "eval_set.json"))[0]


# --- eval items: turns and references ---

def test_mt_bench_questions_load_with_both_turns_and_the_math_reference():
    items, report = mt_items()
    rows = [json.loads(line) for line in (FIX / "questions.jsonl").read_text().splitlines()]
    assert report.rows_in == 4 == len(items) and not report.dropped  # no instruction field, yet nothing dropped
    assert [it["id"] for it in items] == ["101", "102", "103", "104"]
    assert [it["turns"] for it in items] == [r["turns"] for r in rows]
    assert all(len(it["turns"]) == 2 for it in items)
    assert items[1]["instruction"] == "A train covers 180 km in 2 hours. What is its average speed?"
    assert items[1]["skill"] == "math" and items[1]["reference"] == ["90 km/h", "5 hours"]
    assert [it["reference"] for it in items if it["id"] != "102"] == [None, None, None]
    assert "instruction" not in report.stats()["missing_by_field"]  # the first turn stood in for it


def test_single_turn_items_have_one_turn_the_full_text_and_a_string_reference_becomes_a_list(tmp_path):
    p = tmp_path / "e.jsonl"
    p.write_text(json.dumps({"id": "s1", "instruction": "Sort.", "input": "3 1 2", "ref": "1 2 3"}) + "\n"
                 + json.dumps({"id": "s2", "instruction": "Add 2 and 2."}) + "\n")
    items, report = load_eval_items(str(p), reference_field="ref")
    assert items[0]["turns"] == ["Sort.\n\n3 1 2"] == [full_text(items[0])]
    assert items[0]["reference"] == ["1 2 3"] and items[1]["reference"] is None
    bundled, _ = load_eval_items("bundled")
    assert all(it["turns"] == [full_text(it)] and it["reference"] is None for it in bundled)


def test_rows_whose_turns_are_not_a_list_of_strings_are_dropped_naming_the_line(tmp_path):
    p = tmp_path / "q.jsonl"
    rows = [{"question_id": 1, "turns": ["Hi?", "And then?"]},
            {"question_id": 2, "turns": "just one string"},
            {"question_id": 3, "turns": ["ok", 7]},
            {"question_id": 4, "turns": []},
            {"question_id": 5, "instruction": "No turns here, a single-turn row."},
            {"question_id": 6, "reference": 42, "turns": ["Fine turn"]}]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    items, report = load_eval_items(str(p), id_field="question_id", turns_field="turns", reference_field="reference")
    assert [it["id"] for it in items] == ["1", "5"]
    assert items[1]["turns"] == ["No turns here, a single-turn row."]
    dropped = {d["row"]: d for d in report.dropped}
    assert {n: d["reason"] for n, d in dropped.items()} == {2: "not_turns", 3: "not_turns", 4: "not_turns",
                                                            6: "not_text"}
    assert "turn 2 is 7" in dropped[3]["detail"] and dropped[3]["id"] == "3"
    assert report.stats()["rows_in"] == 6 == report.kept + len(report.dropped)


def test_a_turns_field_no_row_has_stops_before_any_model_call(tmp_path):
    with pytest.raises(FieldError, match="evaluate.turns_field = 'conversation'"):
        load_eval_items(str(FIX / "questions.jsonl"), id_field="question_id", turns_field="conversation")


# --- answers files ---

def test_leaderboard_answers_match_by_exact_text_including_non_latin_in_any_order():
    items = alpaca_items()
    replies, unanswered, generator = AF.load_answers(FIX / "outputs_model_a.json", items)
    assert generator == "model-a" and unanswered == {}
    assert replies == [["Red, yellow and blue."], ["上野公園です。"],
                       ["Растения превращают свет в химическую энергию. При этом выделяется кислород."],
                       ["Rise & Crumb."]]


def test_an_item_missing_from_the_file_is_unanswered_not_an_empty_answer():
    items = alpaca_items()
    replies, unanswered, generator = AF.load_answers(FIX / "outputs_model_b.jsonl", items)
    assert generator == "model-b"
    assert replies[3] is None and "" not in [r[0] for r in replies if r]  # the bakery item: no answer at all
    assert unanswered == {items[3]["id"]: "not in the file"}
    assert replies[1] == ["代々木公園。"] and replies[0] == ["Cyan, magenta, yellow."]


def test_multi_turn_answers_by_question_id_and_too_few_turns_or_an_error_mark_is_unanswered():
    items, _ = mt_items()
    replies, unanswered, generator = AF.load_answers(FIX / "model_answers.jsonl", items)
    assert generator == "tiny-chat-7b"
    assert replies[0] == ["The lamp turns slow above the bay...", "Lamp turns slow above the bay..."]
    assert replies[1] == ["180 / 2 = 90, so 90 km/h.", "450 / 90 = 5, so 5 hours."]
    assert replies[2] is None and replies[3] is None
    assert unanswered == {"103": "line 3 answers 1 of the item's 2 turns",
                          "104": "line 4: the reply to turn 2 is $ERROR$ (a failed call where it was made)"}


def test_an_id_match_beats_a_text_match(tmp_path):
    ev = tmp_path / "ev.jsonl"
    ev.write_text(json.dumps({"id": "a1", "instruction": "X?"}) + "\n" + json.dumps({"id": "a2", "instruction": "Y?"}) + "\n")
    items, _ = load_eval_items(str(ev))
    ans = tmp_path / "ans.jsonl"
    ans.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a1", "instruction": "Y?", "output": "ONE"},   # its id says a1, its text says a2
        {"instruction": "Y?", "output": "TWO"},               # no id: a2 by text
        {"id": "zz", "instruction": "X?", "output": "THREE"},  # id names no item; a1 by text, but a1 has its id row
    ]) + "\n")
    replies, unanswered, _ = AF.load_answers(ans, items)
    assert replies == [["ONE"], ["TWO"]] and unanswered == {}


def test_two_answers_for_one_item_is_an_error_naming_both_lines(tmp_path):
    rows = [json.loads(line) for line in (FIX / "model_answers.jsonl").read_text().splitlines()]
    p = tmp_path / "dup.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows + [rows[1]]))  # 101 again, on line 5
    with pytest.raises(ValueError, match=r"lines 2 and 5 both answer eval item '101'"):
        AF.load_answers(p, mt_items()[0])


def test_malformed_rows_name_the_file_the_line_and_the_row_id(tmp_path):
    listed = tmp_path / "list.json"
    listed.write_text('[\n  {"instruction": "Name three primary colours.", "output": "Red.", "generator": "m"},\n'
                      '  {\n    "id": "q7",\n    "instruction": "Suggest a name.",\n    "generator": "m"\n  }\n]\n')
    with pytest.raises(ValueError, match=rf"{listed}:3: \(id q7\) not an answer"):  # item 2 starts on line 3
        AF.read_answer_file(listed)
    jsonl = tmp_path / "broken.jsonl"
    jsonl.write_text((FIX / "outputs_model_b.jsonl").read_text().replace('"output": "Saturn."', '"output": Saturn'))
    with pytest.raises(ValueError, match=rf"{jsonl}:2: invalid JSON"):
        AF.read_answer_file(jsonl)
    turns = tmp_path / "turns.jsonl"
    turns.write_text('\n{"question_id": 81, "model_id": "m", "choices": [{"index": 0, "turns": ["a", 2]}]}\n')
    with pytest.raises(ValueError, match=rf"{turns}:2: \(id 81\) choices\[0\].turns must be"):
        AF.read_answer_file(turns)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text((FIX / "outputs_model_b.jsonl").read_text() + (FIX / "outputs_model_b.jsonl").read_text()
                     .replace("model-b", "model-c"))
    with pytest.raises(ValueError, match=r"'model-b' \(line 1\) and 'model-c' \(line 5\)"):
        AF.read_answer_file(mixed)


def test_a_file_answering_no_item_is_an_error_not_all_unanswered():
    with pytest.raises(ValueError, match="answers none of the 4 eval items"):
        AF.load_answers(FIX / "model_answers.jsonl", alpaca_items())  # ids 101.. vs line numbers 1..4


def test_preflight_reports_missing_wrong_shape_and_unmatched_answer_files(tmp_path):
    (tmp_path / "notes.jsonl").write_text('{"text": "hello"}\n')
    assert AF.check_answer_candidates(["evolved", "base"]) == []
    errs = AF.check_answer_candidates(["answers:", f"answers:{tmp_path}/none.json", f"answers:{tmp_path}",
                                       f"answers:{tmp_path}/notes.jsonl", f"answers:{FIX}/outputs_model_a.json"])
    assert len(errs) == 4
    assert "names no file" in errs[0] and "file not found" in errs[1] and "a folder" in errs[2]
    assert "notes.jsonl:1: not an answer" in errs[3]
    cfg = Config(eval_set=str(FIX / "eval_set.json"), candidates=(f"answers:{FIX}/model_answers.jsonl", "evolved"))
    assert len(check_evaluate_config(cfg)) == 1 and "answers none of the 4" in check_evaluate_config(cfg)[0]
    good = Config(eval_set=str(FIX / "questions.jsonl"), candidates=(f"answers:{FIX}/model_answers.jsonl",),
                  id_field="question_id", skill_field="category", turns_field="turns", reference_field="reference")
    assert check_evaluate_config(good) == []


# --- answering turn by turn ---

class Recorder(FakeBackend):
    """Answers every turn as 'reply to <turn>'; records each prompt; fails where `fail` says."""

    def __init__(self, fail=lambda text: None):
        super().__init__(model_id="fake:recorder")
        self.prompts, self.batches, self.fail = [], [], fail

    def generate(self, prompts, gen):
        self.prompts += prompts
        self.batches.append(len(prompts))
        return [Completion(None, error=self.fail(m[-1]["content"])) if self.fail(m[-1]["content"]) is not None
                else Completion(f"reply to {m[-1]['content']}") for m in prompts]


def stage_with(backends: dict):
    return SimpleNamespace(generator=lambda model: Generator(backends[model]))


def test_the_second_turn_is_asked_with_the_candidates_own_first_reply():
    items, _ = mt_items()
    items = items[:2] + [dict(alpaca_items()[0], turns=None)]  # a single-turn item without turns: one turn
    rec = Recorder()
    answers, errors, unanswered = answer_all(stage_with({"m": rec}), items, {"cand": "m"}, 32)
    assert rec.batches == [3, 2]  # all turn 1s in one call, then the two second turns
    t1, t2 = items[0]["turns"]
    assert answers["cand"][0] == [f"reply to {t1}", f"reply to {t2}"]
    assert answers["cand"][2] == ["reply to Name three primary colours."]
    second = [p for p in rec.prompts if p[-1]["content"] == t2][0]
    assert second == [{"role": "user", "content": t1}, {"role": "assistant", "content": f"reply to {t1}"},
                      {"role": "user", "content": t2}]
    assert errors == {"cand": {}} and unanswered == {}


def test_a_failed_call_is_an_error_and_its_later_turns_are_not_asked():
    items, _ = mt_items()
    t1_of_0, t2_of_1 = items[0]["turns"][0], items[1]["turns"][1]
    rec = Recorder(fail=lambda text: {t1_of_0: "timed out", t2_of_1: "server said 500"}.get(text))
    empty = FakeBackend(reply=lambda text: None)  # a backend that returns no text at all
    answers, errors, _ = answer_all(stage_with({"m": rec, "e": empty}), items, {"c": "m", "e": "e"}, 32)
    assert answers["c"][0] is None and answers["c"][1] is None  # failed on turn 1, on turn 2
    assert answers["c"][2] == [f"reply to {t}" for t in items[2]["turns"]]
    assert errors["c"] == {0: "turn 1 of 2: timed out", 1: "turn 2 of 2: server said 500"}
    assert items[0]["turns"][1] not in [p[-1]["content"] for p in rec.prompts]  # never asked
    assert answers["e"] == [None] * 4 and set(errors["e"]) == {0, 1, 2, 3}
    assert errors["e"][0] == "turn 1 of 2: the model returned no text"


def test_answers_files_are_read_before_any_model_call_and_report_unanswered():
    items = alpaca_items()
    rec = Recorder()
    models = {"m": "m", "b": f"answers:{FIX}/outputs_model_b.jsonl"}
    answers, errors, unanswered = answer_all(stage_with({"m": rec}), items, models, 32)
    assert list(answers) == ["m", "b"] and errors["b"] == {}
    assert unanswered == {"b": {items[3]["id"]: "not in the file"}} and answers["b"][3] is None
    bad = dict(models, b=f"answers:{FIX}/questions.jsonl")  # questions, not answers
    rec2 = Recorder()
    with pytest.raises(ValueError, match="questions.jsonl:1"):
        answer_all(stage_with({"m": rec2}), items, bad, 32)
    assert rec2.prompts == []
