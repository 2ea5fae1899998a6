"""06_finetune, the stage: SFT of the base model on each dataset variant, saved for 07_evaluate.

    res = run(open_stage(run_dir, "06_finetune"), Config.from_namespace(globals()))

Reads    the latest dataset (role filtered, else evolved); 05_diversity/selection.jsonl (role
         selection) for the `selected` variant
Writes   model/<variant>/ (role models)  the tuned model as save_as says (finetune.SAVE_AS):
                          adapter_config.json + adapter_model.safetensors, or config.json +
                          model.safetensors in bfloat16 or float32; the tokenizer;
                          train_summary.json {examples, steps, train_loss, seconds, base_model, saved_as,
                          processes, effective_batch}; README.md, the model card (model_card.py)
         train_log.json (role train_log)  {base_model, base, source, config, variants: {variant:
                          {examples, steps, train_loss, seconds, base_model, saved_as, processes,
                          effective_batch, model_dir, log: [{step, loss, ...}]}}}
         launch/<variant>.{rows.jsonl,inputs.json,log,result.json}  with launcher accelerate (launch.py)
Stats    base_model, base, source, saved_as, variants {variant: {examples, steps, train_loss,
         seconds, processes, effective_batch, model_dir, megabytes}}
07_evaluate finds the tuned models through train_log.json (variants -> model_dir).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go

from workbench.core.config import StageConfig
from workbench.core.io import write_json
from workbench.core.run_folder import FILES
from workbench.stages.finetune import train as FT
from workbench.stages.finetune.launch import (
    accelerate_config_errors,
    launcher_errors,
    progress_callback,
    train_launched,
)
from workbench.stages.finetune.model_card import model_card


@dataclass(frozen=True)
class Config(StageConfig):
    base_model: str = ""
    variants: tuple = ("seeds", "evolved")
    equal_size: bool = True
    method: str = "full"
    epochs: float = 1.0
    max_steps: int = 0
    learning_rate: float = 5e-05
    batch_size: int = 4
    grad_accum: int = 1
    lr_scheduler: str = "linear"
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_length: int = 512
    lora_r: int = 8
    lora_alpha: int = 0
    lora_dropout: float = 0.0
    lora_targets: str = "all-linear"
    load_in_4bit: bool = False
    gradient_checkpointing: bool = True
    bf16: bool = False
    save_as: str = "auto"
    sft_args: dict = field(default_factory=dict)
    launcher: str = "in-process"
    num_processes: int = 2
    accelerate_config: str = ""

    def check(self) -> list[str]:
        return FT.check_config(self) + launcher_errors(self)

    def preflight(self) -> list[str]:
        return accelerate_config_errors(self.accelerate_config) if self.launcher == "accelerate" else []


@dataclass
class Result:
    stats: dict
    logs: dict  # {variant: {step, loss, ...} entries under "log"}, as in train_log.json


def run(st, cfg: Config) -> Result:
    """Train every variant in turn, write train_log.json and stats; return the loss logs."""
    dataset, source = st.latest_dataset()
    selection = st.folder.rows_or_none("selection")
    data = FT.variant_rows(dataset, selection, list(cfg.variants), cfg.equal_size, st.run["seed"])
    base_model = cfg.base_model or st.run["model"]
    base = FT.base_model_path(base_model)
    logs = {}
    for variant, rows in data.items():
        if not rows:
            raise ValueError(f"06_finetune: variant {variant!r} has no rows with a response in {FILES[source]}")
        print(f"training {variant} on {len(rows)} examples from {base}")
        out_dir = st.out("models") / variant
        if cfg.launcher == "accelerate":  # N processes (GPUs); writes and logs in launch/ (launch.py)
            logs[variant] = train_launched(rows, base_model, out_dir, cfg, st.run["seed"], st.path("launch"), variant)
        else:
            logs[variant] = FT.train_variant(rows, base_model, out_dir, cfg, st.run["seed"],
                                             callbacks=[progress_callback()])
        logs[variant]["model_dir"] = f"{FILES['models']}/{variant}"
        card = model_card(variant, logs[variant], cfg.as_dict() | {"seed": st.run["seed"], "source": FILES[source]},
                          st.folder.manifest(), {s: st.folder.stats(s) for s in ("02_evolve", "04_difficulty", "05_diversity")})
        (out_dir / "README.md").write_text(card, encoding="utf-8")
    write_json(st.out("train_log"), {"base_model": base_model, "base": base, "source": FILES[source],
                                     "config": cfg.as_dict() | {"seed": st.run["seed"]}, "variants": logs})
    stats = {"base_model": base_model, "base": base, "source": FILES[source],
             "saved_as": FT.saved_as(cfg.method, cfg.save_as),
             "variants": {v: {k: x for k, x in s.items() if k not in ("log", "base_model", "saved_as")}
                          | {"megabytes": folder_megabytes(st.run_dir / s["model_dir"])} for v, s in logs.items()}}
    st.write_stats(stats)
    return Result(stats, logs)


def folder_megabytes(folder: Path) -> float:
    """What a saved model costs on disk: the sum of its files' sizes, in MB (10^6 bytes)."""
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 2)


def loss_figure(logs: dict) -> go.Figure:
    """Training loss per step, one line per variant."""
    fig = go.Figure()
    for variant, s in logs.items():
        fig.add_scatter(x=[e["step"] for e in s["log"]], y=[e["loss"] for e in s["log"]], mode="lines+markers",
                        name=variant)
    fig.update_layout(title="Training loss per step", xaxis_title="step", yaxis_title="loss")
    return fig
