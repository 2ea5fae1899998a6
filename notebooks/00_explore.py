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
# # 00 · Explore a run
#
# Interactive only (the pipeline never runs this notebook). Pick a seed to see its
# evolution tree: each attempt with its round, operation, status, elimination reasons and
# judge verdict; the instruction as a word diff against its parent; the answer folded away.
# Filter by operation, status and round. Below: what the elimination step threw out.
#
# To curate, pick a record under the tree, mark it accepted or rejected with a note and
# save: marks are appended to `<run>/curation.jsonl` (kept across kernel restarts; the last
# mark per record wins) and `workbench export` leaves rejected rows out.

# %% tags=["parameters"]
run_dir = ""  # run folder to explore; empty means the latest run

# %%
from workbench import plots
from workbench.explore import browser, load_records, load_stats
from workbench.stage import latest_run

run = run_dir or str(latest_run())
print("run:", run)
browser(run)

# %% [markdown]
# ## Curation so far
# Counts of the current marks (re-run this cell after marking).

# %%
from workbench.curation import curation_stats, load_marks

curation_stats(load_marks(run), load_records(run))

# %% [markdown]
# ## Eliminations per rule, op and round

# %%
stats = load_stats(run, "02_evolve")
if stats.get("by_rule_op_round"):
    plots.eliminations_by_rule(stats["by_rule_op_round"]).show()
    plots.eliminations_by_round(stats["by_rule_op_round"], stats["attempts_by_op_round"]).show()
else:
    print("no 02_evolve stats in this run yet")

# %%
import pandas as pd

records = pd.DataFrame(load_records(run))
records.pivot_table(index="round", columns="status", values="id", aggfunc="count", fill_value=0)
