"""The diversity metrics of the whole set and of its groups: per round, seeds, evolved.

    m = metrics_by_group(emb, rounds, kmeans_k=16, seed=0)     # raw values, each at its own n
    lin = lineage_distances(emb, rounds, root_ids)             # nearest neighbour within/across lineages

The raw values here are what each group measures at its own size. Vendi, Vendi per item and
cluster coverage all change with n (the same distribution gives Vendi 13.8 at n 16 and 39.0
at n 64), so groups are COMPARED in `equal_n`, never by these numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.stages.diversity.kmeans import cluster_coverage, cluster_entropy, kmeans_labels
from workbench.stages.diversity.metrics import (
    as_unit,
    mean_pairwise_cosine_distance,
    rounded,
    vendi_score,
)
from workbench.stages.diversity.neighbours import (
    EXACT_MAX,
    NeighbourScan,
    lineage_nn_similarity,
    neighbour_scan,
)


def group_metrics(emb, labels: np.ndarray | None = None, k: int = 0, mask=None,
                  scan: NeighbourScan | None = None) -> dict:
    """The metrics of one subset (mask; all items if None). Clusters (labels, k) are fit on all
    items; the nearest-neighbour distance is to the nearest other item of the same subset."""
    x = as_unit(emb)
    sel = np.ones(len(x), bool) if mask is None else np.asarray(mask, bool)
    sub = x[sel] if mask is not None else x
    n = len(sub)
    if scan is None and n >= 2:
        scan = neighbour_scan(sub)
    nn = scan.nn_distance if scan is not None else np.zeros(0, np.float32)
    nn = nn[np.isfinite(nn)]
    vendi = vendi_score(sub)
    out = {
        "n": int(n),
        "mean_pairwise_cosine_distance": rounded(mean_pairwise_cosine_distance(sub)),
        "mean_nn_distance": rounded(float(nn.mean())) if len(nn) else None,
        "median_nn_distance": rounded(float(np.median(nn))) if len(nn) else None,
        "vendi": rounded(vendi),
        "vendi_per_item": rounded(vendi / n) if n else None,
    }
    if labels is not None and k:
        out["cluster_coverage"] = rounded(cluster_coverage(labels, k, sel)) if n else None
        out["cluster_entropy"] = rounded(cluster_entropy(labels, k, sel)) if n else None
    return out


def group_masks(rounds: Sequence[int]) -> dict[str, np.ndarray]:
    """{"seeds": round 0, "evolved": round > 0, "round 0": ..., "round 1": ...} as boolean masks.

    >>> sorted(group_masks([0, 1, 1, 2]))
    ['evolved', 'round 0', 'round 1', 'round 2', 'seeds']
    """
    r = np.asarray(rounds, dtype=np.int64)
    out = {"seeds": r == 0, "evolved": r > 0}
    out |= {f"round {v}": r == v for v in sorted(set(r.tolist()))}
    return out


def metrics_by_group(emb, rounds: Sequence[int], kmeans_k: int = 16, seed: int = 0,
                     scan: NeighbourScan | None = None, clusters: tuple[np.ndarray, int] | None = None) -> dict:
    """Metrics overall, per round, and for seeds (round 0) vs evolved (round > 0), each at its
    own n. k-means is fit once on all items (or `clusters` = (labels, k) is reused), so coverage
    compares subsets on the same clusters. `scan` (a neighbour_scan of all items) saves
    recomputing the overall nearest neighbours.

    >>> m = metrics_by_group([[1, 0], [0, 1], [0.7, 0.7], [-1, 0]], [0, 0, 1, 1], kmeans_k=2)
    >>> sorted(m), m["by_round"]["1"]["n"], m["seeds"]["n"]
    (['by_round', 'evolved', 'kmeans_k', 'overall', 'seeds', 'vendi_method'], 2, 2)
    """
    x = as_unit(emb)
    rounds = np.asarray(rounds, dtype=np.int64)
    if len(rounds) != len(x):
        raise ValueError(f"{len(x)} embeddings but {len(rounds)} rounds")
    labels, k = clusters if clusters is not None else kmeans_labels(x, kmeans_k, seed=seed)
    out = {"overall": group_metrics(x, labels, k, None, scan)}
    out["by_round"] = {str(r): group_metrics(x, labels, k, rounds == r) for r in sorted(set(rounds.tolist()))}
    out["seeds"] = group_metrics(x, labels, k, rounds == 0)
    out["evolved"] = group_metrics(x, labels, k, rounds > 0)
    out["kmeans_k"] = k
    out["vendi_method"] = "exact: eigenvalues of X^T X / n (d x d), equal to those of K/n"
    return out


def _distances(sim: np.ndarray) -> dict:
    d = 1.0 - sim[np.isfinite(sim)].astype(np.float64)
    return {"items": int(len(d)), "mean_distance": rounded(d.mean()) if len(d) else None,
            "median_distance": rounded(np.median(d)) if len(d) else None}


def lineage_distances(emb, rounds: Sequence[int], root_ids: Sequence, exact_max: int = EXACT_MAX) -> dict:
    """Cosine distance from each item to its nearest neighbour in the whole set, split into the
    nearest of its OWN lineage (same root_id: its parent, siblings, children) and the nearest
    of ANY OTHER lineage; summarised per group ("items" counts those that have one).

    Evolution should move a lineage away from its seed without making different lineages
    converge: a falling across-lineage distance means seeds are being rewritten into each other.
    Null with a reason above `exact_max` items (the exact scan is O(n^2)).

    >>> d = lineage_distances([[1, 0], [0.8, 0.6], [0, 1]], [0, 1, 0], ["a", "a", "b"])
    >>> d["groups"]["evolved"]["within"]["mean_distance"], d["groups"]["evolved"]["across"]["mean_distance"]
    (0.2, 0.4)
    """
    x = as_unit(emb)
    if len(x) > exact_max:
        return {"groups": None, "reason": f"{len(x)} items, above exact_max {exact_max}: the exact "
                                          "lineage scan is O(n^2) and was not run"}
    within, across = lineage_nn_similarity(x, root_ids)
    groups = {"all": np.ones(len(x), bool)} | group_masks(rounds)
    return {"groups": {g: {"n": int(m.sum()), "within": _distances(within[m]), "across": _distances(across[m])}
                       for g, m in groups.items()},
            "method": "exact cosine, nearest item with the same root_id (within) and with another (across)"}
