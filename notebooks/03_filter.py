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
# # 03 · Filter
#
# Post-hoc cleaning of the evolved dataset: exact and near duplicates (character 5-gram
# MinHash), length bounds, and decontamination against an evaluation set (word n-gram
# overlap). Each dropped row is written to `dropped.jsonl` with its reason; the earliest
# member of a duplicate group (seeds first) is the one kept.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
dedup_exact = True  # drop exact duplicates (case and spacing ignored)
near_dup = True  # drop near duplicates by character 5-gram Jaccard
near_dup_threshold = 0.8  # Jaccard at or above which two rows are near duplicates [0..1]
min_instruction_words = 3  # shorter instructions are dropped [min 0]
max_instruction_words = 400  # longer instructions are dropped [>0]
min_response_words = 1  # shorter answers are dropped [min 0]
max_response_words = 2000  # longer answers are dropped [>0]
decontaminate = True  # drop rows sharing a word n-gram with the eval set
decontam_ngram = 8  # n of the word n-grams compared [>0]
eval_set = "bundled"  # eval set for decontamination: "bundled" or a .jsonl path with an instruction field

# %%
import json

from workbench import plots
from workbench.data import data_path
from workbench.filters import FilterConfig, drop_stats, filter_dataset
from workbench.io import read_jsonl, write_jsonl
from workbench.records import full_text
from workbench.stage import open_stage

st = open_stage(run_dir, "03_filter")
rows = st.read_input("02_evolve", "dataset.jsonl")
eval_texts = []
if decontaminate:
    eval_texts = [full_text(r) for r in read_jsonl(data_path(eval_set, "eval.jsonl"))]
cfg = FilterConfig(dedup_exact, near_dup, near_dup_threshold, min_instruction_words, max_instruction_words,
                   min_response_words, max_response_words, decontaminate, decontam_ngram)
kept, dropped = filter_dataset(rows, cfg, eval_texts)
write_jsonl(st.path("dataset.jsonl"), kept)
write_jsonl(st.path("dropped.jsonl"), dropped)
stats = drop_stats(len(rows), kept, dropped) | {"eval_items": len(eval_texts)}
st.write_stats(stats)
stats

# %% [markdown]
# ## Drops per reason, and what the evolve stage eliminated before

# %%
fig = plots.eliminations_by_rule(stats["by_reason_op_round"], "Rows dropped by the post-hoc filters, per reason and op")
plots.save(fig, st.figures_dir() / "drops_by_reason.html")
fig.show()
rows_by_op_round = {}
for r in rows:
    c = rows_by_op_round.setdefault(r["op"] or "seed", {})
    c[r["round"]] = c.get(r["round"], 0) + 1
fig = plots.eliminations_by_round(stats["by_reason_op_round"], rows_by_op_round, "Share of rows dropped, per reason and round")
plots.save(fig, st.figures_dir() / "drops_by_round.html")
fig.show()
evolve_stats = json.loads(st.input_path("02_evolve", "stats.json").read_text())
fig = plots.eliminations_by_rule(evolve_stats["by_rule_op_round"], "02_evolve eliminations per rule and op")
plots.save(fig, st.figures_dir() / "eliminations_by_rule.html")
fig.show()
