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
# Every candidate — the base model, each tuned variant, any backend, or another model's
# answers read from a file (`answers:<path>`) — answers the held-out eval set, turn by turn
# where an item has several. A judge compares candidates pairwise **in both orders** (a win
# counts only when both orders agree), and we break the result down by skill, difficulty
# bucket and turn: the paper's headline was that evolved data helps most on hard
# instructions. The judge protocol is a param: a bare verdict, a rationale then a marked
# verdict, or the paper's own (Vicuna's) pairwise scores, which give each candidate's
# **capacity** as a share of a reference model's. We also report answer lengths with a
# length-controlled win rate, a single-answer 1–10 grade, and verifiable instruction checks
# that need no judge at all. Blind human ratings of the same answers: 09_human_eval.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
eval_set = "bundled"  # "bundled" (written for this project), a .jsonl/.json/.csv file or a saved datasets folder
instruction_field = "instruction"  # eval field holding the instruction (dotted path allowed; IFEval: prompt)
input_field = "input"  # eval field holding an optional input; "" for none
skill_field = "skill"  # eval field holding the skill label; "" for none
difficulty_field = "difficulty"  # eval field holding the 1-10 difficulty label; "" for none
checks_field = "checks"  # eval field holding verifiable checks in the workbench's format
id_field = "id"  # eval field holding the file's own id (IFEval: key, MT-Bench: question_id); without it, items are known by line number
turns_field = ""  # eval field holding a list of user turns (MT-Bench: turns); "" for one turn per item
reference_field = ""  # eval field holding a reference answer, or one per turn (MT-Bench: reference); "" for none
checks_format = "auto"  # checks as the workbench writes them, IFEval's instruction_id_list + kwargs, or auto per row {auto|workbench|ifeval}
n = 0  # evaluate n items, taken in turn from each difficulty bucket; 0 means all [min 0]
candidates = ["seeds", "evolved"]  # tuned variants from 06_finetune, "base", model strings, or answers:<path> (a file of answers)
pairs = [["evolved", "seeds"]]  # pairwise comparisons, first against second
judge_model = ""  # judge for pairwise and single scores; empty means run.model
judge_mode = "auto"  # verdicts from token probabilities where available, or parsed text {auto|probs|parsed}
protocol = "verdict"  # judge protocol: bare verdict, rationale then marked verdict/grade, or the paper's pairwise scores {verdict|rationale|scores}
reference_candidate = ""  # capacity is each candidate's total score over this candidate's; "" for the last of the first pair
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
{"models": res.results["models"], "failed answers": {c: len(e) for c, e in res.results["answer_errors"].items()},
 "unanswered by their file": {c: u["count"] for c, u in res.results["unanswered"].items()}}

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
# ## Beside the strict win rate
# The multi-turn benchmark's tooling counts an order disagreement as a tie and a tie as half a
# win; the public leaderboard controls for length (a logistic fit of the preference on the
# length difference, read at equal length). When the raw and length-controlled rates fall on
# different sides of 0.5, the note says so: the raw result is carried by answer length. Each
# carries the pair's headline, `undetermined` where the judge cannot support a number.

# %%
import pandas as pd

pd.DataFrame([{"pair": p, "tie-half": th["headline"], "tie-half 95%": [th["lo"], th["hi"]],
        "length-controlled": lc["win_rate"], "LC 95%": [lc["lo"], lc["hi"]], "LC headline": lc["headline"],
        "note": lc["note"] or lc["reason"]}
       for p, th in res.results["tie_half"].items() for lc in [res.results["length_controlled"][p]]])

# %% [markdown]
# ## Answer lengths and capacity
# Words and tokens per candidate (one tokenizer for every run, so lengths compare across runs),
# then each candidate's score sum as a share of the reference's: the paper's "more than 90 % of
# ChatGPT's capacity on N skills", with the count whose interval clears 90 % beside it.

# %%
pd.DataFrame([{"candidate": c, **{k: v for k, v in ln["overall"].items()}} for c, ln in res.results["lengths"].items()])

# %%
cap = res.results["capacity"]
{"source": cap["source"], "reference": cap["reference"], "reason": cap.get("reason"),
 **{c: {"overall": r["overall"]["ratio"], "status": r["status"], "headline": r["headline"]["statement"]}
    for c, r in cap["candidates"].items()}}

# %% [markdown]
# ## Figures
# Outcome shares per difficulty bucket and skill for each comparison, each candidate's
# capacity per skill (skills sorted, 95 % intervals, a line at 90 %), then the share of
# verifiable checks each candidate passed. A figure marked undetermined says so in its title.
# Look for whether wins grow from easy to hard items: the paper's headline.

# %%
saved = st.figures(figures(res.results))
