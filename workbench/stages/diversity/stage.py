"""Stage 05_diversity: is the evolved set more diverse, or only longer? And a Deita selection.

    res = run(open_stage(run_dir, "05_diversity"), Config.from_namespace(globals()))

Reads (first found): 04_difficulty/records.jsonl (rows with scores), else 03_filter/dataset.jsonl,
else 02_evolve/dataset.jsonl; only rows with status "kept".

Writes, in the stage folder:
  embeddings.npy, embedding_ids.json   instruction (+ input) embedding per row, row order = ids
  conversation_embeddings.npy, conversation_embedding_ids.json
                                       instruction + input + response, only when the selection
                                       embeds the conversation
  near_duplicates.jsonl                one row per group: group, size, ids, rounds, instructions,
                                       min_link_similarity, max_link_similarity
  selection.jsonl                      the selected records, in selection order; their scores
                                       gain quality, quality_reason, quality_mode (when judged)
  stats.json                           the keys below

Stats keys:
  input, rows_read, not_kept_skipped, rows, rows_by_round
  embedding        model, rows, dim, reused_cache, seconds
  neighbours       method and settings of the nearest-neighbour scan
  near_duplicates  threshold, knn_k, groups, rows_in_groups, linking_pairs
  metrics          raw metrics, each group at its own n: overall, by_round, seeds, evolved, kmeans_k
  lineage          nearest-neighbour distance within / across lineages (root_id), per group
  equal_n          seeds_vs_evolved and by_round: n, repeats, seed, groups {metric: {mean, lo, hi}}
  claim            evolved_as_diverse: verdict supported | not supported | undetermined (equal_n.py)
  scores           the complexity field: present / missing
  quality          the answer-quality judge: model, rated, nulls by reason (or why not run)
  selection        score_used, text_embedded, embeddings_file, scored, unscored_by_reason
  deita            tau, budget, candidates, kept, rejected_by_tau, not_reached_budget,
                   missing_scores, kept_by_round
  nn_distance_histogram, projection   what the figures are drawn from
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.core.config import StageConfig
from workbench.core.records import full_text
from workbench.stages.base import Stage
from workbench.stages.diversity.embed import cached_embeddings
from workbench.stages.diversity.equal_n import diversity_claim, equal_n_compare
from workbench.stages.diversity.groups import group_masks, lineage_distances, metrics_by_group
from workbench.stages.diversity.kmeans import kmeans_labels
from workbench.stages.diversity.neighbours import near_duplicate_groups, neighbour_scan
from workbench.stages.diversity.plots import binned_by_group, sample_indices
from workbench.stages.diversity.projection import (
    PROJECTIONS,
    UMAP_MISSING,
    project_2d,
    umap_available,
)
from workbench.stages.diversity.rows import (
    count_by_round,
    hover_texts,
    load_rows,
    near_duplicate_rows,
    scores_of,
)
from workbench.stages.diversity.selection import (
    SELECTION_SCORES,
    SELECTION_TEXTS,
    conversation_text,
    deita_select,
    quality_scores,
    selection_scores,
)


@dataclass(frozen=True)
class Config(StageConfig):
    embed_model: str = "minilm"
    batch_size: int = 64
    knn_k: int = 10
    kmeans_k: int = 16
    near_dup_threshold: float = 0.95
    equal_n: int = 0
    equal_n_repeats: int = 200
    score_field: str = "difficulty"
    quality_judge: bool = True
    quality_model: str = ""
    quality_mode: str = "auto"
    quality_min_mass: float = 0.1
    selection_score: str = "auto"
    selection_text: str = "auto"
    deita_tau: float = 0.9
    deita_budget: int = 0
    projection: str = "pca"
    scatter_points: int = 5000
    hist_bins: int = 30

    def check(self) -> list[str]:
        errors = []
        if self.projection not in PROJECTIONS:
            errors.append(f"diversity.projection: {self.projection!r} is not one of {', '.join(PROJECTIONS)}")
        elif self.projection == "umap" and not umap_available():
            errors.append(UMAP_MISSING)
        if self.embed_model != "minilm" and not Path(self.embed_model).expanduser().is_dir():
            errors.append(f"diversity.embed_model: {self.embed_model!r} is neither minilm (the bundled "
                          "all-MiniLM-L6-v2) nor a local sentence-transformers folder")
        if self.selection_score not in SELECTION_SCORES:
            errors.append(f"diversity.selection_score: {self.selection_score!r} is not one of "
                          f"{', '.join(SELECTION_SCORES)}")
        elif self.selection_score == "complexity_x_quality" and not self.quality_judge:
            errors.append("diversity.selection_score: complexity_x_quality needs quality_judge: true "
                          "(the quality score is computed in this stage)")
        if self.selection_text not in SELECTION_TEXTS:
            errors.append(f"diversity.selection_text: {self.selection_text!r} is not one of "
                          f"{', '.join(SELECTION_TEXTS)}")
        return errors


CONVERSATION_FILES = ("conversation_embeddings.npy", "conversation_embedding_ids.json")


@dataclass
class Result:
    """What the notebook's figures need: the stats, and the 2-D points of the scatter plot."""

    stats: dict
    xy: np.ndarray          # projection of the drawn rows
    xy_rounds: list[int]    # their rounds
    xy_hover: list[str]     # their instruction starts


def _quality(st: Stage, cfg: Config, rows: list[dict], generator) -> tuple[list | None, list | None, dict]:
    """Quality per row (None where not rated), its reasons, and stats; (None, None, why) when off."""
    if not cfg.quality_judge:
        return None, None, {"computed": False, "reason": "quality_judge is false"}
    gen = generator if generator is not None else st.generator(cfg.quality_model)
    results = quality_scores(rows, gen, cfg.quality_mode, cfg.quality_min_mass)
    for r, q in zip(rows, results):
        r["scores"] = dict(r.get("scores") or {}, **q)
    values = [q["quality"] for q in results]
    nulls = Counter(q.get("quality_reason") or "unknown" for q in results if q["quality"] is None)
    rated = [v for v in values if v is not None]
    return values, [q.get("quality_reason") for q in results], {
        "computed": True, "model": getattr(gen, "model_id", cfg.quality_model), "template": "single_judge",
        "rated": len(rated), "mean": round(float(np.mean(rated)), 4) if rated else None,
        "nulls": dict(sorted(nulls.items()))}


def run(st: Stage, cfg: Config, embedder=None, generator=None) -> Result:
    """The whole stage; `embedder` (texts -> unit vectors) and `generator` replace the real
    sentence-transformers model and the quality judge in tests."""
    seed = int(st.run["seed"])
    rows, source = load_rows(st)
    ids = [r["id"] for r in rows]
    rounds = [int(r.get("round") or 0) for r in rows]

    t0 = time.perf_counter()
    emb, reused = cached_embeddings(st.dir, ids, [full_text(r) for r in rows], cfg.embed_model,
                                    cfg.batch_size, embedder)
    embed_info = {"model": cfg.embed_model, "rows": int(emb.shape[0]), "dim": int(emb.shape[1]),
                  "reused_cache": reused, "seconds": round(time.perf_counter() - t0, 2)}

    # neighbours and near duplicates
    scan = neighbour_scan(emb, pair_threshold=cfg.near_dup_threshold, knn_k=cfg.knn_k, seed=seed)
    groups = near_duplicate_groups(emb, cfg.near_dup_threshold, scan=scan)
    st.write_rows("near_duplicates", near_duplicate_rows(groups, rows, scan))
    near_dup_info = {"threshold": cfg.near_dup_threshold, "knn_k": cfg.knn_k, "groups": len(groups),
                     "rows_in_groups": sum(len(g) for g in groups), "linking_pairs": int(len(scan.pairs))}

    # diversity: raw per group, lineages, and the comparison at equal n
    labels, k = kmeans_labels(emb, cfg.kmeans_k, seed=seed) if len(rows) else (np.zeros(0, np.int64), 0)
    metrics = metrics_by_group(emb, rounds, scan=scan, clusters=(labels, k))
    masks = group_masks(rounds)
    compare = {"repeats": cfg.equal_n_repeats, "seed": seed, "n": cfg.equal_n, "labels": labels, "k": k}
    equal_n = {
        "seeds_vs_evolved": equal_n_compare(emb, {g: masks[g] for g in ("seeds", "evolved")}, **compare),
        "by_round": equal_n_compare(emb, {g: m for g, m in masks.items() if g.startswith("round ")}, **compare),
    }

    # Deita selection: complexity x quality where both exist
    complexity, score_info = scores_of(rows, cfg.score_field, source["input"])
    quality, quality_why, quality_info = _quality(st, cfg, rows, generator)
    scores, sel_info = selection_scores(complexity, quality, quality_why, cfg.selection_score)
    text = cfg.selection_text
    if text == "auto":
        text = "conversation" if sel_info["score_used"] == "complexity_x_quality" else "instruction"
    sel_emb, sel_file = emb, "embeddings.npy"
    if text == "conversation":
        sel_emb, _ = cached_embeddings(st.dir, ids, [conversation_text(r) for r in rows], cfg.embed_model,
                                       cfg.batch_size, embedder, *CONVERSATION_FILES)
        sel_file = CONVERSATION_FILES[0]
    selected, deita = deita_select(ids, sel_emb, scores, cfg.deita_tau, cfg.deita_budget)
    by_id = {r["id"]: r for r in rows}
    st.write_rows("selection", [by_id[i] for i in selected])
    deita["kept_by_round"] = count_by_round(rows, set(selected))

    shown = sample_indices(len(rows), cfg.scatter_points, seed)
    stats = source | {
        "rows": len(rows),
        "rows_by_round": count_by_round(rows),
        "embedding": embed_info,
        "neighbours": {"method": scan.method, **scan.settings},
        "metrics": metrics,
        "lineage": lineage_distances(emb, rounds, [r.get("root_id") or r["id"] for r in rows]),
        "equal_n": equal_n,
        "claim": diversity_claim(equal_n["seeds_vs_evolved"]),
        "near_duplicates": near_dup_info,
        "scores": score_info,
        "quality": quality_info,
        "selection": sel_info | {"requested": cfg.selection_score, "text_embedded": text,
                                 "embeddings_file": sel_file},
        "deita": deita,
        "nn_distance_histogram": binned_by_group(scan.nn_distance, rounds, bins=cfg.hist_bins),
        "projection": {"method": cfg.projection, "points_drawn": int(len(shown)), "of": len(rows)},
    }
    st.write_stats(stats)
    xy = project_2d(emb[shown], cfg.projection, seed=seed) if len(shown) else np.zeros((0, 2))
    return Result(stats, xy, [rounds[i] for i in shown], hover_texts(rows, shown))
