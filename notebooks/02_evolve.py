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
# # 02 · Evolve
#
# The heart of Evol-Instruct. For `rounds` rounds, every member of the pool is rewritten by
# one operation — in-depth (`add_constraints`, `deepening`, `concretizing`,
# `increase_reasoning`, `complicate_input`) or in-breadth (`breadth`) — chosen
# deterministically from (run seed, record id, round). The new instruction is answered, and
# the elimination rules throw out failed evolutions. Survivors replace their parent in the
# pool; a failed evolution leaves its parent to be evolved again next round.
#
# Every attempt is written to `records.jsonl` with its lineage and reasons;
# `dataset.jsonl` holds the seeds plus every kept evolution, shuffled with the run seed.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
rounds = 4  # evolution rounds M (the paper used 4) [min 0]
ops = ["add_constraints", "deepening", "concretizing", "increase_reasoning", "complicate_input", "breadth"]  # operations that may be chosen
op_weights = [1, 1, 1, 1, 1, 1]  # relative weight of each op, same order as ops
formats = ["JSON", "XML", "SQL", "CSV table", "Python code", "HTML", "LaTeX", "shell command"]  # data formats complicate_input draws from
model = ""  # evolver model; empty means run.model
answer_model = ""  # model that answers evolved instructions; empty means the evolver
judge_model = ""  # model for the Equal / Not Equal information-gain check; empty means the evolver
temperature = 0.7  # evolver sampling temperature; 0 is greedy [0..2]
top_p = 0.95  # evolver nucleus sampling [0..1]
max_new_tokens = 160  # cap on an evolved instruction, in tokens [>0]
answer_temperature = 0.0  # answer sampling temperature; 0 is greedy [0..2]
answer_max_new_tokens = 192  # cap on an answer, in tokens [>0]
answer_seeds = True  # answer seeds that came without a response
rule_no_information_gain = True  # eliminate when the judge finds parent and evolution Equal
rule_sorry_short_response = True  # eliminate answers with "sorry" and fewer than sorry_max_words words
rule_degenerate_response = True  # eliminate answers made only of punctuation and stop words
rule_prompt_leak = True  # eliminate evolutions holding template phrases (section labels, rule wording) their parent did not
rule_empty = True  # eliminate empty instructions or answers
rule_unchanged = True  # eliminate instructions identical to their parent
rule_too_long = True  # eliminate instructions longer than max_instruction_chars
rule_input_lost = True  # eliminate complicate_input evolutions that dropped the parent's input
judge_unparsable = "keep"  # what to do when the judge's verdict cannot be read {keep|eliminate}
judge_min_mass = 0.5  # decide Equal / Not Equal from token probabilities when the two whole replies hold this much, else parse the text [0..1]
sorry_max_words = 80  # the sorry rule applies below this many words [>0]
max_instruction_chars = 2000  # longer evolved instructions are eliminated [>0]
max_failure_rate = 0.2  # fail the stage when more than this share of model calls failed [0..1]

# %%
import pandas as pd

from workbench import evolve as EV
from workbench import plots
from workbench.io import write_jsonl
from workbench.llm import GenParams
from workbench.stage import open_stage

st = open_stage(run_dir, "02_evolve")
seeds = st.read_input("01_seed", "records.jsonl")
if st.limit:
    seeds = seeds[: st.limit]
evolver = st.generator(model)
answerer = evolver if not answer_model else st.generator(answer_model)
judge = evolver if not judge_model else st.generator(judge_model)
seed = st.run["seed"]
cfg = EV.EvolveConfig(
    rounds=rounds, ops=ops, op_weights=op_weights, formats=formats, seed=seed,
    evolve_gen=GenParams(max_new_tokens, temperature, top_p, seed),
    answer_gen=GenParams(answer_max_new_tokens, answer_temperature, 1.0, seed),
    judge_gen=GenParams(8, 0.0, 1.0, seed),
    answer_seeds=answer_seeds,
    rules={"no_information_gain": rule_no_information_gain, "sorry_short_response": rule_sorry_short_response,
           "degenerate_response": rule_degenerate_response, "prompt_leak": rule_prompt_leak,
           "empty": rule_empty, "unchanged": rule_unchanged, "too_long": rule_too_long, "input_lost": rule_input_lost},
    judge_unparsable=judge_unparsable, judge_min_mass=judge_min_mass, sorry_max_words=sorry_max_words,
    max_instruction_chars=max_instruction_chars,
)
print(f"{len(seeds)} seeds, {rounds} rounds, evolver {evolver.model_id}")

# %% [markdown]
# ## Run the rounds
# Every call is cached: re-running this cell, or resuming a killed run, costs no model call
# that already succeeded.

# %%
result = EV.run_evolution(seeds, cfg, evolver, answerer, judge, log=print)
data = EV.dataset(result.records, seed)
write_jsonl(st.path("records.jsonl"), result.records)
write_jsonl(st.path("dataset.jsonl"), data)
stats = dict(result.stats, dataset=len(data))
st.write_stats(stats)
print(EV.unchecked_banner(stats))
{k: stats[k] for k in ("seeds", "attempts", "status", "kept_rate", "reasons", "judge_verdict_sources", "dataset")}

# %% [markdown]
# ## What the elimination step threw out
# A small model fails often; these numbers say how often, and why.

# %%
fig = plots.eliminations_by_rule(stats["by_rule_op_round"])
plots.save(fig, st.figures_dir() / "eliminations_by_rule.html")
fig.show()
fig = plots.eliminations_by_round(stats["by_rule_op_round"], stats["attempts_by_op_round"])
plots.save(fig, st.figures_dir() / "eliminations_by_round.html")
fig.show()

# %%
evolved = pd.DataFrame([r for r in result.records if r["round"] > 0])
if len(evolved):
    display(evolved.pivot_table(index="op", columns="status", values="id", aggfunc="count", fill_value=0))  # noqa: F821
    display(evolved[["round", "op", "status", "reasons", "instruction"]].head(20))  # noqa: F821

# %%
EV.check_failure_rate(result.records, max_failure_rate)
