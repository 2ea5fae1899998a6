"""Supervised fine-tuning of dataset variants with TRL, full or LoRA, CPU-friendly.

Variants (the paper's comparison):
    seeds      round-0 rows only — the baseline
    evolved    seeds + kept evolutions of all rounds, shuffled
    selected   the Deita-style selection from 05_diversity
By default every variant is cut to the size of the smallest, so the comparison is about
what the data is, not how much of it there is.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from .io import write_json
from .records import full_text

VARIANTS = ("seeds", "evolved", "selected")


@dataclass
class TrainConfig:
    method: str = "full"  # full | lora
    epochs: float = 1.0
    max_steps: int = 0  # > 0 overrides epochs
    learning_rate: float = 5e-5
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 512
    lora_r: int = 8
    seed: int = 0


def check_config(values: dict) -> list[str]:
    """Semantic checks on the finetune section, run before any work."""
    errs = [f"finetune.variants: unknown variant {v!r} (known: {', '.join(VARIANTS)})"
            for v in values.get("variants", []) if v not in VARIANTS]
    if not values.get("variants"):
        errs.append("finetune.variants: name at least one variant")
    if str(values.get("base_model", "")).startswith("openai:"):
        errs.append("finetune.base_model: fine-tuning needs a local model (embedded or hf:...)")
    return errs


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
                raise FileNotFoundError("variant 'selected' needs 05_diversity/selection.jsonl; run 05_diversity first")
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
    from .llm.hf import embedded_model_dir
    from .llm.registry import parse_model_string

    kind, name, _ = parse_model_string(model)
    if kind == "embedded":
        return str(embedded_model_dir())
    if kind == "hf":
        return name
    raise ValueError(f"fine-tuning needs a local model (embedded or hf:...), got {model!r}")


def train_variant(rows: list[dict], base: str, out_dir: Path, cfg: TrainConfig) -> dict:
    """Train one variant, save model + tokenizer to out_dir; return the loss log."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(base)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft_config = None
    if cfg.method == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, lora_dropout=0.0,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
    args = SFTConfig(
        output_dir=str(out_dir / "checkpoints"), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
        learning_rate=cfg.learning_rate, per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, max_length=cfg.max_length, logging_steps=1,
        save_strategy="no", report_to=[], seed=cfg.seed, data_seed=cfg.seed, use_cpu=not torch.cuda.is_available(),
        bf16=False, fp16=False, dataloader_num_workers=0, disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(to_conversations(rows)),
                         processing_class=tok, peft_config=peft_config)
    result = trainer.train()
    model = trainer.model
    if cfg.method == "lora":
        model = model.merge_and_unload()  # a plain model, loadable like any other
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    log = [e for e in trainer.state.log_history if "loss" in e]
    summary = {"examples": len(rows), "steps": trainer.state.global_step, "train_loss": result.training_loss,
               "seconds": result.metrics.get("train_runtime"), "log": log}
    write_json(out_dir / "train_summary.json", {k: v for k, v in summary.items() if k != "log"})
    return summary
