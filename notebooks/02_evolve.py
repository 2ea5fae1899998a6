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
# # 02 · Evolve
#
# The heart of Evol-Instruct. For `rounds` rounds, every member of the pool is rewritten by
# one operation — in-depth (`add_constraints`, `deepening`, `concretizing`,
# `increase_reasoning`, `complicate_input`) or in-breadth (`breadth`). Each round hands the
# operations out over the pool in the proportions of `op_weights`, the same on every rerun
# (a seeded shuffle), so even a small run tries every operation. The new instruction is answered, and
# the elimination rules throw out failed evolutions. Survivors replace their parent in the
# pool; a failed evolution leaves its parent to be evolved again next round. `rules` lists
# the elimination rules applied; each eliminated attempt records the names of those that fired.
#
# Every attempt is written to `records.jsonl` with its lineage and reasons;
# `dataset.jsonl` holds the seeds plus every kept evolution, shuffled with the run seed.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
rounds = 4  # evolution rounds M (the paper used 4) [min 0]
templates = "general"  # template pack: general (the paper's six ops), code (WizardCoder-style), math (WizardMath-style upward and downward), quality (answers rewritten, tasks kept), or a folder of one's own (workbench/core/packs.py)
ops = []  # operations that may be chosen, from the pack; empty means every op of the pack
op_weights = []  # relative weight of each op, same order as ops (or as the pack lists them); empty means equal
formats = ["JSON", "XML", "SQL", "CSV table", "Python code", "HTML", "LaTeX", "shell command"]  # data formats an op that adds input (complicate_input) draws from
model = ""  # evolver model; empty means run.model
answer_model = ""  # model that answers evolved instructions; empty means the evolver
judge_model = ""  # model for the Equal / Not Equal information-gain check; empty means the evolver
temperature = 0.7  # evolver sampling temperature; 0 is greedy [0..2]
top_p = 0.95  # evolver nucleus sampling [0..1]
max_new_tokens = 160  # cap on an evolved instruction, in tokens [>0]
answer_temperature = 0.0  # answer sampling temperature; 0 is greedy [0..2]
answer_max_new_tokens = 192  # cap on an answer, in tokens [>0]
answer_top_p = 1.0  # answer nucleus sampling, used when answer_temperature is above 0 [0..1]
answer_seeds = True  # answer seeds that came without a response
reanswer_seeds = False  # answer every seed with the answer model, the source file's answer kept as source_response (the paper re-answered its seeds with its teacher)
rules = ["empty", "too_long", "unchanged", "prompt_leak", "input_lost", "empty_response", "sorry_short_response", "degenerate_response", "no_information_gain"]  # elimination rules applied (workbench rules lists them); a failed model call is always recorded as backend_error
judge_unparsable = "keep"  # what to do when the judge's verdict cannot be read {keep|eliminate}
judge_min_mass = 0.5  # decide Equal / Not Equal from token probabilities when the two whole replies hold this much, else parse the text [0..1]
sorry_max_words = 80  # the sorry rule applies below this many words [>0]
max_instruction_chars = 2000  # the too_long rule eliminates evolved instructions with more characters than this [>0]
max_failure_rate = 0.2  # fail the stage when more than this share of model calls failed [0..1]

# %%
from workbench.core import plots
from workbench.stages.base import open_stage
from workbench.stages.evolve.stage import Config, run

st = open_stage(run_dir, "02_evolve")
res = run(st, Config.from_namespace(globals()))
{k: res.stats[k] for k in ("seeds", "attempts", "status", "kept_rate", "reasons", "judge_verdict_sources", "dataset")}

# %% [markdown]
# ## What the elimination step threw out
# A small model fails often; these numbers say how often, and why. Look for one rule taking
# most of an op (a template the model cannot follow) and for rounds where the kept share
# collapses (the pool has become too long or odd to rewrite).

# %%
st.figure(plots.eliminations_by_rule(res.stats["by_rule_op_round"]), "eliminations_by_rule")
st.figure(plots.eliminations_by_round(res.stats["by_rule_op_round"], res.stats["attempts_by_op_round"]), "eliminations_by_round")

# %% [markdown]
# ## The attempts themselves
# Kept and eliminated counts per op, then the first attempts with their reasons: read a few
# eliminated ones to check that the rule that fired was right.

# %%
per_op, first_attempts = res.attempts_table(20)
display(per_op)  # noqa: F821
display(first_attempts)  # noqa: F821
