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
# # 03 · Filter
#
# Post-hoc cleaning of the evolved dataset: length bounds in words, decontamination against
# an evaluation set (word n-gram overlap), exact duplicates and near duplicates (character
# 5-gram MinHash, across lineages only). `rules` lists the filter rules applied; each dropped
# row is written to `dropped.jsonl` with the rule that dropped it; the earliest member of a
# duplicate group (seeds first) is the one kept.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
rules = ["instruction_too_few_words", "instruction_too_many_words", "response_too_few_words", "response_too_many_words", "contaminated", "exact_duplicate", "near_duplicate"]  # filter rules applied, in this order of precedence (workbench rules lists them)
near_dup_threshold = 0.8  # Jaccard of character 5-grams at or above which two rows are near duplicates [0..1]
min_instruction_words = 3  # instruction_too_few_words drops shorter instructions (with input) [min 0]
max_instruction_words = 400  # instruction_too_many_words drops longer instructions (with input) [>0]
min_response_words = 1  # response_too_few_words drops shorter answers [min 0]
max_response_words = 2000  # response_too_many_words drops longer answers [>0]
decontam_ngram = 8  # n of the word n-grams the contaminated rule compares [>0]
eval_set = "bundled"  # eval set for decontamination: "bundled" or a .jsonl path with an instruction field

# %%
from workbench.core import plots
from workbench.stages.base import open_stage
from workbench.stages.filter.stage import Config, run

st = open_stage(run_dir, "03_filter")
res = run(st, Config.from_namespace(globals()))
res.stats

# %% [markdown]
# ## Drops per reason, and what the evolve stage eliminated before
# Duplicates concentrated in late rounds mean the evolver converges on the same rewrites;
# `contaminated` rows are eval items leaking into training data, worth reading one by one.

# %%
st.figure(plots.eliminations_by_rule(res.stats["by_reason_op_round"], "Rows dropped by the post-hoc filters, per reason and op"), "drops_by_reason")
st.figure(plots.eliminations_by_round(res.stats["by_reason_op_round"], res.stats["rows_by_op_round"],
                                      "Share of rows dropped, per reason and round"), "drops_by_round")
st.figure(plots.eliminations_by_rule(res.evolve_stats.get("by_rule_op_round", {}), "02_evolve eliminations per rule and op"), "eliminations_by_rule")
