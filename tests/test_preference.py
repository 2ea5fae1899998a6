"""Preference export: chosen/rejected pairs from 07_evaluate's single scores, nothing invented."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.core.io import write_json, write_jsonl
from workbench.export.preference import PreferenceError, export_preferences, preference_pairs

REPO = Path(__file__).resolve().parent.parent


def sample(id_, answers: dict, ratings: dict, instruction="Name a river.", input_=""):
    return {"id": id_, "instruction": instruction, "input": input_, "answers": answers,
            "single": {c: (None if r is None else {"rating": r, "reason": None}) for c, r in ratings.items()}}


SAMPLES = [
    sample("a", {"seeds": "The Nile.", "evolved": "The Nile, in Africa, 6,650 km."}, {"seeds": 4.0, "evolved": 8.5}),
    sample("b", {"seeds": "Yes.", "evolved": "No."}, {"seeds": 6.0, "evolved": 6.0}),  # tie
    sample("c", {"seeds": None, "evolved": "A full answer."}, {"seeds": None, "evolved": 9.0}),  # a failed answer
    sample("d", {"seeds": "Волга.", "evolved": "长江。"}, {"seeds": 7.0, "evolved": 6.5}),  # below a margin of 1
    sample("e", {"seeds": "x", "evolved": "y", "selected": "z"}, {"seeds": 2.0, "evolved": 5.0, "selected": 9.0},
           "Sum the numbers.", "3 4"),
]


def test_best_and_worst_make_one_pair_and_every_item_is_counted():
    pairs, skipped = preference_pairs(SAMPLES, min_margin=1.0)
    assert [p["id"] for p in pairs] == ["a", "e"]
    assert skipped == {"tie": 1, "fewer_than_two_scored": 1, "below_min_margin": 1}
    assert len(pairs) + sum(skipped.values()) == len(SAMPLES)
    a, e = pairs
    assert a["chosen"] == [{"role": "assistant", "content": "The Nile, in Africa, 6,650 km."}]
    assert a["rejected"][0]["content"] == "The Nile." and a["margin"] == 4.5
    assert (e["chosen_candidate"], e["rejected_candidate"]) == ("selected", "seeds")
    assert e["prompt"] == [{"role": "user", "content": "Sum the numbers.\n\n3 4"}]
    pairs, _ = preference_pairs(SAMPLES, min_margin=0.5)
    assert [p["id"] for p in pairs] == ["a", "d", "e"]  # a non-Latin pair once the margin allows it


def make_run(tmp_path, samples, validation=None) -> Path:
    run = tmp_path / "runs" / "20260101-000000_p_00000000"
    write_json(run / "manifest.json", {"run_id": run.name, "stages": {}})
    write_jsonl(run / "07_evaluate" / "samples.jsonl", samples)
    write_json(run / "07_evaluate" / "results.json", {"judge": "fake:judge"} | ({"judge_validation": validation}
                                                                                 if validation else {}))
    return run


def test_the_card_says_who_scored_and_that_the_judge_was_not_validated(tmp_path):
    out = tmp_path / "pref"
    summary = export_preferences(make_run(tmp_path, SAMPLES), out, min_margin=1.0)
    assert summary["pairs"] == 2 and summary["judge_validation"] == "not validated"
    rows = [json.loads(line) for line in (out / "preference.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "e"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "fake:judge" in card and "not validated against human labels" in card
    assert "tie 1" in card and "fewer_than_two_scored 1" in card
    validated = export_preferences(make_run(tmp_path / "v", SAMPLES, "validated"), tmp_path / "v_out")
    assert "not validated against" not in (tmp_path / "v_out" / "README.md").read_text(encoding="utf-8")
    assert validated["judge_validation"] == "validated"


def test_a_run_without_scores_is_a_clear_error(tmp_path):
    with pytest.raises(PreferenceError, match="no 07_evaluate/samples.jsonl"):
        export_preferences(tmp_path / "runs" / "none", tmp_path / "o")
    unscored = [dict(s, single={}) for s in SAMPLES]
    with pytest.raises(PreferenceError, match="single_scoring is off"):
        export_preferences(make_run(tmp_path, unscored), tmp_path / "o")


@pytest.mark.slow
def test_the_cli_export_loads_into_trls_dpo_trainer(tmp_path):
    run = make_run(tmp_path, SAMPLES)
    out = tmp_path / "pref"
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "export", str(run), "--format", "preference",
                        "--out", str(out), "--min-margin", "1"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "2 preference pairs from 5 items" in r.stdout
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from workbench.llm.weights import embedded_model_dir

    ds = datasets.load_dataset("json", data_files=str(out / "preference.jsonl"), split="train")
    model_dir = str(embedded_model_dir())
    tok = AutoTokenizer.from_pretrained(model_dir)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), processing_class=tok,
                         args=DPOConfig(output_dir=str(tmp_path / "dpo"), report_to=[], use_cpu=True,
                                        per_device_train_batch_size=2, max_steps=1),
                         train_dataset=ds)
    assert len(trainer.train_dataset) == 2  # TRL's own preparation accepted both pairs
    assert {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(trainer.train_dataset.column_names)
    first = trainer.train_dataset[0]
    assert len(first["chosen_ids"]) > 0 and first["chosen_ids"] != first["rejected_ids"]
