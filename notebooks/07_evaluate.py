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
eval_set = "bundled"  # "bundled" (written for this project) or a .jsonl path
instruction_field = "instruction"  # eval field holding the instruction
input_field = "input"  # eval field holding an optional input
skill_field = "skill"  # eval field holding the skill label
difficulty_field = "difficulty"  # eval field holding the 1-10 difficulty label
checks_field = "checks"  # eval field holding verifiable checks
n = 0  # evaluate n items, taken in turn from each difficulty bucket; 0 means all [min 0]
candidates = ["seeds", "evolved"]  # tuned variants from 06_finetune, "base", or model strings
pairs = [["evolved", "seeds"]]  # pairwise comparisons, first against second
judge_model = ""  # judge for pairwise and single scores; empty means run.model
judge_mode = "auto"  # verdicts from token probabilities where available, or parsed text {auto|probs|parsed}
answer_max_new_tokens = 256  # cap on each candidate's answer [>0]
single_scoring = True  # also score each answer alone on 1-10
verifiable = True  # run the verifiable instruction checks on items that declare them

# %%
import random

from workbench import checks as CK
from workbench import difficulty as D
from workbench import evaluate as EV
from workbench import plots
from workbench.data import data_path
from workbench.io import read_jsonl, write_json, write_jsonl
from workbench.llm import GenParams
from workbench.records import full_text
from workbench.stage import open_stage

st = open_stage(run_dir, "07_evaluate")
items = [{"id": r.get("id", str(i)), "instruction": r[instruction_field], "input": r.get(input_field) or "",
          "skill": r.get(skill_field), "difficulty": r.get(difficulty_field), "checks": r.get(checks_field) or []}
         for i, r in enumerate(read_jsonl(data_path(eval_set, "eval.jsonl")))]
if verifiable:
    CK.validate_specs([it for it in items if it["checks"]])
# a subset keeps every difficulty bucket (the paper's high-difficulty analysis needs hard items),
# with skills mixed by a shuffle seeded by the run seed
random.Random(st.run["seed"]).shuffle(items)
for it in items:
    it["bucket"] = EV.bucket(it["difficulty"])
items = st.capped(items, by="bucket", limit=n)
tuned = st.params.get("finetune", {}).get("variants", [])
base = st.params.get("finetune", {}).get("base_model") or st.run["model"]


def resolve(candidate: str) -> str:
    """Variant name -> its saved model; "base" -> the base model; anything else is a model string."""
    if candidate == "base":
        return base
    if candidate in tuned:
        return "hf:" + str(st.input_path("06_finetune", f"model/{candidate}/config.json").parent)
    return candidate


models = {c: resolve(c) for c in candidates}
models

# %% [markdown]
# ## Answers from every candidate (cached like every model call)

# %%
gen = GenParams(max_new_tokens=answer_max_new_tokens)
answers = {}
for cand, model in models.items():
    g = st.generator(model)
    outs = g.generate([[{"role": "user", "content": full_text(it)}] for it in items], gen)
    answers[cand] = [c.text if c.ok else "" for c in outs]
judge = st.generator(judge_model)

# %% [markdown]
# ## Pairwise, both orders

# %%
results = {"items": len(items), "judge": judge.model_id, "models": models, "pairs": {}, "single": {}, "verifiable": {}}
samples = [dict(it, answers={c: answers[c][i] for c in answers}) for i, it in enumerate(items)]
for first, second in pairs:
    verdicts = EV.judge_pairs(items, answers[first], answers[second], judge, judge_mode)
    name = f"{first}_vs_{second}"
    results["pairs"][name] = EV.aggregate(items, [v["outcome"] for v in verdicts], [v["disagree"] for v in verdicts])
    results["pairs"][name]["unreadable_verdicts"] = sum((v["order_1"] is None) + (v["order_2"] is None) for v in verdicts)
    for s, v in zip(samples, verdicts):
        s.setdefault("pairwise", {})[name] = v
    o = results["pairs"][name]["overall"]
    print(f"{name}: win {o['win']} tie {o['tie']} loss {o['loss']} score {o['score']} "
          f"order disagreement {results['pairs'][name]['order_disagreement']}")

# %% [markdown]
# ## Single-answer scores and verifiable checks

# %%
for cand in candidates:
    if single_scoring:
        prompts = [EV.single_prompt(it, a) for it, a in zip(items, answers[cand])]
        rated = D.rate(prompts, judge, {"probs": "expected"}.get(judge_mode, judge_mode))
        scores = [r["rating"] for r in rated]
        results["single"][cand] = {"overall": D.mean_ci(scores),
                                   "by_bucket": {b: D.mean_ci([s for s, it in zip(scores, items) if EV.bucket(it["difficulty"]) == b])
                                                 for b in ("easy", "medium", "hard")}}
        for s, x in zip(samples, scores):
            s.setdefault("single", {})[cand] = x
    if verifiable:
        checked = [(i, CK.evaluate_item(answers[cand][i], it["checks"])) for i, it in enumerate(items) if it["checks"]]
        results["verifiable"][cand] = CK.accuracy([r for _, r in checked]) if checked else None
        for i, r in checked:
            samples[i].setdefault("verifiable", {})[cand] = r
write_json(st.path("results.json"), results)
write_jsonl(st.path("samples.jsonl"), samples)
st.write_stats({k: results[k] for k in ("items", "judge", "pairs", "single", "verifiable")})
results["verifiable"]

# %% [markdown]
# ## Figures

# %%
import plotly.graph_objects as go

for name, res in results["pairs"].items():
    for key, title in (("by_bucket", "difficulty bucket"), ("by_skill", "skill")):
        groups = res[key]
        fig = go.Figure()
        for outcome in ("win", "tie", "loss"):
            fig.add_bar(name=outcome, x=list(groups), y=[g[outcome] for g in groups.values()])
        fig.update_layout(barmode="stack", title=f"{name}: outcomes by {title}", yaxis_title="items")
        plots.save(fig, st.figures_dir() / f"{name}_{key}.html")
        fig.show()
fig = plots.counts_bar({n: r["order_disagreement"] or 0 for n, r in results["pairs"].items()},
                       "Judge order disagreement (position bias)", "comparison", "share of items")
plots.save(fig, st.figures_dir() / "order_disagreement.html")
fig.show()
if results["verifiable"] and all(results["verifiable"].values()):
    fig = go.Figure()
    for metric in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"):
        fig.add_bar(name=metric, x=list(results["verifiable"]), y=[v[metric] for v in results["verifiable"].values()])
    fig.update_layout(barmode="group", title="Verifiable instruction accuracy", yaxis_tickformat=".0%")
    plots.save(fig, st.figures_dir() / "verifiable.html")
    fig.show()
