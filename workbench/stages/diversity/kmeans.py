"""Spherical k-means clusters, and how a subset spreads over them (coverage, entropy).

k-means is fit once on all items, so every subset's coverage is counted on the same clusters.
Coverage depends on the subset's size (more items reach more clusters): compare groups with
`equal_n`, which subsamples them to the same n first.

faiss notes: `faiss.Kmeans(d, k, niter, seed, spherical=True)` is deterministic for a given
seed; `min_points_per_centroid=1` silences the warning for small n, and k must be <= n.
"""

from __future__ import annotations

import math

import numpy as np

from workbench.stages.diversity.metrics import as_unit


def kmeans_labels(emb, k: int, seed: int = 0, niter: int = 20, nredo: int = 5) -> tuple[np.ndarray, int]:
    """Spherical k-means (faiss.Kmeans, fixed seed) cluster of each item, and the k used (<= n).

    faiss starts from k random items; `nredo` restarts keep the best objective, which avoids
    most merged-and-split local optima on small sets.

    >>> labels, k = kmeans_labels([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], 2)
    >>> k, bool(labels[0] == labels[1]), bool(labels[0] != labels[2])
    (2, True, True)
    """
    import faiss

    x = as_unit(emb)
    n = len(x)
    k = max(1, min(int(k), n))
    if n == 0:
        return np.zeros(0, np.int64), 0
    if k == 1:
        return np.zeros(n, np.int64), 1
    km = faiss.Kmeans(x.shape[1], k, niter=niter, nredo=nredo, seed=seed, spherical=True, verbose=False,
                      min_points_per_centroid=1, max_points_per_centroid=max(256, -(-n // k)))
    km.train(x)
    _, labels = km.index.search(x, 1)
    return labels[:, 0].astype(np.int64), k


def cluster_coverage(labels: np.ndarray, k: int, mask=None) -> float | None:
    """Share of the k clusters holding at least one item of the subset `mask` (all items if None).

    >>> cluster_coverage(np.array([0, 0, 1, 2]), 4, np.array([True, True, False, False]))
    0.25
    """
    labels = np.asarray(labels)
    sub = labels if mask is None else labels[np.asarray(mask, bool)]
    if k <= 0:
        return None
    return len(np.unique(sub)) / k


def cluster_entropy(labels: np.ndarray, k: int, mask=None) -> float | None:
    """Entropy of the subset's spread over the k clusters, divided by log(k): 1 = evenly spread,
    0 = all in one cluster. None for k < 2 or an empty subset.

    >>> cluster_entropy(np.array([0, 1, 2, 3]), 4), cluster_entropy(np.array([2, 2, 2]), 4)
    (1.0, 0.0)
    """
    labels = np.asarray(labels)
    sub = labels if mask is None else labels[np.asarray(mask, bool)]
    if k < 2 or len(sub) == 0:
        return None
    p = np.bincount(sub, minlength=k) / len(sub)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum() / math.log(k)) + 0.0
