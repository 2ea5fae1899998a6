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
# # 08 · Compare runs
#
# Interactive (the pipeline never runs this notebook). Load several run folders — the runs
# of a sweep, or any list — and plot them side by side: mean difficulty per round,
# elimination rate per rule, diversity, and win rates per difficulty bucket. Each run is
# labelled by the params that differ between the runs.
#
# Paths are read from the project folder, wherever JupyterLab started the kernel; with
# nothing set, the latest runs under `outputs/runs` are compared.

# %% tags=["parameters"]
run_dir = ""  # unused here; every notebook takes it so the runner can call any of them
sweep_dir = ""  # a sweep folder (outputs/sweeps/...); its runs are compared
run_dirs = []  # or an explicit list of run folders; empty with no sweep means the latest runs
latest = 4  # how many of the latest runs to compare when no sweep or list is given [>0]
outputs = ""  # outputs folder that sweep.json paths are relative to; empty means the project's outputs/

# %%
from workbench.explore import compare as CMP

runs = CMP.load(CMP.Config.from_namespace(globals()))  # prints what it compares, or why nothing
runs.table()

# %% [markdown]
# ## The paper's claims, run by run
# Each stage states its claim as supported, not supported or undetermined, with the interval
# behind it. An unvalidated difficulty judge or an inconsistent pairwise judge makes its claim
# undetermined: the numbers exist, but they do not carry the claim.

# %%
import pandas as pd

pd.set_option("display.max_colwidth", None)  # the evidence column is read whole, not cut at 50 characters
runs.claims()

# %% [markdown]
# ## Difficulty per round
# Look for lines that rise with the round; a legend entry marked "judge not validated" is a
# number, not evidence.

# %%
runs.difficulty_by_round().show()

# %% [markdown]
# ## Eliminations per rule
# A rule that throws out far more in one run than in another points at that run's settings.

# %%
runs.elimination_rates().show()

# %% [markdown]
# ## Diversity at equal n
# Evolved rows should sit above the seeds; overlapping intervals mean no difference shown.

# %%
runs.diversity_metrics().show()

# %% [markdown]
# ## Win rate of the evolved-data model over the seeds-only model
# Bars above 50% with intervals clear of it support the paper; an undetermined run draws no bar.

# %%
runs.win_rates().show()

# %% [markdown]
# ## Difficulty of each run's data, at equal n
# The paper's figure: the share of each run's rows at every judge score 1–10, with 95% Wilson
# intervals. Every run is drawn at the same n — a seeded sample down to the smallest run's
# count of scored rows (the title says which n) — since shares from runs of different sizes
# carry different noise. Judge scores may be expected values: they are binned by rounding half
# up (6.5 counts as 7). To put human-written sets beside the evolved data, run each as its own
# run with `evolve.rounds: 0` (e.g. `--set evolve.rounds=0 --set seed.source=alpaca.json`): its
# seeds are its dataset, and 04_difficulty scores them like any other. Every legend entry says
# whether its judge was validated against human labels; one that was not is a number, not
# evidence. The table gives each run's n, mean score and share of hard rows (8 and above).

# %%
runs.difficulty_distributions().show()
runs.difficulty_table()

# %% [markdown]
# ## Human ratings beside the judge
# Where people rated a run's 07_evaluate answers blind (`notebooks/09_human_eval.py`), each
# run's table puts the humans' win / tie / loss per pair (one outcome per item, the majority of
# its raters) beside the judge's on the same items, with 95% Wilson intervals; then how often the
# judge agrees with the humans (with ties, and without), and how far the raters agree with each
# other (Krippendorff's alpha, ordinal). The judge's win rate above carries as far as it agrees
# with the humans here; an alpha near 0 means the raters disagree among themselves, and then the
# human outcome is weak evidence too. A run nobody has rated yet says so.

# %%
from workbench.explore import agreement as AG

for d, label in zip(runs.dirs, runs.labels):
    print(f"{label} ({d.name})")
    display(AG.side_by_side(d))  # noqa: F821
    AG.side_by_side_figure(d).show()
