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
# # 04 · Difficulty
#
# The paper's claim is that evolution makes instructions harder round by round. This stage
# scores every row of the dataset three ways: an LLM judge's 1–10 rating (the expected value
# over the rating tokens where the model exposes probabilities), IFD — instruction-following
# difficulty, answer loss with the instruction over answer loss without it — and cheap text
# features. A score that could not be computed is null with a reason, never a default.
# Finally each score is checked against human difficulty labels, next to a word-count
# baseline: a judge that does no better than counting words is not telling you much.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
judge_model = ""  # difficulty judge; empty means run.model
judge_mode = "auto"  # expected rating from token probabilities, parsed integer, or auto (expected where available) {auto|expected|parsed}
min_mass = 0.1  # below this probability that the whole reply is a rating 1..10, the judge score is null [0..1]
ifd = True  # compute IFD with a local model
ifd_model = ""  # local model for IFD (embedded or hf:...); empty means run.model
ifd_max_length = 1024  # token cap on instruction plus answer for IFD [>0]
validate = True  # report Spearman against a labelled set
labelled_set = "bundled"  # labelled set: "bundled" (the eval set's difficulty labels) or a .jsonl path
label_field = "difficulty"  # labelled-set field holding the human difficulty label (a number; dotted path allowed)
labelled_instruction_field = "instruction"  # labelled-set field holding the instruction (dotted path allowed)
labelled_input_field = "input"  # labelled-set field holding the optional input; "" for none
labelled_skill_field = "skill"  # labelled-set field holding the skill; "" for none
labelled_id_field = "id"  # labelled-set field holding the file's own id; without it, rows are known by line number
validation_limit = 0  # score this many labelled items, spread over the labels; 0 means all [min 0]

# %%
from workbench.core import plots
from workbench.stages.base import open_stage
from workbench.stages.difficulty.stage import Config, figure_title, run

st = open_stage(run_dir, "04_difficulty")
res = run(st, Config.from_namespace(globals()))
print(res.labelled_summary)
verdict = res.stats["judge_verdict"]
{k: res.stats[k] for k in ("source", "rows", "judge_verdict", "mean_difficulty_by_round", "claim", "llm")}

# %% [markdown]
# ## Is the judge validated against human labels?
# Spearman of the judge's score against the labels, with a bootstrap 95 % interval, beside
# the same statistic for plain word count on the same items. The judge is **validated** only
# when its whole interval lies above the word-count baseline; every figure below says so when
# it is not. Per-item scores are in `validation.jsonl`.

# %%
res.validation

# %% [markdown]
# ## Does difficulty rise round by round?
# Shares per round (rounds differ in size): look for the mass moving right in later rounds.
# The claim above is `undetermined` whenever the judge is not validated: its numbers are
# shown, not trusted.

# %%
st.figure(plots.share_histogram_by_round(res.rows, "difficulty", figure_title("Judge difficulty per round", verdict)), "difficulty_hist_by_round")

# %% [markdown]
# Means with 95 % intervals: a rise counts only where the intervals of early and late rounds
# do not overlap.

# %%
st.figure(plots.mean_with_ci(res.stats["difficulty"]["by_round"], figure_title("Mean judge difficulty per round (95% CI)", verdict), "round", "difficulty"), "difficulty_mean_by_round")

# %% [markdown]
# Per operation: which rewrites the judge finds hardest. An operation far below the others
# may be producing rewrites that are longer but not harder.

# %%
st.figure(plots.mean_with_ci(res.stats["difficulty"]["by_op"], figure_title("Mean judge difficulty per operation (95% CI)", verdict), "operation", "difficulty", lines=False), "difficulty_by_op")
