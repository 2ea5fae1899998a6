"""07_evaluate end to end through its params, on answer files in the public shapes: a leaderboard's
per-model outputs compared pairwise under the paper's score protocol, a multi-turn benchmark's
questions with references answered turn by turn, and an uninformative judge that must leave
every derived figure undetermined. The judge is a fake; the eval set, answer files, answering,
judging, capacity, lengths and tokenizer are the real code."""

import re
from pathlib import Path

import pytest
import yaml
from fakes import FakeBackend

from workbench.core.io import read_json, read_jsonl
from workbench.llm import Generator
from workbench.stages.base import Stage
from workbench.stages.evaluate import stage as EVS

FIX = Path(__file__).parent / "fixtures" / "eval_answers"
A, B = f"answers:{FIX / 'outputs_model_a.json'}", f"answers:{FIX / 'outputs_model_b.jsonl'}"
MT = f"answers:{FIX / 'model_answers.jsonl'}"
GOOD = {"Red, yellow and blue.", "上野公園です。", "Rise & Crumb.",
        "Растения превращают свет в химическую энергию. При этом выделяется кислород."}


def stage(tmp_path, replies: dict) -> tuple[Stage, list]:
    """A 07_evaluate stage whose generators are fakes by model string; the prompts the judge saw."""
    run_dir = tmp_path / "runs" / "20250101-000000_t_00000000"
    run_dir.mkdir(parents=True)
    (run_dir / "params.yaml").write_text(yaml.safe_dump({"run": {"name": "t", "seed": 0, "model": "judge"}}))
    st = Stage(run_dir, "07_evaluate")
    seen: list = []

    def generator(model=""):
        reply = replies[model or "judge"]
        gen = Generator(FakeBackend(reply=(lambda p: seen.append(p) or reply(p)) if not model else reply,
                                    model_id=f"fake:{model or 'judge'}"))
        st._generators.append(gen)
        return gen

    st.generator = generator
    return st, seen


def reply_a(prompt: str) -> str:
    return prompt.split("<<Reply A>>")[1].split("<<Reply B>>")[0].strip()


def reply_b(prompt: str) -> str:
    return prompt.split("<<Reply B>>")[1].strip().split("\n\n")[0]


def scoring_judge(prompt: str) -> str:
    """Scores 8 for a known good reply and 4 otherwise; grades singles the same way."""
    def score(text):
        return 8 if text in GOOD or text.startswith("good") else 4
    if "<<Reply A>>" in prompt:
        a, b = reply_a(prompt), reply_b(prompt)
        return f"A is {'better' if score(a) > score(b) else 'no better'}.\n[[{score(a)}, {score(b)}]]"
    return f"Fine.\n[[{score(prompt.split('<<Reply>>')[1].strip().split(chr(10) * 2)[0])}]]"


def test_two_leaderboard_answer_files_compared_by_the_papers_scores_and_single_grades(tmp_path):
    st, _ = stage(tmp_path, {"judge": scoring_judge})
    cfg = EVS.Config(eval_set=str(FIX / "eval_set.json"), candidates=[A, B], pairs=[[A, B]], protocol="scores",
                     verifiable=False)
    assert cfg.preflight() == []
    EVS.run(st, cfg)
    res = read_json(st.folder.file("eval_results"))
    name = f"{A}_vs_{B}"
    # model-b's file leaves the bakery question out: unanswered, and an error unit, never a loss
    assert res["unanswered"] == {A: {"count": 0, "of": 4, "items": {}},
                                 B: {"count": 1, "of": 4, "items": {"4": "not in the file"}}}
    assert res["answer_generators"] == {A: "model-a", B: "model-b"}
    o = res["pairs"][name]["overall"]
    assert (o["win"], o["loss"], o["error"], o["headline"]) == (3, 0, 1, 1.0)
    # the paper's capacity, by hand: A scored 8 on each of 3 paired units, B 4 -> 24 / 12
    cap = res["capacity"]
    assert cap["source"] == "pairwise_scores" and cap["reference"] == B
    assert cap["candidates"][A]["overall"]["ratio"] == 2.0 and cap["candidates"][A]["status"] == "determined"
    assert cap["candidates"][A]["by_skill"]["unlabelled"]["n"] == 3
    assert res["tie_half"][name]["win_rate"] == 1.0 and res["tie_half"][name]["headline"] == 1.0
    lc = res["length_controlled"][name]
    assert lc["win_rate"] is None and "need 5" in lc["reason"]  # 3 judged units are too few to fit
    # lengths: the missing answer is missing, not length 0; the Japanese answer counts per character
    assert res["lengths"][B]["overall"]["n"] == 3 and res["lengths"][B]["overall"]["missing"] == 1
    assert res["lengths"][A]["overall"]["mean_tokens"] > 0 and "SmolLM2" in res["lengths"][A]["tokenizer"]
    assert res["single"][A]["overall"]["mean"] == 8.0 and res["single"][B]["nulls"] == 1
    stems = [s for s, _ in EVS.figures(res)]
    assert all("/" not in s for s in stems) and any(s.startswith("capacity_answers:") for s in stems)


def test_multi_turn_questions_with_references_answered_turn_by_turn_against_an_answer_file(tmp_path):
    def judge(p):
        reply = p.split("<<Reply A>>")[1].split("<<Reply B>>")[0] if "<<Reply A>>" in p else ""
        return "Reasoning here.\n[[A]]" if "good" in reply else "Reasoning here.\n[[B]]"

    st, seen = stage(tmp_path, {"judge": judge, "hf:good": lambda p: f"good reply to: {p[:20]}"})
    cfg = EVS.Config(eval_set=str(FIX / "questions.jsonl"), id_field="question_id", skill_field="category",
                     difficulty_field="", turns_field="turns", reference_field="reference",
                     candidates=["hf:good", MT], pairs=[["hf:good", MT]], protocol="rationale",
                     single_scoring=False, verifiable=False)
    assert cfg.preflight() == []
    EVS.run(st, cfg)
    res = read_json(st.folder.file("eval_results"))
    name = f"hf:good_vs_{MT}"
    assert res["items"] == 4 and res["units"] == 8
    by_turn = res["pairs"][name]["by_turn"]
    # 103 has one reply in the file, 104 an "$ERROR$" second turn: both unanswered, so errors
    assert by_turn["1"]["win"] == 2 and by_turn["2"]["win"] == 2 and by_turn["1"]["error"] == 2
    assert res["unanswered"][MT]["count"] == 2 and set(res["unanswered"][MT]["items"]) == {"103", "104"}
    # the math question's reference is shown with its own turn, and turn 2 sees each side's turn-1 reply
    math = [p for p in seen if "A train covers 180 km" in p]
    assert any("90 km/h" in p and "<<Earlier" not in p for p in math)
    turn2 = [p for p in math if "<<Earlier Turns with Assistant A>>" in p]
    assert turn2 and all("5 hours" in p and "180 / 2 = 90" in p for p in turn2)
    samples = {s["id"]: s for s in read_jsonl(st.folder.file("eval_samples"))}
    assert [j["turn"] for j in samples["101"]["pairwise_turns"][name]] == [1, 2]
    assert samples["102"]["turn_answers"][MT] == ["180 / 2 = 90, so 90 km/h.", "450 / 90 = 5, so 5 hours."]
    assert samples["102"]["answers"][MT] == "450 / 90 = 5, so 5 hours."  # the last turn's reply


def test_an_uninformative_judge_leaves_every_derived_figure_undetermined(tmp_path):
    # always "A" whatever the order, and no readable single grade: the 135M model's failure modes
    st, _ = stage(tmp_path, {"judge": lambda p: "[[A]]" if "<<Reply A>>" in p else "It is fine.",
                             "hf:long": lambda p: "a long answer " * 12, "hf:short": lambda p: "short"})
    cfg = EVS.Config(n=8, candidates=["hf:long", "hf:short"], pairs=[["hf:long", "hf:short"]],
                     protocol="rationale", verifiable=False)
    EVS.run(st, cfg)
    res = read_json(st.folder.file("eval_results"))
    name = "hf:long_vs_hf:short"
    assert res["pairs"][name]["status"] == "undetermined" and res["claims"][0]["verdict"] == "undetermined"
    assert res["tie_half"][name]["headline"] == "undetermined" and res["tie_half"][name]["win_rate"] == 0.5
    assert res["length_controlled"][name]["headline"] == "undetermined"
    cap = res["capacity"]["candidates"]["hf:long"]
    assert res["capacity"]["source"] == "single" and cap["status"] == "undetermined"
    assert cap["overall"]["ratio"] is None and "no unit" in cap["overall"]["reason"]
    assert cap["headline"]["statement"].startswith("undetermined: the judge gave no readable grade to 8")
    assert res["single"]["hf:long"]["nulls"] == 8
    title = EVS.figures(res)[2][1].layout.title.text
    assert "undetermined" in title


def test_length_controlled_rate_moves_to_the_shorter_side_when_the_judge_follows_length(tmp_path):
    # the judge prefers the longer reply; the long candidate wins on long items and loses when its
    # reply is the shorter one, so at equal length it is not better
    def judge(p):
        a, b = len(reply_a(p)), len(reply_b(p))
        return "[[A]]" if a > b else "[[B]]"

    def long_sometimes(p):
        return "word " * (30 if len(p) % 3 else 1)

    st, _ = stage(tmp_path, {"judge": judge, "hf:x": long_sometimes, "hf:y": lambda p: "word " * 5})
    cfg = EVS.Config(n=24, candidates=["hf:x", "hf:y"], pairs=[["hf:x", "hf:y"]], protocol="rationale",
                     single_scoring=False, verifiable=False)
    EVS.run(st, cfg)
    lc = read_json(st.folder.file("eval_results"))["length_controlled"]["hf:x_vs_hf:y"]
    assert lc["raw_win_rate"] > 0.5 and lc["length_coef"] > 0 and lc["length_unit"] == "tokens"
    assert lc["win_rate"] < lc["raw_win_rate"]


@pytest.mark.parametrize("change, message", [
    ({"protocol": "vicuna"}, "evaluate.protocol must be one of"),
    ({"reference_candidate": "gpt"}, "evaluate.reference_candidate: 'gpt' is not in evaluate.candidates"),
    ({"pairs": [["evolved", "base"]]}, "compares 'base', which is not in evaluate.candidates"),
    ({"judge_mode": "probs", "protocol": "scores"}, "needs evaluate.protocol = 'verdict'"),
])
def test_wrong_protocol_params_fail_before_work(change, message):
    errors = EVS.Config(**change).preflight()
    assert any(message in e for e in errors), errors


def test_results_name_what_each_figure_is(tmp_path):
    st, _ = stage(tmp_path, {"judge": scoring_judge})
    EVS.run(st, EVS.Config(eval_set=str(FIX / "eval_set.json"), candidates=[A, B], pairs=[[A, B]],
                           protocol="scores", verifiable=False))
    res = read_json(st.folder.file("eval_results"))
    assert res["protocol"] == "scores"
    th = res["tie_half"][f"{A}_vs_{B}"]
    assert re.search(r"ties/2", th["convention"]) and "strict" in th["convention"]
