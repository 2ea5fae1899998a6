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
# # 05 · Diversity
#
# Does evolving make the instruction set more diverse, or only longer? Each instruction (plus
# its input) is embedded with a sentence-transformers model (the bundled all-MiniLM-L6-v2 by
# default) and measured: Vendi score (the effective number of distinct instructions), mean
# pairwise cosine distance, k-means cluster coverage and evenness, and each row's distance to
# its nearest neighbour within its own lineage (rewrites of the same seed) and across lineages.
#
# These metrics grow with the number of rows, so seeds, evolved rows and each round are
# compared at **equal n**: every group is subsampled to the smallest group's size, many times,
# and reported with a 95 % interval. The paper's claim, "evolved instructions are at least as
# diverse as the seeds", is then stated as supported, not supported or undetermined.
#
# Last, a Deita-style selection: rows ranked by complexity (04's difficulty) × quality (a 1–10
# rating of the answer, judged here), best first; a row joins only if it is not too close to
# any row already selected. Rows whose score could not be had are not selected, and counted.
# Rows come from `04_difficulty/records.jsonl` when the run has it, else the latest dataset.

# %% tags=["parameters"]
run_dir = ""  # run folder (set by the runner; empty means the latest run)
embed_model = "minilm"  # sentence-transformers model: minilm (the bundled all-MiniLM-L6-v2) or a local model folder
batch_size = 64  # texts per embedding batch [>0]
knn_k = 10  # neighbours searched per row when linking near duplicates [>0]
kmeans_k = 16  # k-means clusters for coverage and entropy (at most the number of rows is used) [>0]
near_dup_threshold = 0.95  # cosine similarity at or above which two rows are near duplicates [0..1]
equal_n = 0  # rows per subsample when groups are compared; 0 means the smallest group's size [min 0]
equal_n_repeats = 200  # random subsets per group for the equal-n comparison and its interval [>0]
score_field = "difficulty"  # complexity score for the selection, read from each row's scores
quality_judge = True  # rate each answer's quality 1-10 for the selection (Deita's quality score)
quality_model = ""  # quality judge; empty means run.model
quality_mode = "auto"  # expected rating from token probabilities, parsed integer, or auto {auto|expected|parsed}
quality_min_mass = 0.1  # below this probability that the whole reply is a rating 1..10, the quality score is null [0..1]
selection_score = "auto"  # rank by complexity x quality (auto: when rows have both), or complexity alone {auto|complexity_x_quality|complexity}
selection_text = "auto"  # text embedded for the selection (auto: the conversation when ranking by complexity x quality) {auto|instruction|conversation}
deita_tau = 0.9  # a row is selected only if its cosine to every row selected before is below this [0..1]
deita_budget = 0  # most rows to select; 0 means no budget [min 0]
projection = "pca"  # 2-D projection for the scatter plot; umap needs the umap-learn package {pca|umap}
scatter_points = 5000  # most rows drawn in the scatter plot, a fixed-seed sample beyond that [>0]
hist_bins = 30  # bins of the nearest-neighbour distance histogram [>0]

# %%
from workbench.stages.base import open_stage
from workbench.stages.diversity import plots as DP
from workbench.stages.diversity.stage import Config, run

st = open_stage(run_dir, "05_diversity")
res = run(st, Config.from_namespace(globals()))
{k: res.stats[k] for k in ("rows", "rows_by_round", "claim", "near_duplicates", "selection", "deita")}

# %% [markdown]
# ## The claim: evolved at least as diverse as the seeds, at equal n
# Look at whether the evolved interval sits at or above the seeds' (supported), below it (not
# supported) or overlaps it (undetermined). A group used whole has no interval of its own.

# %%
st.figure(DP.claim_figure(res.stats), "equal_n_seeds_vs_evolved")

# %% [markdown]
# ## Each round at equal n
# A rise from round to round means evolution spreads the instructions out; a fall means the
# rounds converge on similar rewrites. Intervals that overlap do not show a difference.

# %%
st.figure(DP.equal_n_figure(res.stats["equal_n"]["by_round"], "Each round at equal n"), "metrics_by_round")

# %% [markdown]
# ## Nearest neighbours within and across lineages
# A row is naturally close to rewrites of its own seed. What to watch is the across-lineage
# distance: if it falls for evolved rows, different seeds are being rewritten into each other.

# %%
st.figure(DP.lineage_figure(res.stats["lineage"]), "lineage_nn_distance")
st.figure(DP.binned_histogram(res.stats["nn_distance_histogram"], "Distance to the nearest other row (whole set)",
                              "cosine distance to the nearest neighbour"), "nn_distance_hist")

# %% [markdown]
# ## The instructions in two dimensions
# Hover for the text. Evolved rounds that sit on top of the seeds added little new ground;
# a round off on its own may be a template artefact worth reading.

# %%
st.figure(DP.projection_scatter(res.xy, res.xy_rounds, res.xy_hover,
                                f"Instructions in 2-D ({projection}), {len(res.xy)} of {res.stats['rows']} rows, coloured by round"), "projection")
