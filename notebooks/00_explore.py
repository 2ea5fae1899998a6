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
# # 00 · Explore a run
#
# Interactive only (the pipeline never runs this notebook). Pick a run (the latest is
# selected) and a seed — each seed's entry counts its attempts kept, eliminated and failed,
# and its curation marks — to see its evolution tree: each attempt with its round, operation,
# status, elimination reasons and the judge's information-gain verdict (hover for what it means); the instruction as a word diff against its
# parent; the answer folded away. Tick statuses and operations to filter; narrow the rounds.
#
# To curate, pick a record under the tree: the buttons and the note show its saved mark
# ("no mark" when it has none; saving "no mark" clears one). Mark it accepted or rejected
# with a note and save: marks are appended to `<run>/curation.jsonl` (kept across kernel restarts; the last
# mark per record wins) and `workbench export` leaves rejected rows out.

# %% tags=["parameters"]
run_dir = ""  # run folder to open first; empty means the latest run (the picker lists every run)
statuses = ["kept", "eliminated", "failed"]  # statuses ticked at start, from kept, eliminated, failed
ops = []  # operations ticked at start; empty means every operation in the run

# %%
from workbench.explore import explore as EX

ui = EX.browser(run_dir, EX.Config.from_namespace(globals()))
ui.show()

# %% [markdown]
# ## Curation so far
# Counts of the current marks in the run picked above (re-run this cell after marking);
# `marks_for_unknown_ids` counts marks whose record is not in this run.

# %%
EX.curation_counts(ui.run)

# %% [markdown]
# ## Eliminations per rule and op
# A rule that dominates one operation points at a template or a threshold to look at.

# %%
EX.eliminations_by_rule(ui.run).show()

# %% [markdown]
# ## Eliminations per round
# Shares of each round's attempts: a rising share means later rounds strain the evolver.

# %%
EX.eliminations_by_round(ui.run).show()

# %% [markdown]
# ## Attempts per round and status
# Kept attempts should not thin out to nothing by the last round.

# %%
EX.status_by_round(ui.run)
