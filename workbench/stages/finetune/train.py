"""Supervised fine-tuning of dataset variants with TRL, full or LoRA, CPU-friendly.

Variants (the paper's comparison):
    seeds      round-0 rows only — the baseline
    evolved    seeds + kept evolutions of all rounds, shuffled
    selected   the Deita-style selection from 05_diversity
By default every variant is cut to the size of the smallest, so the comparison is about
what the data is, not how much of it there is.
"""

from __future__ import annotations

import dataclasses
import difflib
import random
import re
import shutil
from pathlib import Path

from workbench.core.io import write_json
from workbench.core.records import VARIANTS, full_text
from workbench.core.run_folder import FILES
from workbench.llm.weights import TRAIN_SUMMARY

# How a tuned model is saved (finetune.save_as). Training always runs in float32.
#   adapter   the LoRA adapter alone (a few MB); loaders merge it into the base model
#   bfloat16  the whole model in bfloat16: half of float32, but rounding can undo small updates
#   float32   the whole model exactly as trained (LoRA merged in)
#   auto      adapter for method lora, float32 for method full
SAVE_AS = ("auto", "adapter", "bfloat16", "float32")
# finetune.lora_targets: "all-linear" (PEFT's shorthand for every linear layer but the output
# head) or comma-separated module names, each a dotted identifier such as q_proj or self_attn.q_proj
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


def saved_as(method: str, save_as: str) -> str:
    """The form save_as="auto" stands for with this method."""
    if save_as != "auto":
        return save_as
    return "adapter" if method == "lora" else "float32"


def check_config(cfg) -> list[str]:
    """Semantic checks on the finetune section (the 06_finetune Config), run before any work."""
    errs = [f"finetune.variants: unknown variant {v!r} (known: {', '.join(VARIANTS)})"
            for v in cfg.variants if v not in VARIANTS]
    if not cfg.variants:
        errs.append("finetune.variants: name at least one variant")
    if str(cfg.base_model).startswith("openai:"):
        errs.append("finetune.base_model: fine-tuning needs a local model (embedded or hf:...)")
    if cfg.save_as not in SAVE_AS:
        errs.append(f"finetune.save_as: {cfg.save_as!r} is not one of {', '.join(SAVE_AS)}")
    elif cfg.save_as == "adapter" and cfg.method != "lora":
        errs.append("finetune.save_as: adapter needs method: lora (full fine-tuning has no adapter to save)")
    errs += lora_target_errors(cfg.lora_targets)
    if not isinstance(cfg.gradient_checkpointing, bool):
        errs.append(f"finetune.gradient_checkpointing: {cfg.gradient_checkpointing!r} is not true or false")
    if cfg.load_in_4bit:
        errs += quantized_base_errors(cfg.method)
    return errs + sft_args_errors(cfg.sft_args)


# SFTConfig fields the finetune section sets itself: named in sft_args they would be set twice
OWN_SFT_FIELDS = {"num_train_epochs": "epochs", "max_steps": "max_steps", "learning_rate": "learning_rate",
                  "per_device_train_batch_size": "batch_size", "gradient_accumulation_steps": "grad_accum",
                  "lr_scheduler_type": "lr_scheduler", "warmup_ratio": "warmup_ratio", "warmup_steps": "warmup_ratio",
                  "weight_decay": "weight_decay", "max_length": "max_length", "bf16": "bf16",
                  "gradient_checkpointing": "gradient_checkpointing", "seed": "run.seed", "data_seed": "run.seed",
                  "output_dir": None}


def sft_args_errors(sft_args) -> list[str]:
    """finetune.sft_args: more SFTConfig settings, by SFTConfig's own field names, checked
    against the installed TRL before any work (TRL is imported only when there are some)."""
    if not isinstance(sft_args, dict):
        return [f"finetune.sft_args: expected a mapping of SFTConfig settings, got {sft_args!r}"]
    if not sft_args:
        return []
    from trl import SFTConfig

    known = {f.name for f in dataclasses.fields(SFTConfig)}
    errs = []
    for key in sft_args:
        if key in OWN_SFT_FIELDS:
            own = OWN_SFT_FIELDS[key]
            errs.append(f"finetune.sft_args: {key} is set by the workbench" + (f"; use finetune.{own}" if own and
                        "." not in own else f" ({own})" if own else ""))
        elif key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            errs.append(f"finetune.sft_args: {key!r} is not a setting of TRL's SFTConfig"
                        + (f" (did you mean {close[0]!r}?)" if close else ""))
    return errs


def quantized_base_errors(method: str) -> list[str]:
    """QLoRA: a 4-bit base needs LoRA (the quantized weights are frozen), bitsandbytes and a GPU."""
    import importlib.util

    errs = [] if method == "lora" else ["finetune.load_in_4bit: a 4-bit base trains only LoRA adapters; "
                                        "set method: lora"]
    if importlib.util.find_spec("bitsandbytes") is None:
        errs.append("finetune.load_in_4bit: needs the bitsandbytes package (pip install bitsandbytes) "
                    "and a CUDA GPU")
    else:
        import torch

        if not torch.cuda.is_available():
            errs.append("finetune.load_in_4bit: bitsandbytes' 4-bit layers need a CUDA GPU; none is visible")
    return errs


def lora_target_errors(targets) -> list[str]:
    names = lora_target_modules(targets) if isinstance(targets, str) else []
    if names == "all-linear" or (names and all(MODULE_NAME.fullmatch(n) for n in names)):
        return []
    return [f"finetune.lora_targets: {targets!r} is neither all-linear nor comma-separated module names "
            "(e.g. q_proj,k_proj,v_proj,o_proj)"]


def lora_target_modules(targets: str) -> str | list[str]:
    """PEFT's target_modules for finetune.lora_targets: "all-linear" as is, else the list of names."""
    if targets.strip() == "all-linear":
        return "all-linear"
    return [name.strip() for name in targets.split(",") if name.strip()]


def variant_rows(dataset: list[dict], selection: list[dict] | None, variants: list[str], equal_size: bool,
                 seed: int) -> dict[str, list[dict]]:
    """{variant: rows}; seeds = round 0, evolved = everything, selected = the selection."""
    out = {}
    for v in variants:
        if v == "seeds":
            out[v] = [r for r in dataset if r["round"] == 0]
        elif v == "evolved":
            out[v] = list(dataset)
        elif v == "selected":
            if selection is None:
                raise FileNotFoundError(f"variant 'selected' needs {FILES['selection']}; run 05_diversity first")
            out[v] = list(selection)
        else:
            raise ValueError(f"unknown variant {v!r} (known: {', '.join(VARIANTS)})")
        out[v] = [r for r in out[v] if r.get("response")]
    if equal_size and out:
        n = min(len(rows) for rows in out.values())
        out = {v: random.Random(f"{seed}:{v}").sample(rows, n) if len(rows) > n else rows for v, rows in out.items()}
    for v, rows in out.items():
        random.Random(f"{seed}:{v}:order").shuffle(rows)
    return out


def to_conversations(rows: list[dict]) -> list[dict]:
    """Prompt-completion pairs in chat form; TRL applies the chat template and trains on the
    completion only."""
    return [{"prompt": [{"role": "user", "content": full_text(r)}],
             "completion": [{"role": "assistant", "content": r["response"]}]} for r in rows]


def base_model_path(model: str) -> str:
    from workbench.llm.hf import embedded_model_dir
    from workbench.llm.registry import parse_model_string

    kind, name, _ = parse_model_string(model)
    if kind == "embedded":
        return str(embedded_model_dir())
    if kind == "hf":
        return name
    raise ValueError(f"fine-tuning needs a local model (embedded or hf:...), got {model!r}")


def train_variant(rows: list[dict], base_model: str, out_dir: Path, cfg, seed: int, callbacks=()) -> dict:
    """Train one variant on the base model (a model string), save it to out_dir as
    cfg.save_as says, with the tokenizer and train_summary.json; return the loss log.
    `cfg` is finetune_stage.Config. Under accelerate launch every process runs this and
    the main process alone writes (launch.py)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    base = base_model_path(base_model)
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(base)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, **quantization_args(cfg))
    args = sft_config(cfg, out_dir, seed)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(to_conversations(rows)),
                         processing_class=tok, peft_config=lora_config(cfg), callbacks=list(callbacks))
    result = trainer.train()
    form, main = saved_as(cfg.method, cfg.save_as), trainer.args.should_save  # should_save: the main process
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:  # sharded weights: every process helps gather
        from workbench.stages.finetune.launch import save_gathered

        save_gathered(trainer, out_dir, form, cfg.method)
    elif main:
        save_model(trainer.model, out_dir, form)
    log = [e for e in trainer.state.log_history if "loss" in e]
    processes = trainer.args.world_size
    summary = {"examples": len(rows), "steps": trainer.state.global_step, "train_loss": result.training_loss,
               "seconds": result.metrics.get("train_runtime"), "base_model": base_model, "saved_as": form,
               "processes": processes, "effective_batch": processes * cfg.batch_size * cfg.grad_accum, "log": log}
    if main:
        tok.save_pretrained(out_dir)
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
        write_json(out_dir / TRAIN_SUMMARY, {k: v for k, v in summary.items() if k != "log"})
    trainer.accelerator.wait_for_everyone()  # no process reports the model saved before it is
    return summary


def lora_config(cfg):
    """PEFT's LoraConfig for method lora, else None. lora_alpha 0 means twice the rank, the
    common choice (the adapter's update is scaled by alpha / r)."""
    if cfg.method != "lora":
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha or 2 * cfg.lora_r, lora_dropout=cfg.lora_dropout,
                      target_modules=lora_target_modules(cfg.lora_targets), task_type="CAUSAL_LM")


def sft_config(cfg, out_dir: Path, seed: int):
    """TRL's SFTConfig for one variant from the 06_finetune Config."""
    import torch
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out_dir / "checkpoints"), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
        learning_rate=cfg.learning_rate, per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, lr_scheduler_type=cfg.lr_scheduler,
        **warmup_arg(SFTConfig, cfg.warmup_ratio), weight_decay=cfg.weight_decay, max_length=cfg.max_length,
        logging_steps=1,
        save_strategy="no", report_to=[], seed=seed, data_seed=seed, use_cpu=not torch.cuda.is_available(),
        bf16=cfg.bf16, fp16=False, dataloader_num_workers=0, disable_tqdm=False,
        gradient_checkpointing=cfg.gradient_checkpointing,  # TRL turns it on unless told
        **dict(cfg.sft_args),  # anything else SFTConfig takes, checked by name before work starts
    )


def quantization_args(cfg) -> dict:
    """from_pretrained arguments for QLoRA's 4-bit NF4 base (finetune.load_in_4bit), else none."""
    if not cfg.load_in_4bit:
        return {}
    import torch
    from transformers import BitsAndBytesConfig

    return {"quantization_config": BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if cfg.bf16 else torch.float32)}


def warmup_arg(config_class, ratio: float) -> dict:
    """The warmup as a share of the steps: transformers 5 takes it as a float warmup_steps
    below 1 (warmup_ratio is gone), 4.x as warmup_ratio."""
    names = {f.name for f in dataclasses.fields(config_class)}
    return {"warmup_ratio": ratio} if "warmup_ratio" in names else {"warmup_steps": float(ratio)}


def save_model(model, out_dir: Path, form: str) -> str:
    """Save a trained model (a PeftModel when trained with LoRA) in `form`; returns the form."""
    import torch

    if form == "adapter":
        if not hasattr(model, "merge_and_unload"):
            raise ValueError("finetune.save_as: adapter needs method: lora")
        model.save_pretrained(out_dir)  # a PeftModel writes adapter_config.json + adapter_model.safetensors
        return form
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()  # a plain model, loadable like any other
    if form == "bfloat16":
        model = model.to(torch.bfloat16)
    model.save_pretrained(out_dir)
    return form
