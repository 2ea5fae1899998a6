"""Exports trainers read as they are: TRL's own format checks, LLaMA-Factory and Axolotl configs,
non-Latin text, the detected language, and --push-to-hub without a network."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from export_fixtures import REPO, load_as_card_says, make_run

from workbench.core.io import read_jsonl, write_jsonl
from workbench.core.records import new_evolution, new_seed
from workbench.export.card_data import FALLBACK_LANGUAGE, languages, size_category
from workbench.export.run_export import FILES, export
from workbench.stages.finetune.train import to_conversations

ZH = "请用三句话解释光合作用。"
ZH_ANSWER = "光合作用是植物利用阳光把二氧化碳和水变成葡萄糖和氧气的过程。它发生在叶绿体中。这个过程为地球上的生命提供能量。"
RU_ANSWER = "Фотосинтез — это процесс, при котором растения превращают свет в химическую энергию."


def add_non_latin_rows(run_dir: Path) -> list[dict]:
    seed = new_seed(ZH, response=ZH_ANSWER, model="hf:teacher")
    evolved = new_evolution(seed, 1, "deepening", "Объясни фотосинтез подробно.", model="hf:teacher",
                            response=RU_ANSWER, answer_model="hf:teacher")
    path = run_dir / "02_evolve" / "dataset.jsonl"
    rows = read_jsonl(path) + [seed, evolved]
    write_jsonl(path, rows)
    return rows


@pytest.mark.parametrize("fmt", ["messages", "prompt_completion", "hf"])
def test_trl_recognises_the_chat_exports_without_conversion(tmp_path, fmt):
    from trl.data_utils import is_conversational

    run_dir = make_run(tmp_path)
    dataset = read_jsonl(run_dir / "02_evolve" / "dataset.jsonl")
    export(run_dir, fmt, tmp_path / fmt)
    train = load_as_card_says(fmt, tmp_path / fmt, tmp_path / "cache")
    first = train[0]
    assert is_conversational(first)
    if fmt == "messages":
        assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
        assert "prompt" not in first  # TRL reads it as conversational language modelling
    else:
        # SFTTrainer turns completion_only_loss on exactly when both columns are there (sft_trainer.py)
        assert "prompt" in first and "completion" in first
        expected = to_conversations(dataset)  # what 06_finetune trains on, byte for byte
        assert [{"prompt": r["prompt"], "completion": r["completion"]} for r in train] == expected


def test_prompt_completion_is_what_06_finetune_trains_on(tmp_path):
    run_dir = make_run(tmp_path)
    export(run_dir, "prompt_completion", tmp_path / "pc")
    written = read_jsonl(tmp_path / "pc" / "prompt_completion.jsonl")
    expected = to_conversations(read_jsonl(run_dir / "02_evolve" / "dataset.jsonl"))
    assert [{k: r[k] for k in ("prompt", "completion")} for r in written] == expected
    assert written[1]["prompt"][0]["content"] == "Summarise the text.\n\nCats sleep a lot."  # input after a blank line


@pytest.mark.parametrize("fmt", ["sharegpt", "alpaca", "messages", "prompt_completion"])
def test_a_non_latin_answer_round_trips(tmp_path, fmt):
    run_dir = make_run(tmp_path)
    add_non_latin_rows(run_dir)
    export(run_dir, fmt, tmp_path / fmt)
    raw = (tmp_path / fmt / FILES[fmt]).read_text("utf-8")
    assert ZH_ANSWER in raw and RU_ANSWER in raw  # written as text, not \\u escapes
    rows = load_as_card_says(fmt, tmp_path / fmt, tmp_path / "cache").to_list()
    answers = {"alpaca": lambda r: r["output"], "sharegpt": lambda r: r["conversations"][1]["value"],
               "messages": lambda r: r["messages"][1]["content"],
               "prompt_completion": lambda r: r["completion"][0]["content"]}[fmt]
    assert [answers(r) for r in rows][-2:] == [ZH_ANSWER, RU_ANSWER]


def test_languages_are_detected_and_a_fallback_is_stated():
    en = [{"instruction": "Explain how a bicycle gear works to a child.", "response": "A gear is a wheel with teeth "
           "that turns another wheel, so your pedalling moves the bike faster or slower."}] * 8
    zh = [{"instruction": ZH, "response": ZH_ANSWER}] * 4
    langs, how = languages(en + zh)
    assert langs == ["en", "zh"] and "langdetect" in how and "en 8, zh 4" in how
    langs, how = languages([{"instruction": "1234 5678", "response": "!!!"}])
    assert langs == [FALLBACK_LANGUAGE] and "fallback" in how
    assert size_category(999) == "n<1K" and size_category(1000) == "1K<n<10K" and size_category(12_345) == "10K<n<100K"


def test_card_language_comes_from_the_rows(tmp_path):
    from huggingface_hub import DatasetCard

    run_dir = make_run(tmp_path)
    rows = [new_seed(ZH, response=ZH_ANSWER, model="hf:t")] * 1
    write_jsonl(run_dir / "02_evolve" / "dataset.jsonl", [dict(r, id=f"z{i}") for i, r in enumerate(rows * 5)])
    export(run_dir, "messages", tmp_path / "zh")
    assert DatasetCard.load(tmp_path / "zh" / "README.md").data.language == ["zh"]


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt", "messages", "jsonl", "parquet"])
def test_llama_factory_dataset_info_maps_columns_the_file_has(tmp_path, fmt):
    run_dir = make_run(tmp_path)
    out = tmp_path / fmt
    export(run_dir, fmt, out)
    info = json.loads((out / "dataset_info.json").read_text())["evol_instruct"]
    row = load_as_card_says(fmt, out, tmp_path / "cache")[0]
    assert (out / info["file_name"]).is_file()
    assert set(info["columns"].values()) <= set(row)  # every mapped column exists in the file
    if info.get("formatting") == "sharegpt":
        turn = row[info["columns"]["messages"]][0]
        tags = info["tags"]
        assert turn[tags["role_tag"]] == tags["user_tag"] and tags["content_tag"] in turn


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt", "messages", "jsonl", "parquet", "hf"])
def test_axolotl_snippet_points_at_the_export(tmp_path, fmt):
    run_dir = make_run(tmp_path)
    out = tmp_path / fmt
    export(run_dir, fmt, out)
    entry = yaml.safe_load((out / "axolotl.yaml").read_text())["datasets"][0]
    assert Path(entry["path"]).exists() and Path(entry["path"]).is_relative_to(out.resolve())
    row = load_as_card_says(fmt, out, tmp_path / "cache")[0]
    if entry["type"] == "chat_template":
        turn = row[entry["field_messages"]][0]
        mapping = entry.get("message_property_mappings", {"role": "role", "content": "content"})
        assert mapping["role"] in turn and mapping["content"] in turn
    elif isinstance(entry["type"], dict):
        assert {entry["type"][k] for k in ("field_instruction", "field_input", "field_output")} <= set(row)


def test_prompt_completion_has_no_trainer_configs_and_the_card_says_what_to_use(tmp_path):
    run_dir = make_run(tmp_path)
    summary = export(run_dir, "prompt_completion", tmp_path / "pc")
    assert summary["trainer_configs"] == []
    card = (tmp_path / "pc" / "README.md").read_text()
    assert "loss is on the answer only" in card and "export `--format messages` or `alpaca` instead" in card


def test_push_to_hub_without_a_network_fails_in_one_line_after_the_local_export(tmp_path):
    run_dir = make_run(tmp_path)
    env = dict(os.environ, HF_ENDPOINT="http://127.0.0.1:9", HF_TOKEN="hf_unit_test_token", HF_HUB_ETAG_TIMEOUT="2",
               HF_HUB_DOWNLOAD_TIMEOUT="2", HF_HUB_DISABLE_TELEMETRY="1")
    r = subprocess.run([sys.executable, "-m", "workbench.cli", "export", str(run_dir), "--format", "messages",
                        "--out", str(tmp_path / "pushed"), "--push-to-hub", "someone/evol-unit"],
                       capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: push to the hub as someone/evol-unit failed")
    assert "Traceback" not in r.stderr and "local export" in errors[0]
    assert (tmp_path / "pushed" / "messages.jsonl").is_file() and (tmp_path / "pushed" / "README.md").is_file()
    assert "4 rows from 02_evolve/dataset.jsonl" in r.stdout


@pytest.mark.slow
def test_sft_trainer_takes_the_exports_as_they_are_and_masks_the_prompt_like_06(tmp_path):
    """SFTTrainer prepares each export itself (no training): prompt_completion and hf train on the
    answer only (the prompt's labels are -100), as 06_finetune does; messages on the whole text."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from workbench.llm.hf import embedded_model_dir

    run_dir = make_run(tmp_path)
    base = str(embedded_model_dir())
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    masked = {}
    for fmt in ("prompt_completion", "hf", "messages"):
        export(run_dir, fmt, tmp_path / fmt)
        train = load_as_card_says(fmt, tmp_path / fmt, tmp_path / "cache")
        args = SFTConfig(output_dir=str(tmp_path / "trl"), report_to=[], use_cpu=True, max_length=256)
        trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tok)
        masked[fmt] = [sum(x == -100 for x in row["labels"]) for row in trainer.train_dataset]
    assert all(n > 0 for n in masked["prompt_completion"]) and masked["hf"] == masked["prompt_completion"]
    assert all(n == 0 for n in masked["messages"])


@pytest.mark.parametrize("fmt", ["hf", "jsonl", "alpaca", "sharegpt", "messages", "parquet"])
def test_the_trainer_configs_pass_the_trainers_schemas_on_the_rows(tmp_path, fmt):
    from workbench.export.trainer_schema import axolotl_errors, llama_factory_errors

    run_dir = make_run(tmp_path)
    add_non_latin_rows(run_dir)
    written = export(run_dir, fmt, tmp_path / fmt)["trainer_configs"]
    assert "axolotl.yaml" in written and ("dataset_info.json" in written) == (fmt != "hf")
    assert axolotl_errors(tmp_path / fmt) == []
    if fmt != "hf":
        assert llama_factory_errors(tmp_path / fmt) == []


def test_a_wrong_column_mapping_or_a_missing_file_is_reported(tmp_path):
    from workbench.export.trainer_schema import axolotl_errors, llama_factory_errors

    run_dir = make_run(tmp_path)
    for fmt in ("alpaca", "messages"):
        export(run_dir, fmt, tmp_path / fmt)
    info_path = tmp_path / "alpaca" / "dataset_info.json"
    info = json.loads(info_path.read_text())
    info["evol_instruct"]["columns"]["response"] = "answer"  # alpaca.json has `output`
    info_path.write_text(json.dumps(info))
    errors = llama_factory_errors(tmp_path / "alpaca")
    assert errors and all("'answer' (response)" in e for e in errors) and "alpaca.json row 0" in errors[0]
    info["evol_instruct"]["columns"] = {"instruction": "instruction"}  # not a LLaMA-Factory column name
    info_path.write_text(json.dumps(info))
    assert any("'instruction' is not a alpaca column" in e for e in llama_factory_errors(tmp_path / "alpaca"))

    ax_path = tmp_path / "messages" / "axolotl.yaml"
    config = yaml.safe_load(ax_path.read_text())
    config["datasets"][0]["field_messages"] = "conversations"  # messages.jsonl has `messages`
    ax_path.write_text(yaml.safe_dump(config))
    assert any("field_messages 'conversations'" in e for e in axolotl_errors(tmp_path / "messages"))
    info_lf = json.loads((tmp_path / "messages" / "dataset_info.json").read_text())
    info_lf["evol_instruct"]["tags"]["user_tag"] = "human"  # the file's turns say `user`
    (tmp_path / "messages" / "dataset_info.json").write_text(json.dumps(info_lf))
    assert any("turn 0: 'role' is 'user'" in e for e in llama_factory_errors(tmp_path / "messages"))

    (tmp_path / "messages" / "messages.jsonl").unlink()
    assert any("not found" in e for e in llama_factory_errors(tmp_path / "messages"))
    assert any("does not exist" in e for e in axolotl_errors(tmp_path / "messages"))
    ax_path.unlink()
    assert axolotl_errors(tmp_path / "messages")[0].startswith("axolotl.yaml:")
    info_path.unlink()
    assert llama_factory_errors(tmp_path / "alpaca")[0].startswith("dataset_info.json:")


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_unanswered_rows_get_no_trainer_config_and_the_card_says_why(tmp_path, fmt):
    run_dir = make_run(tmp_path)
    path = run_dir / "02_evolve" / "dataset.jsonl"
    write_jsonl(path, read_jsonl(path) + [new_seed("Describe a sunset.", model="hf:teacher")])
    summary = export(run_dir, fmt, tmp_path / fmt)
    assert summary["rows_written"] == 5 and summary["trainer_configs"] == []
    assert not (tmp_path / fmt / "dataset_info.json").exists() and not (tmp_path / fmt / "axolotl.yaml").exists()
    card = (tmp_path / fmt / "README.md").read_text()
    assert "1 rows have no response, so no trainer config was written" in card
    assert "llamafactory-cli train" not in card and "axolotl train" not in card
    # a training format leaves the row out, and so keeps its configs
    assert export(run_dir, "alpaca", tmp_path / "alpaca")["trainer_configs"] == ["dataset_info.json", "axolotl.yaml"]


def test_the_card_gives_each_trainers_command(tmp_path):
    run_dir = make_run(tmp_path)
    export(run_dir, "messages", tmp_path / "m")
    card = (tmp_path / "m" / "README.md").read_text()
    assert f"`dataset_dir: {(tmp_path / 'm').resolve()}`" in card or f"`dataset_dir: {tmp_path / 'm'}`" in card
    assert "`dataset: evol_instruct`" in card and "then `llamafactory-cli train <yaml>`" in card
    assert "then `axolotl train <yaml>`" in card
