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
min_mass = 0.05  # below this total probability on the ratings 1..10 the judge score is null [0..1]
ifd = True  # compute IFD with a local model
ifd_model = ""  # local model for IFD (embedded or hf:...); empty means run.model
ifd_max_length = 1024  # token cap on instruction plus answer for IFD [>0]
validate = True  # report Spearman against a labelled set
labelled_set = "bundled"  # labelled set: "bundled" (the eval set's difficulty labels) or a .jsonl path
label_field = "difficulty"  # field holding the human difficulty label
validation_limit = 0  # score this many labelled items, spread over the labels; 0 means all [min 0]

# %%
from workbench import difficulty as D
from workbench import plots
from workbench.data import data_path
from workbench.io import read_jsonl, write_jsonl
from workbench.llm.registry import load_backend, parse_model_string
from workbench.stage import open_stage

st = open_stage(run_dir, "04_difficulty")
rows, source = st.read_first()
rows = st.capped(sorted(rows, key=lambda r: (r["round"], r["id"])))
ifd_name = ifd_model or st.run["model"]
if ifd and parse_model_string(ifd_name)[0] == "openai":
    raise ValueError(f"difficulty.ifd_model must be a local model (embedded or hf:...), got {ifd_name!r}")
judge = st.generator(judge_model)
print(f"scoring {len(rows)} rows from {source} with judge {judge.model_id}")

# %% [markdown]
# ## Score the dataset

# %%
judged = D.judge_difficulty(rows, judge, mode=judge_mode, min_mass=min_mass)
ifds = D.ifd_scores(rows, load_backend(ifd_name, st.run), ifd_max_length) if ifd else [
    {"ifd": None, "ifd_reason": "disabled"} for _ in rows]
for r, j, f in zip(rows, judged, ifds):
    r["scores"] = dict(r.get("scores") or {}, **j, **f)
    r["features"] = D.cheap_features(r)
write_jsonl(st.path("records.jsonl"), rows)

# %% [markdown]
# ## Validation against human labels

# %%
report = None
if validate:
    labelled = [r for r in read_jsonl(data_path(labelled_set, "eval.jsonl")) if r.get(label_field) is not None]
    labelled = st.capped(labelled, by=label_field, limit=validation_limit)  # spread over the label range
    lj = D.judge_difficulty(labelled, judge, mode=judge_mode, min_mass=min_mass)
    feats = [D.cheap_features(r) for r in labelled]
    scores = {"judge": [x["difficulty"] for x in lj]}
    scores |= {f"feature_{k}": [f[k] for f in feats] for k in feats[0]} if feats else {}
    report = D.validate(labelled, [r[label_field] for r in labelled], scores)
    for name, res in report.items():
        print(f"spearman {name:>24}: rho={res['rho']}  n={res['n']}")

# %%
difficulty = D.summarise(rows, "difficulty")
stats = {
    "source": source, "rows": len(rows),
    "difficulty": difficulty,
    "ifd": D.summarise(rows, "ifd"),
    "validation": report,
    "mean_difficulty_by_round": {k: v["mean"] for k, v in difficulty["by_round"].items()},
}
st.write_stats(stats)
{k: stats[k] for k in ("rows", "mean_difficulty_by_round")}

# %% [markdown]
# ## Does difficulty rise round by round?

# %%
by_round = {f"round {k}": [r["scores"]["difficulty"] for r in rows if r["round"] == int(k)] for k in stats["difficulty"]["by_round"]}
fig = plots.histogram_by_group(by_round, [x + 0.5 for x in range(0, 11)], "Judge difficulty per round", "difficulty (1-10)")
plots.save(fig, st.figures_dir() / "difficulty_hist_by_round.html")
fig.show()
fig = plots.mean_with_ci(stats["difficulty"]["by_round"], "Mean judge difficulty per round (95% CI)", "round", "difficulty")
plots.save(fig, st.figures_dir() / "difficulty_mean_by_round.html")
fig.show()
by_op = {op: [r["scores"]["difficulty"] for r in rows if (r["op"] or "seed") == op] for op in stats["difficulty"]["by_op"]}
fig = plots.box_by_group(by_op, "Judge difficulty per operation", "difficulty")
plots.save(fig, st.figures_dir() / "difficulty_by_op.html")
fig.show()
seeds_vs = {"seeds": [r["scores"]["difficulty"] for r in rows if r["round"] == 0],
            "evolved": [r["scores"]["difficulty"] for r in rows if r["round"] > 0]}
fig = plots.mean_with_ci({k: D.mean_ci(v) for k, v in seeds_vs.items()}, "Seeds vs evolved", "", "difficulty")
plots.save(fig, st.figures_dir() / "difficulty_seeds_vs_evolved.html")
fig.show()
