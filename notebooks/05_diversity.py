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
# # 05 · Diversity
#
# Does evolving make the instruction set more diverse, or only longer? Each instruction (plus
# its input) is embedded with a sentence-transformers model — all-MiniLM-L6-v2, bundled, by
# default — and the set is measured overall, per round, and seeds against evolved:
#
# - **mean pairwise cosine distance**: how far apart two random instructions are (exact);
# - **nearest-neighbour distance**: how far each instruction is from its closest other one;
# - **Vendi score**: the effective number of distinct instructions (n if all orthogonal, 1 if
#   all identical; exact);
# - **cluster coverage and entropy**: k-means on all rows, then the share of clusters a subset
#   reaches and how evenly it spreads over them.
#
# Then near-duplicate groups (cosine at or above a threshold), and a Deita-style selection:
# best score first, a row is kept only if it is not too close to any row already kept.
# Rows come from `04_difficulty/records.jsonl` when the run has it (so they carry scores),
# else from `03_filter/dataset.jsonl`, else `02_evolve/dataset.jsonl`.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
embed_model = "minilm"  # sentence-transformers model: minilm (the bundled all-MiniLM-L6-v2) or a local model folder
batch_size = 64  # texts per embedding batch [>0]
knn_k = 10  # neighbours searched per row when linking near duplicates [>0]
kmeans_k = 16  # k-means clusters for coverage and entropy (at most the number of rows is used) [>0]
near_dup_threshold = 0.95  # cosine similarity at or above which two rows are near duplicates [0..1]
score_field = "difficulty"  # score that ranks rows for the selection, read from each row's scores
deita_tau = 0.9  # a row is selected only if its cosine to every row selected before is below this [0..1]
deita_budget = 0  # most rows to select; 0 means no budget [min 0]
projection = "pca"  # 2-D projection for the scatter plot; umap needs the umap-learn package {pca|umap}
scatter_points = 5000  # most rows drawn in the scatter plot, a fixed-seed sample beyond that [>0]
hist_bins = 30  # bins of the nearest-neighbour distance histogram [>0]

# %%
import time

import pandas as pd

from workbench import diversity as DV
from workbench import diversity_plots as DP
from workbench import diversity_stage as DS
from workbench import plots
from workbench.embed import cached_embeddings
from workbench.io import write_jsonl
from workbench.records import full_text
from workbench.stage import open_stage

st = open_stage(run_dir, "05_diversity")
problems = DV.check_config({"projection": projection})
if problems:  # fail before any embedding work
    raise RuntimeError("; ".join(problems))
seed = st.run["seed"]
rows, source = DS.load_rows(st)
rounds = [int(r.get("round") or 0) for r in rows]
print(f"{len(rows)} rows from {source['input']}; per round {DS.count_by_round(rows)}")

# %% [markdown]
# ## Embeddings
# Cached in this stage folder (`embeddings.npy`, row order in `embedding_ids.json`): a re-run
# with the same rows and model reuses them.

# %%
t0 = time.perf_counter()
emb, reused = cached_embeddings(st.dir, [r["id"] for r in rows], [full_text(r) for r in rows],
                                embed_model, batch_size=batch_size)
embed_info = {"model": embed_model, "rows": int(emb.shape[0]), "dim": int(emb.shape[1]),
              "reused_cache": reused, "seconds": round(time.perf_counter() - t0, 2)}
embed_info

# %% [markdown]
# ## Neighbours and near duplicates
# Every row's nearest other row (exact faiss search up to 50k rows, a blocked bf16 scan above),
# and the groups of rows linked by a cosine of at least `near_dup_threshold`.

# %%
scan = DV.neighbour_scan(emb, pair_threshold=near_dup_threshold, knn_k=knn_k, seed=seed)
groups = DV.near_duplicate_groups(emb, near_dup_threshold, scan=scan)
dup_rows = DS.near_duplicate_rows(groups, rows, scan)
write_jsonl(st.path("near_duplicates.jsonl"), dup_rows)
near_dup_info = {"threshold": near_dup_threshold, "knn_k": knn_k, "groups": len(groups),
                 "rows_in_groups": sum(len(g) for g in groups), "linking_pairs": int(len(scan.pairs))}
print(near_dup_info)
pd.DataFrame(dup_rows[:10])

# %% [markdown]
# ## Diversity overall, per round, seeds vs evolved
# k-means is fit once on all rows, so every subset's coverage is counted on the same clusters.
# Nearest-neighbour distances here are within each subset.

# %%
metrics = DV.metrics_by_group(emb, rounds, kmeans_k=kmeans_k, seed=seed, scan=scan)
table = pd.DataFrame({"overall": metrics["overall"], "seeds": metrics["seeds"], "evolved": metrics["evolved"]}
                     | {f"round {r}": m for r, m in metrics["by_round"].items()}).T
table

# %% [markdown]
# ## Deita-style selection
# Rows by `score_field` descending (rows without a score last, by id); a row joins the
# selection only if its cosine to every row already selected is below `deita_tau`, until
# `deita_budget` rows are selected. Of two near-identical rows, the better-scored one stays.

# %%
scores, score_info = DS.scores_of(rows, score_field, source["input"])
selected, deita = DV.deita_select([r["id"] for r in rows], emb, scores, deita_tau, deita_budget)
chosen = set(selected)
by_id = {r["id"]: r for r in rows}
write_jsonl(st.path("selection.jsonl"), [by_id[i] for i in selected])
deita["kept_by_round"] = DS.count_by_round(rows, chosen)
if score_info.get("note"):
    print(score_info["note"])
deita

# %%
nn_hist = DP.binned_by_group(scan.nn_distance, rounds, bins=hist_bins)
shown = DP.sample_indices(len(rows), scatter_points, seed)
stats = source | {
    "rows": len(rows),
    "rows_by_round": DS.count_by_round(rows),
    "embedding": embed_info,
    "neighbours": {"method": scan.method, **scan.settings},
    "metrics": metrics,
    "near_duplicates": near_dup_info,
    "scores": score_info,
    "deita": deita,
    "nn_distance_histogram": nn_hist,
    "projection": {"method": projection, "points_drawn": int(len(shown)), "of": len(rows)},
}
st.write_stats(stats)
{k: stats[k] for k in ("rows", "near_duplicates", "deita")}

# %% [markdown]
# ## Figures
# The instructions in two dimensions (hover for the text), how far each row is from its nearest
# neighbour in the whole set (binned counts per round), and the metrics per round.

# %%
xy = DV.project_2d(emb[shown], projection, seed=seed)
title = f"Instructions in 2-D ({projection}), coloured by round"
if len(shown) < len(rows):
    title += f" — {len(shown)} of {len(rows)} rows, sampled"
fig = DP.projection_scatter(xy, [rounds[i] for i in shown], DS.hover_texts(rows, shown), title)
plots.save(fig, st.figures_dir() / "projection.html")
fig.show()

# %%
fig = DP.binned_histogram(nn_hist, "Distance to the nearest other row (whole set), per round",
                          "cosine distance to the nearest neighbour")
plots.save(fig, st.figures_dir() / "nn_distance_hist.html")
fig.show()

# %%
fig = DP.metrics_by_round(metrics["by_round"])
plots.save(fig, st.figures_dir() / "metrics_by_round.html")
fig.show()
