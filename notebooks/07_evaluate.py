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
import random

from workbench import checks as CK
from workbench import eval_sets, plots
from workbench import evaluate as EV
from workbench import evaluate_stage as ES
from workbench.io import write_json, write_jsonl
from workbench.stage import open_stage

st = open_stage(run_dir, "07_evaluate")
items, items_report = eval_sets.load_eval_items(eval_set, instruction_field=instruction_field, input_field=input_field, skill_field=skill_field, difficulty_field=difficulty_field, checks_field=checks_field, id_field=id_field, checks_format=checks_format, read_checks=verifiable)
print(items_report.summary())
if verifiable:
    CK.validate_specs([it for it in items if it["checks"]])
# a subset keeps every difficulty bucket (the paper's high-difficulty analysis needs hard items),
# with skills mixed by a shuffle seeded by the run seed
random.Random(st.run["seed"]).shuffle(items)
for it in items:
    it["bucket"] = EV.bucket(it["difficulty"])
items = st.capped(items, by="bucket", limit=n)
models = ES.resolve_candidates(st, candidates)
models

# %% [markdown]
# ## Answers from every candidate (cached like every model call)
# A failed call is recorded as an error with its reason; it is never judged as an empty answer.

# %%
answers, answer_errors = ES.answer_all(st, items, models, answer_max_new_tokens)
judge = st.generator(judge_model)
{cand: len(errs) for cand, errs in answer_errors.items()}

# %% [markdown]
# ## Pairwise in both orders, single scores, verifiable checks
# Per item: **win / loss** when both orders agree, **tie** when both say tie, **undetermined**
# when they disagree or a verdict is unreadable, **error** when a call failed. The headline
# win rate (with a Wilson 95 % interval and a sign test) is replaced by `undetermined` when
# the judge is uninformative: order consistency below 0.5, or most items undetermined.

# %%
results, samples = ES.evaluate(st, items, answers, pairs, judge, judge_mode, min_mass, single_scoring, verifiable)
results |= {"eval_set": items_report.stats(), "models": models, "answer_errors": {c: {str(i): e for i, e in errs.items()} for c, errs in answer_errors.items()}}
write_json(st.path("results.json"), results)
write_jsonl(st.path("samples.jsonl"), samples)
st.write_stats({k: results[k] for k in ("items", "eval_set", "judge", "pairs", "single", "verifiable", "claims")})
results["claims"]

# %% [markdown]
# ## Figures
# Outcome shares per difficulty bucket and skill: a comparison marked undetermined says so
# in its title. Look for whether wins grow from easy to hard items.

# %%
for name, res in results["pairs"].items():
    for key, what in (("by_bucket", "difficulty bucket"), ("by_skill", "skill")):
        fig = plots.outcome_shares(res[key], f"{name.replace('_vs_', ' vs ')}: outcomes by {what}", res["status"])
        plots.save(fig, st.figures_dir() / f"{name}_{key}.html")
        fig.show()
fig = plots.verifiable_accuracy(results["verifiable"])
if fig is not None:
    plots.save(fig, st.figures_dir() / "verifiable.html")
    fig.show()
