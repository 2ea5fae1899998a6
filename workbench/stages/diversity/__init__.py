"""Diversity of an instruction set, measured on sentence embeddings (stage 05_diversity).

One job per module:
    metrics      mean pairwise cosine distance, Vendi score (exact, any n)
    neighbours   nearest neighbour, near-duplicate pairs and groups, within/across lineages
    blocked      the blocked bf16 nearest-neighbour scan used above 50k items
    kmeans       spherical k-means; cluster coverage and entropy of a subset
    groups       the metrics overall, per round, seeds vs evolved (each at its own n)
    equal_n      groups compared at equal n by repeated subsampling; the diversity claim
    selection    Deita selection: complexity x quality, similarity cap, budget
    projection   2-D PCA / UMAP for the scatter plot
    embed        sentence-transformers embeddings, offline, cached in the stage folder
    rows         which rows the stage reads, their scores, near-duplicate rows
    stage        the stage itself: its Config (= the notebook's parameters, with its checks)
                 and run(st, cfg), which reads, computes, writes (see its docstring)
    plots        the figures

Importing this package is light (numpy only): faiss, torch and plotly load where used.
"""

from workbench.stages.diversity.blocked import cpu_has_bf16
from workbench.stages.diversity.equal_n import diversity_claim, equal_n_compare
from workbench.stages.diversity.groups import (
    group_masks,
    group_metrics,
    lineage_distances,
    metrics_by_group,
)
from workbench.stages.diversity.kmeans import cluster_coverage, cluster_entropy, kmeans_labels
from workbench.stages.diversity.metrics import mean_pairwise_cosine_distance, normalize, vendi_score
from workbench.stages.diversity.neighbours import (
    EXACT_MAX,
    NeighbourScan,
    components,
    lineage_nn_similarity,
    near_duplicate_groups,
    neighbour_scan,
)
from workbench.stages.diversity.projection import project_2d, umap_available
from workbench.stages.diversity.selection import deita_select, selection_scores

__all__ = [
    "EXACT_MAX", "NeighbourScan", "cluster_coverage", "cluster_entropy", "components",
    "cpu_has_bf16", "deita_select", "diversity_claim", "equal_n_compare", "group_masks", "group_metrics",
    "kmeans_labels", "lineage_distances", "lineage_nn_similarity", "mean_pairwise_cosine_distance",
    "metrics_by_group", "near_duplicate_groups", "neighbour_scan", "normalize", "project_2d", "selection_scores",
    "umap_available", "vendi_score",
]
