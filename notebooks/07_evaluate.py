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
# # 07 · Evaluate
#
# Every candidate — the base model, each tuned variant, or any backend — answers the held-out
# eval set. A judge compares candidates pairwise **in both orders** (a win counts only when
# both orders agree), and we break the result down by skill and by difficulty bucket: the
# paper's headline was that evolved data helps most on hard instructions. We also report
# how often the two orders disagree (position bias), a single-answer 1–10 score, and
# verifiable instruction checks that need no judge at all.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
eval_set = "bundled"  # "bundled" (written for this project), a .jsonl/.json/.csv file or a saved datasets folder
instruction_field = "instruction"  # eval field holding the instruction (dotted path allowed; IFEval: prompt)
input_field = "input"  # eval field holding an optional input; "" for none
skill_field = "skill"  # eval field holding the skill label; "" for none
difficulty_field = "difficulty"  # eval field holding the 1-10 difficulty label; "" for none
checks_field = "checks"  # eval field holding verifiable checks in the workbench's format
id_field = "id"  # eval field holding the file's own id (IFEval: key); without it, items are known by line number
checks_format = "auto"  # checks as the workbench writes them, IFEval's instruction_id_list + kwargs, or auto per row {auto|workbench|ifeval}
n = 0  # evaluate n items, taken in turn from each difficulty bucket; 0 means all [min 0]
candidates = ["seeds", "evolved"]  # tuned variants from 06_finetune, "base", or model strings
pairs = [["evolved", "seeds"]]  # pairwise comparisons, first against second
judge_model = ""  # judge for pairwise and single scores; empty means run.model
judge_mode = "auto"  # verdicts from token probabilities where available, or parsed text {auto|probs|parsed}
min_mass = 0.5  # a verdict or rating needs at least this probability on its whole replies, else it is undetermined [0..1]
answer_max_new_tokens = 256  # cap on each candidate's answer [>0]
single_scoring = True  # also score each answer alone on 1-10
verifiable = True  # run the verifiable instruction checks on items that declare them

# %%
from workbench.stages.base import open_stage
from workbench.stages.evaluate.stage import Config, figures, run

st = open_stage(run_dir, "07_evaluate")
res = run(st, Config.from_namespace(globals()))
print(res.eval_set_summary)
{"models": res.results["models"], "failed answers": {c: len(e) for c, e in res.results["answer_errors"].items()}}

# %% [markdown]
# ## Claims
# Per item: **win / loss** when both orders agree, **tie** when both say tie, **undetermined**
# when they disagree or a verdict is unreadable, **error** when a call failed (a failed answer
# is never judged as an empty one). The headline win rate (with a Wilson 95 % interval and a
# sign test) is replaced by `undetermined` when the judge is uninformative: order consistency
# below 0.5, or most items undetermined.

# %%
res.results["claims"]

# %% [markdown]
# ## Figures
# Outcome shares per difficulty bucket and skill for each comparison, then the share of
# verifiable checks each candidate passed. A comparison marked undetermined says so in its
# title. Look for whether wins grow from easy to hard items: the paper's headline.

# %%
saved = st.figures(figures(res.results))
