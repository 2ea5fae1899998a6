# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Fine-tune
#
# The paper's result is a comparison: a model tuned on evolved data against one tuned on
# the seeds alone. This stage trains each **variant** with TRL's `SFTTrainer` — full
# fine-tuning or LoRA — on the same base model: `seeds` (round 0 only, the baseline),
# `evolved` (seeds plus every kept evolution, shuffled), optionally `selected` (the
# Deita-style selection). By default every variant gets the same number of examples.
# The same params run a 135M model on a CPU or a 7B model on a GPU.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
base_model = ""  # model to tune (embedded or hf:...); empty means run.model
variants = ["seeds", "evolved"]  # datasets to train on, from seeds, evolved, selected
equal_size = True  # cut every variant to the size of the smallest, for a fair comparison
method = "full"  # full fine-tuning or LoRA adapters merged after training {full|lora}
epochs = 1.0  # passes over each variant's data [>0]
max_steps = 0  # if above 0, train exactly this many steps instead of epochs [min 0]
learning_rate = 5e-05  # peak learning rate [>0]
batch_size = 4  # examples per step [>0]
grad_accum = 1  # gradient accumulation steps [>0]
max_length = 512  # token cap per example [>0]
lora_r = 8  # LoRA rank, when method is lora [>0]

# %%
import json

import plotly.graph_objects as go

from workbench import finetune as FT
from workbench import plots
from workbench.io import read_jsonl, write_json
from workbench.stage import open_stage

st = open_stage(run_dir, "06_finetune")
dataset, source = st.read_first()
sel_path = st.run_dir / "05_diversity" / "selection.jsonl"
selection = read_jsonl(sel_path) if sel_path.is_file() else None
data = FT.variant_rows(dataset, selection, variants, equal_size, st.run["seed"])
base = FT.base_model_path(base_model or st.run["model"])
cfg = FT.TrainConfig(method, epochs, max_steps, learning_rate, batch_size, grad_accum, max_length, lora_r, st.run["seed"])
{v: len(rows) for v, rows in data.items()}

# %% [markdown]
# ## Train each variant

# %%
logs = {}
for variant, rows in data.items():
    if not rows:
        raise ValueError(f"variant {variant!r} has no rows with a response in {source}")
    print(f"training {variant} on {len(rows)} examples from {base}")
    logs[variant] = FT.train_variant(rows, base, st.path("model", variant), cfg)
write_json(st.path("train_log.json"), {"base": base, "source": source, "config": cfg.__dict__, "variants": logs})
st.write_stats({"base": base, "source": source, "variants": {v: {k: x for k, x in s.items() if k != "log"} for v, s in logs.items()}})

# %% [markdown]
# ## Loss curves

# %%
fig = go.Figure()
for variant, s in logs.items():
    fig.add_scatter(x=[e["step"] for e in s["log"]], y=[e["loss"] for e in s["log"]], mode="lines+markers", name=variant)
fig.update_layout(title="Training loss per step", xaxis_title="step", yaxis_title="loss")
plots.save(fig, st.figures_dir() / "loss.html")
fig.show()
print(json.dumps({v: {"steps": s["steps"], "train_loss": s["train_loss"]} for v, s in logs.items()}, indent=1))
