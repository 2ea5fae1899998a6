# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version,-jupytext.text_representation.format_version
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (workbench)
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
# The same params run a 135M model on a CPU or a 7B model on a GPU; `launcher: accelerate`
# trains in `num_processes` processes (one per GPU), their output in the stage's `launch/` folder.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
base_model = ""  # model to tune (embedded or hf:...); empty means run.model
variants = ["seeds", "evolved"]  # datasets to train on, from seeds, evolved, selected
equal_size = True  # cut every variant to the size of the smallest, for a fair comparison
method = "full"  # full fine-tuning or LoRA adapters {full|lora}
epochs = 1.0  # passes over each variant's data [>0]
max_steps = 0  # if above 0, train exactly this many steps instead of epochs [min 0]
learning_rate = 5e-05  # peak learning rate [>0]
batch_size = 4  # examples per step [>0]
grad_accum = 1  # gradient accumulation steps: the effective batch is batch_size x grad_accum (x processes) [>0]
lr_scheduler = "linear"  # learning-rate schedule after warmup {linear|cosine|constant|constant_with_warmup}
warmup_ratio = 0.0  # share of the steps that warm the learning rate up from 0 [0..0.5]
weight_decay = 0.0  # AdamW weight decay [min 0]
max_length = 512  # token cap per example [>0]
lora_r = 8  # LoRA rank, when method is lora [>0]
lora_alpha = 0  # LoRA scaling: updates are scaled by lora_alpha / lora_r; 0 means 2 x lora_r [min 0]
lora_dropout = 0.0  # dropout on the LoRA path during training [0..0.9]
lora_targets = "all-linear"  # modules LoRA adapts, when method is lora: all-linear (every linear layer), or comma-separated names, e.g. q_proj,k_proj,v_proj,o_proj (attention only: fewer adapters, faster)
load_in_4bit = False  # QLoRA: load the base in 4-bit NF4 and train LoRA adapters on it (needs method lora, bitsandbytes and a CUDA GPU)
gradient_checkpointing = True  # recompute activations in the backward pass: saves memory (large models on a GPU need it) but costs time; same losses either way
bf16 = False  # mixed precision: matrix products in bfloat16 (autocast), weights and optimizer state in float32; faster on GPUs and on CPUs with AVX512-BF16/AMX, losses differ slightly
save_as = "auto"  # how each tuned model is saved: the LoRA adapter alone (MBs), the whole model in bfloat16 (half size; rounding can undo small updates) or float32 (as trained); auto: adapter for lora, float32 for full {auto|adapter|bfloat16|float32}
sft_args = {}  # more TRL SFTConfig settings by SFTConfig's own names, e.g. {"optim": "adamw_torch_fused", "max_grad_norm": 0.3}; checked against the installed TRL before work starts
launcher = "in-process"  # where training runs: in this notebook's process, or in processes started by accelerate launch (one per GPU; DDP, FSDP or DeepSpeed) {in-process|accelerate}
num_processes = 2  # training processes when launcher is accelerate, usually one per GPU: the effective batch is num_processes x batch_size x grad_accum [>0]
accelerate_config = ""  # accelerate config YAML for launcher accelerate (DDP, FSDP or DeepSpeed settings as accelerate config writes them); empty means plain data parallel

# %%
from workbench.stages.base import open_stage
from workbench.stages.finetune.stage import Config, loss_figure, run

st = open_stage(run_dir, "06_finetune")
res = run(st, Config.from_namespace(globals()))
res.stats

# %% [markdown]
# ## Loss curves
# Each variant's training loss per step. Look for a loss that falls and then flattens; a
# variant whose loss rises or jumps has a learning rate too high for its data. Variants
# start from the same base, so a much lower starting loss means easier (or more familiar) data.

# %%
st.figure(loss_figure(res.logs), "loss")
