"""Each item's nearest other item, near-duplicate pairs and groups, and lineage distances.

    scan = neighbour_scan(emb, pair_threshold=0.95)   # nn_index, nn_similarity, pairs
    groups = near_duplicate_groups(emb, 0.95, scan=scan)
    within, across = lineage_nn_similarity(emb, root_ids)

faiss-cpu notes (the parts used here):
  * `faiss.IndexFlatIP` is exact inner-product search; on unit vectors that is cosine. It wants
    C-contiguous float32, and `search(q, k)` returns (similarities, indices) with -1 where
    fewer than k items exist. An item's own row is usually its first hit, but not always when
    exact duplicates exist: drop it by id.
  * faiss uses OpenMP threads; it is fast for exact search up to about 50k items. Above that,
    `neighbour_scan` switches to the blocked bf16 scan of `blocked.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.stages.diversity.metrics import as_unit

EXACT_MAX = 50_000  # up to this many items, faiss exact search; above, the blocked bf16 scan


@dataclass
class NeighbourScan:
    """Result of `neighbour_scan`: nearest neighbour per item and the close pairs."""

    nn_index: np.ndarray            # (n,) int64, -1 when the item has no other item
    nn_similarity: np.ndarray       # (n,) float32, exact fp32 cosine to that neighbour (nan if none)
    pairs: np.ndarray               # (m, 2) int64 with i < j and cosine >= pair_threshold
    pair_similarity: np.ndarray     # (m,) float32
    method: str                     # "exact" (faiss IndexFlatIP) or "blocked-bf16" / "blocked-fp32"
    settings: dict = field(default_factory=dict)

    @property
    def nn_distance(self) -> np.ndarray:
        return (1.0 - self.nn_similarity).astype(np.float32)


def neighbour_scan(emb, pair_threshold: float | None = None, knn_k: int = 10, method: str = "auto",
                   exact_max: int = EXACT_MAX, block: int = 2048, workers: int | None = None,
                   dtype: str = "auto", seed: int = 0) -> NeighbourScan:
    """Each item's nearest other item, and the pairs with cosine >= pair_threshold.

    method="exact" (the default up to `exact_max` items): faiss IndexFlatIP, k-NN search with
      k = knn_k + 1; pairs are taken from each item's knn_k neighbours, so memory stays n * k
      even when thousands of items are copies of each other (their components still connect).
    method="blocked" (the default above): X X^T one block pair at a time, each pair computed
      once, keeping only per-row and per-column maxima; in bfloat16 where the CPU has native
      bf16 (AVX512-BF16 / AMX), else fp32. Pairs above the threshold are found in the same pass
      and checked again in fp32; where a block-row yields more than 8 * block of them (a crowd
      of copies), only a maximum spanning forest is kept: same groups, bounded memory. In bf16 the neighbour's identity can swap with one whose
      cosine is within ~1e-3 (about 1% of items on random vectors, fewer on real text); the
      similarity returned is always recomputed exactly in fp32.

    >>> s = neighbour_scan([[1, 0], [0.9, 0.1], [0, 1]], pair_threshold=0.9)
    >>> s.nn_index.tolist(), s.pairs.tolist()
    ([1, 0, 1], [[0, 1]])
    """
    x = as_unit(emb)
    n = len(x)
    if method == "auto":
        method = "exact" if n <= exact_max else "blocked"
    if n < 2:
        empty = np.zeros((0, 2), np.int64)
        return NeighbourScan(np.full(n, -1, np.int64), np.full(n, np.nan, np.float32), empty,
                             np.zeros(0, np.float32), method, {})
    if method == "exact":
        return _exact_scan(x, pair_threshold, knn_k)
    if method == "blocked":
        from workbench.stages.diversity.blocked import (
            blocked_scan,  # imported here: blocked.py builds on this module
        )

        return blocked_scan(x, pair_threshold, block, workers, dtype, seed)
    raise ValueError(f"unknown neighbour method {method!r}: use auto, exact or blocked")



def _exact_scan(x: np.ndarray, pair_threshold: float | None, knn_k: int) -> NeighbourScan:
    import faiss

    n, d = x.shape
    k = min(max(1, knn_k) + 1, n)
    index = faiss.IndexFlatIP(d)
    index.add(x)
    sims, idx = index.search(x, k)
    own = idx == np.arange(n)[:, None]
    # drop each row's own id (not always in column 0 when exact duplicates exist), keep order
    keep = ~own & (idx >= 0)
    first = np.where(keep.any(1), keep.argmax(1), -1)
    nn_index = np.where(first >= 0, idx[np.arange(n), first], -1).astype(np.int64)
    nn_sim = pair_sims(x, np.arange(n), nn_index)
    pairs, psims = np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    if pair_threshold is not None:
        rows, cols = np.nonzero(keep & (sims >= pair_threshold))
        i, j = rows.astype(np.int64), idx[rows, cols].astype(np.int64)
        pairs = np.unique(np.stack([np.minimum(i, j), np.maximum(i, j)], 1), axis=0)
        psims = pair_sims(x, pairs[:, 0], pairs[:, 1])
    return NeighbourScan(nn_index, nn_sim, pairs, psims, "exact",
                         {"index": "faiss.IndexFlatIP", "knn_k": k - 1})


def pair_sims(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    out = np.full(len(i), np.nan, np.float32)
    ok = j >= 0
    for s in range(0, int(ok.sum()), 65536):
        sel = np.flatnonzero(ok)[s:s + 65536]
        out[sel] = np.einsum("ij,ij->i", x[i[sel]], x[j[sel]])
    return out



def components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label per item for the graph on n items with edges `pairs`.

    >>> components(5, np.array([[0, 1], [3, 4], [1, 2]])).tolist()
    [0, 0, 0, 1, 1]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels


def near_duplicate_groups(emb, threshold: float, knn_k: int = 10, method: str = "auto",
                          scan: NeighbourScan | None = None) -> list[list[int]]:
    """Groups of items linked by cosine >= threshold (connected components), largest first.

    Pairs come from `neighbour_scan` (k-NN with k = knn_k up to 50k items, so never an n x n
    matrix). Pass `scan` to reuse one already made with the same threshold.

    >>> near_duplicate_groups([[1, 0], [0.999, 0.04], [0, 1], [0.02, 0.999], [-1, 0]], 0.99)
    [[0, 1], [2, 3]]
    """
    if scan is None:
        scan = neighbour_scan(emb, pair_threshold=threshold, knn_k=knn_k, method=method)
    n = len(scan.nn_index)
    if not len(scan.pairs):
        return []
    labels = components(n, scan.pairs)
    sizes = np.bincount(labels)
    groups: dict[int, list[int]] = {}
    for i in np.flatnonzero(sizes[labels] >= 2):
        groups.setdefault(int(labels[i]), []).append(int(i))
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def lineage_nn_similarity(emb, root_ids, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the cosine to its nearest other item of the SAME lineage (same root_id) and to
    its nearest item of ANOTHER lineage; nan where there is none.

    An evolution is naturally close to its own parent, so a small overall nearest-neighbour
    distance can mean "rewrites of one seed" rather than "the set repeats itself"; the across-
    lineage distance is the one that says whether different seeds' lineages converge.
    Exact, one chunk of rows against all items at a time (O(n^2 d) time, O(chunk n) memory):
    meant for up to EXACT_MAX items.

    >>> w, a = lineage_nn_similarity([[1, 0], [0.8, 0.6], [0, 1]], ["a", "a", "b"])
    >>> [round(float(v), 2) for v in w], [round(float(v), 2) for v in a]
    ([0.8, 0.8, nan], [0.0, 0.6, 0.6])
    """
    x = as_unit(emb)
    n = len(x)
    _, root = np.unique(np.asarray([str(r) for r in root_ids], dtype=object), return_inverse=True)
    if len(root) != n:
        raise ValueError(f"{n} embeddings but {len(root)} root ids")
    within = np.full(n, np.nan, np.float32)
    across = np.full(n, np.nan, np.float32)
    for s in range(0, n, chunk):
        sims = x[s:s + chunk] @ x.T
        rows = np.arange(len(sims))
        sims[rows, rows + s] = -np.inf  # never an item's own row
        same = root[s:s + chunk, None] == root[None, :]
        w = np.where(same, sims, -np.inf).max(1, initial=-np.inf)
        a = np.where(same, -np.inf, sims).max(1, initial=-np.inf)
        within[s:s + chunk] = np.where(np.isfinite(w), w, np.nan)
        across[s:s + chunk] = np.where(np.isfinite(a), a, np.nan)
    return within, across
