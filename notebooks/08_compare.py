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
# # 08 · Compare runs
#
# Interactive (the pipeline never runs this notebook). Load several run folders — the runs
# of a sweep, or any list — and plot them side by side: mean difficulty per round,
# elimination rate per rule, diversity, and win rates per difficulty bucket. Each run is
# labelled by the params that differ between the runs.

# %% tags=["parameters"]
run_dir = ""  # unused here; every notebook takes it so the runner can call any of them
sweep_dir = ""  # a sweep folder (outputs/sweeps/...); its runs are compared
run_dirs = []  # or an explicit list of run folders; empty with no sweep means the 4 latest runs
outputs = ""  # outputs folder that sweep.json paths are relative to; empty means the project's outputs/

# %%
from pathlib import Path

import pandas as pd

from workbench import compare as C
from workbench.stage import OUTPUTS

outputs = outputs or OUTPUTS  # the project's folder, wherever the kernel was started
if sweep_dir:
    dirs = C.runs_of_sweep(sweep_dir, outputs)
elif run_dirs:
    dirs = [Path(d) for d in run_dirs]
else:
    dirs = sorted(p for p in (Path(outputs) / "runs").glob("*") if (p / "manifest.json").is_file())[-4:]
summaries = [C.summarise_run(d) for d in dirs]
labels = C.legend_labels(summaries)
print(f"comparing {len(dirs)} runs from {outputs}" if dirs else f"no runs found under {outputs}")
pd.DataFrame(C.table(summaries, labels))

# %% [markdown]
# ## The paper's claims, run by run
# Each stage states its claim as supported, not supported or undetermined, with the interval
# behind it. An unvalidated difficulty judge or an inconsistent pairwise judge makes its claim
# undetermined: the numbers exist, but they do not carry the claim.

# %%
pd.DataFrame(C.claims(summaries, labels))

# %%
C.difficulty_by_round(summaries, labels).show()
C.elimination_rates(summaries, labels).show()

# %%
C.diversity_metrics(summaries, labels).show()
C.win_rates(summaries, labels).show()
