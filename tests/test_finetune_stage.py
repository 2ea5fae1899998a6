"""06_finetune: its Config, how tuned models are saved, and how 07_evaluate finds them again."""

import json

import pytest
import torch
import yaml

from workbench.core.io import write_json
from workbench.core.records import new_seed
from workbench.core.run_folder import MissingInputError, RunFolder
from workbench.stages.evaluate.stage import resolve_candidates
from workbench.stages.finetune import train as FT
from workbench.stages.finetune.stage import Config, folder_megabytes, loss_figure


def test_save_as_auto_is_the_adapter_for_lora_and_exact_weights_for_full():
    assert FT.saved_as("lora", "auto") == "adapter"
    assert FT.saved_as("full", "auto") == "float32"
    assert FT.saved_as("lora", "bfloat16") == "bfloat16"


def test_config_refuses_an_adapter_without_lora_and_unknown_forms():
    with pytest.raises(ValueError, match="adapter needs method: lora"):
        Config(method="full", save_as="adapter")
    with pytest.raises(ValueError, match="save_as: 'float16'"):
        Config(save_as="float16")
    assert Config(method="lora", save_as="adapter").variants == ("seeds", "evolved")
    assert Config.from_namespace(dict(Config().as_dict(), variants=["seeds"])).variants == ("seeds",)


def test_lora_targets_are_all_linear_or_module_names_and_bad_ones_are_refused():
    assert FT.lora_target_modules("all-linear") == "all-linear"
    assert FT.lora_target_modules("q_proj, k_proj,v_proj,o_proj") == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert Config(method="lora", lora_targets="self_attn.q_proj,v_proj").lora_targets == "self_attn.q_proj,v_proj"
    for bad in ("", " , ", "q_proj;v_proj", "q proj", "all linear", ["q_proj"], None):
        with pytest.raises(ValueError, match="finetune.lora_targets: .* neither all-linear nor"):
            Config(method="lora", lora_targets=bad)
    with pytest.raises(ValueError, match="gradient_checkpointing: 'no' is not true or false"):
        Config(gradient_checkpointing="no")


def _run_folder(tmp_path, train_log=None, folders=()):
    run = tmp_path / "20250101-000000_t_00000000"
    (run / "06_finetune" / "model").mkdir(parents=True)
    (run / "params.yaml").write_text(yaml.safe_dump({"run": {"name": "t", "seed": 0, "model": "embedded"},
                                                     "finetune": {"variants": ["seeds", "evolved", "selected"]}}))
    for name in folders:
        (run / "06_finetune" / "model" / name).mkdir()
    if train_log is not None:
        write_json(run / "06_finetune" / "train_log.json", train_log)
    return RunFolder(run)


def test_candidates_resolve_from_the_train_log_not_the_params(tmp_path):
    log = {"base_model": "hf:/models/base", "variants": {
        "seeds": {"model_dir": "06_finetune/model/seeds"}, "evolved": {"model_dir": "06_finetune/model/evolved"}}}
    folder = _run_folder(tmp_path, log, folders=("seeds", "evolved"))
    got = resolve_candidates(folder, ("seeds", "evolved", "base", "openai:m@http://x/v1"), "embedded")
    assert got == {"seeds": f"hf:{folder.path}/06_finetune/model/seeds",
                   "evolved": f"hf:{folder.path}/06_finetune/model/evolved",
                   "base": "hf:/models/base", "openai:m@http://x/v1": "openai:m@http://x/v1"}
    # params name "selected", but 06 did not train it: an error naming what it trained
    with pytest.raises(MissingInputError, match="it trained seeds, evolved"):
        resolve_candidates(folder, ("selected",), "embedded")


def test_a_listed_model_folder_that_is_gone_or_no_train_log_is_an_error(tmp_path):
    folder = _run_folder(tmp_path, {"variants": {"seeds": {"model_dir": "06_finetune/model/seeds"}}})
    with pytest.raises(MissingInputError, match="model/seeds is missing"):
        resolve_candidates(folder, ("seeds",), "embedded")
    bare = _run_folder(tmp_path / "b", None, folders=("seeds",))  # a folder alone is not a trained variant
    with pytest.raises(MissingInputError, match="train_log.json is missing"):
        resolve_candidates(bare, ("seeds",), "embedded")
    assert resolve_candidates(bare, ("base",), "embedded") == {"base": "embedded"}  # 06 not run: run.model


def test_loss_figure_has_one_line_per_variant():
    logs = {"seeds": {"log": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}]}, "evolved": {"log": [{"step": 1, "loss": 2.2}]}}
    fig = loss_figure(logs)
    assert [t.name for t in fig.data] == ["seeds", "evolved"] and list(fig.data[0].y) == [2.0, 1.5]


ROWS = [dict(new_seed(f"Name a {w} colour."), response=f"A {w} colour is teal.") for w in ("warm", "cold", "bright", "dark")]


@pytest.mark.slow
@pytest.mark.parametrize("method,save_as", [("lora", "auto"), ("full", "bfloat16")])
def test_a_tiny_training_saves_small_and_loads_back_and_generates(tmp_path, method, save_as):
    from safetensors import safe_open

    from workbench.llm import GenParams, get_generator

    # the lora case trains as the main job does: attention projections only, no gradient checkpointing
    lora_only = {"lora_targets": "q_proj,k_proj,v_proj,o_proj", "gradient_checkpointing": False} if method == "lora" else {}
    cfg = Config(method=method, save_as=save_as, max_steps=1, batch_size=2, max_length=64, learning_rate=1e-3,
                 **lora_only)
    out = tmp_path / "model" / "seeds"
    summary = FT.train_variant(ROWS, "embedded", out, cfg, seed=0)
    assert summary["steps"] == 1 and summary["log"] and not (out / "checkpoints").exists()
    written = json.loads((out / "train_summary.json").read_text())
    assert written["base_model"] == "embedded" and written["saved_as"] == FT.saved_as(method, save_as)
    if method == "lora":  # the adapter alone: no whole-model weights, a few MB
        assert (out / "adapter_config.json").is_file() and not (out / "model.safetensors").exists()
        assert folder_megabytes(out) < 20
        adapted = json.loads((out / "adapter_config.json").read_text())["target_modules"]
        assert sorted(adapted) == ["k_proj", "o_proj", "q_proj", "v_proj"]  # not the MLP's gate/up/down
    else:  # whole weights in bfloat16: half of the ~540 MB float32 copy
        with safe_open(out / "model.safetensors", "pt") as f:
            assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}
        assert 200 < folder_megabytes(out) < 300
    gen = get_generator(f"hf:{out}", {"batch_size": 1, "cache": False}, None)
    reply = gen.generate([[{"role": "user", "content": "Name a warm colour."}]], GenParams(max_new_tokens=6))[0]
    assert reply.ok and reply.text
    if method == "lora":  # the adapter was merged in: the loaded weights are not the base's
        from workbench.llm.registry import load_backend

        base = load_backend("embedded", {"batch_size": 1})
        q = "model.layers.0.self_attn.q_proj.weight"
        assert not torch_equal(gen.backend.model.state_dict()[q], base.model.state_dict()[q])
        # on a bfloat16 base the adapter stays unmerged, in float32: merged, its update would round away
        half = get_generator(f"hf:{out}", {"batch_size": 1, "cache": False, "dtype": "bfloat16"}, None)
        lora_a = [v for k, v in half.backend.model.state_dict().items() if "lora_A" in k]
        assert half.backend.model.dtype == torch.bfloat16 and lora_a and lora_a[0].dtype == torch.float32
        assert half.generate([[{"role": "user", "content": "Name a warm colour."}]], GenParams(max_new_tokens=6))[0].ok


def torch_equal(a, b) -> bool:
    return torch.equal(a.float().cpu(), b.float().cpu())


def test_sft_args_pass_to_sftconfig_and_unknown_or_doubled_keys_fail_before_work(tmp_path):
    from workbench.pipeline import params as P

    cfg = Config(sft_args={"max_grad_norm": 0.3, "optim": "adamw_torch"})
    args = FT.sft_config(cfg, tmp_path, seed=0)
    assert args.max_grad_norm == 0.3 and args.optim == "adamw_torch"
    assert FT.sft_config(Config(), tmp_path, seed=0).max_grad_norm == 1.0  # untouched otherwise
    with pytest.raises(ValueError, match=r"'max_grad_nrom' is not a setting of TRL's SFTConfig \(did you mean 'max_grad_norm'\?\)"):
        Config(sft_args={"max_grad_nrom": 0.3})
    with pytest.raises(ValueError, match="learning_rate is set by the workbench; use finetune.learning_rate"):
        Config(sft_args={"learning_rate": 1e-4})
    with pytest.raises(ValueError, match="expected a mapping"):
        Config(sft_args=["optim"])
    # through params, before any stage runs: the error names the section and key
    errors = P.config_errors("finetune", {"sft_args": {"warmup_stepz": 10}})
    assert any("finetune.sft_args: 'warmup_stepz'" in e for e in errors)


def test_lora_alpha_dropout_reach_peft_and_a_4bit_base_needs_lora_and_a_gpu():
    lora = FT.lora_config(Config(method="lora", lora_r=16, lora_alpha=32, lora_dropout=0.05))
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (16, 32, 0.05)
    assert FT.lora_config(Config(method="lora", lora_r=4)).lora_alpha == 8  # 0: twice the rank
    assert FT.lora_config(Config(method="full")) is None
    with pytest.raises(ValueError, match="load_in_4bit: a 4-bit base trains only LoRA adapters"):
        Config(method="full", load_in_4bit=True)
    if not torch.cuda.is_available():  # this machine: said before any work, not at load time
        with pytest.raises(ValueError, match="load_in_4bit: .*(bitsandbytes|CUDA GPU)"):
            Config(method="lora", load_in_4bit=True)


def test_the_model_card_names_base_data_run_and_the_runs_verdicts():
    from workbench.stages.finetune.model_card import model_card

    summary = {"base_model": "embedded", "saved_as": "float32", "examples": 12, "steps": 3, "train_loss": 2.5}
    manifest = {"run_id": "20260101-000000_x_abcd1234", "params_hash": "abcd1234", "git": {"sha": "f00", "dirty": True}}
    stats = {"02_evolve": {"dataset": 20, "kept_rate": 0.4, "unchecked_kept_share": 0.72},
             "04_difficulty": {"judge_verdict": "not validated", "claim": {"verdict": "undetermined"}}}
    card = model_card("evolved", summary, Config().as_dict() | {"seed": 0, "source": "03_filter/filtered.jsonl"},
                      manifest, stats)
    front = yaml.safe_load(card.split("---")[1])
    assert front["base_model"] == "embedded" and "variant-evolved" in front["tags"]
    assert "abcd1234" in card and "(uncommitted changes)" in card and "03_filter/filtered.jsonl" in card
    assert "12 examples" in card and "no judge checked for information gain: 0.72" in card
    assert "04_difficulty: judge not validated; difficulty rises by round: undetermined" in card
    assert "05_diversity: not run" in card  # an absent stage is said to be absent, not skipped
