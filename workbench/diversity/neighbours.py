"""Diversity of an instruction set, measured on its sentence embeddings.

Every function takes an (n, d) array of embeddings (rows are L2-normalised here, so cosine
similarity is a dot product) and is plain numpy, faiss or a blocked matrix product:

    mean_pairwise_cosine_distance   mean of 1 - cos over all pairs, exact in O(n d)
    vendi_score                     exp(entropy of the eigenvalues of K/n), exact in O(n d^2)
    neighbour_scan                  each item's nearest neighbour + pairs above a threshold
    nn_distances                    1 - cosine to the nearest other item
    near_duplicate_groups           connected components of pairs with cosine >= threshold
    kmeans_labels, cluster_coverage, cluster_entropy
    deita_select                    score-first greedy selection with a similarity cap (Deita)
    metrics_by_group                all of it: overall, per round, seeds vs evolved
    project_2d                      PCA (numpy) or UMAP (if installed) for the scatter plot

faiss-cpu notes (the parts used here):
  * `faiss.IndexFlatIP` is exact inner-product search; on unit vectors that is cosine. It wants
    C-contiguous float32 (`np.ascontiguousarray(x, dtype=np.float32)`), and `search(q, k)`
    returns (similarities, indices) with -1 where fewer than k items exist. An item's own row
    is usually its first hit, but not always when exact duplicates exist: drop it by id.
  * `index.add` appends, so a flat index is the natural "items kept so far" set (deita_select).
  * `faiss.Kmeans(d, k, niter, seed, spherical=True)` is deterministic for a given seed;
    `min_points_per_centroid=1` silences the warning for small n, and k must be <= n.
  * faiss uses OpenMP threads (`faiss.omp_set_num_threads`); it is fast for exact search up to
    about 50k items. Beyond that see `neighbour_scan`.

Why no HNSW or IVF for large n: on the bench (250k random unit vectors, 384 dims; random data
is the worst case for any partitioning or graph index) IVF finds the true nearest neighbour
only 30-70% of the time while scanning 12-50% of the lists, and HNSW (M=32, efSearch=128) gets
0.7-0.8 recall while running slower than exact search. What does meet the targets is exact
search in bfloat16: a blocked, symmetric X X^T (each pair computed once) on CPUs with AVX512-BF16
or AMX, about 4x the fp32 throughput, with only the row/column maxima kept per block.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EXACT_MAX = 50_000  # up to this many items, faiss exact search; above, the blocked bf16 scan
PROJECTIONS = ("pca", "umap")


# --------------------------------------------------------------------------- basics

def normalize(emb) -> np.ndarray:
    """C-contiguous float32 copy with unit-length rows (all-zero rows stay zero).

    >>> normalize([[3, 4], [0, 0]]).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    x = np.array(emb, dtype=np.float32, copy=True, ndmin=2)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return np.ascontiguousarray(x)


def _unit(emb) -> np.ndarray:
    """`emb` itself when it is already unit-norm float32 (no copy of a large array), else normalize()."""
    if isinstance(emb, np.ndarray) and emb.dtype == np.float32 and emb.ndim == 2 and emb.flags.c_contiguous:
        norms = np.einsum("ij,ij->i", emb, emb)
        if np.all((np.abs(norms - 1) < 1e-4) | (norms == 0)):
            return emb
    return normalize(emb)


# --------------------------------------------------------------------------- global metrics

def mean_pairwise_cosine_distance(emb) -> float | None:
    """Mean of 1 - cos(x_i, x_j) over all pairs i != j; None for fewer than 2 items.

    Exact for any n in O(n d), no pair matrix: for unit rows,
    sum_{i != j} x_i . x_j = |sum_i x_i|^2 - sum_i |x_i|^2.

    >>> round(mean_pairwise_cosine_distance([[1, 0], [0, 1], [-1, 0]]), 4)  # pair distances 1, 2, 1
    1.3333
    """
    x = _unit(emb)
    n = len(x)
    if n < 2:
        return None
    s = x.sum(axis=0, dtype=np.float64)
    sq = float(np.einsum("ij,ij->", x, x, dtype=np.float64))
    mean_cos = (float(s @ s) - sq) / (n * (n - 1))
    return 1.0 - mean_cos


def vendi_score(emb) -> float | None:
    """Vendi score: exp of the Shannon entropy of the eigenvalues of K/n, K_ij = cos(x_i, x_j).

    It reads as an effective number of distinct items: n for n mutually orthogonal items,
    1 when all items are identical. Exact for any n, never an n x n matrix: K/n = X X^T / n
    has the same non-zero eigenvalues as X^T X / n, which is d x d (d = embedding size).

    >>> round(vendi_score([[1, 0], [0, 1]]), 4), round(vendi_score([[1, 0], [1, 0]]), 4)
    (2.0, 1.0)
    >>> round(vendi_score([[1, 0], [0, 1], [1, 0]]), 4)  # eigenvalues 2/3 and 1/3
    1.8899
    """
    x = _unit(emb).astype(np.float64)
    n = len(x)
    if n == 0:
        return None
    small = x @ x.T if n <= x.shape[1] else x.T @ x
    lam = np.clip(np.linalg.eigvalsh(small / n), 0.0, None)
    lam = lam[lam > 1e-12]
    lam = lam / lam.sum()
    return float(np.exp(-(lam * np.log(lam)).sum()))


# --------------------------------------------------------------------------- neighbours

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
    x = _unit(emb)
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
        return _blocked_scan(x, pair_threshold, block, workers, dtype, seed)
    raise ValueError(f"unknown neighbour method {method!r}: use auto, exact or blocked")


def nn_distances(emb, method: str = "auto", **kw) -> np.ndarray:
    """Cosine distance (1 - cos) from each item to its nearest other item (nan for a lone item).

    >>> [round(float(v), 2) for v in nn_distances([[1, 0], [0.6, 0.8], [0, 1]])]
    [0.4, 0.2, 0.2]
    """
    return neighbour_scan(emb, method=method, **kw).nn_distance


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
    nn_sim = _pair_sims(x, np.arange(n), nn_index)
    pairs, psims = np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    if pair_threshold is not None:
        rows, cols = np.nonzero(keep & (sims >= pair_threshold))
        i, j = rows.astype(np.int64), idx[rows, cols].astype(np.int64)
        pairs = np.unique(np.stack([np.minimum(i, j), np.maximum(i, j)], 1), axis=0)
        psims = _pair_sims(x, pairs[:, 0], pairs[:, 1])
    return NeighbourScan(nn_index, nn_sim, pairs, psims, "exact",
                         {"index": "faiss.IndexFlatIP", "knn_k": k - 1})


def _pair_sims(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    out = np.full(len(i), np.nan, np.float32)
    ok = j >= 0
    for s in range(0, int(ok.sum()), 65536):
        sel = np.flatnonzero(ok)[s:s + 65536]
        out[sel] = np.einsum("ij,ij->i", x[i[sel]], x[j[sel]])
    return out


def cpu_has_bf16() -> bool:
    """True where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), read from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _n_workers(workers: int | None) -> int:
    if workers:
        return max(1, int(workers))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _blocked_scan(x: np.ndarray, pair_threshold: float | None, block: int, workers: int | None,
                  dtype: str, seed: int) -> NeighbourScan:
    """Nearest neighbours from a symmetric blocked X X^T in bf16 (or fp32), no n x n matrix.

    Pass 1, over block pairs (I, J >= I), each computed once: every item keeps only the two
    blocks holding its largest similarities (row maxima for items of I, column maxima for
    items of J; `amax` only, no argmax). Pass 2, in fp32: each item against its best block,
    and its second best where the two maxima are within bf16 rounding (0.01), gives the
    neighbour and its exact similarity. So the result is exact unless bf16 rounding moved the
    true neighbour's block out of the top two.

    Worker threads take whole block-rows, torch limited to one thread each: no barrier waits
    between cores, so a machine busy with other work slows the scan down only in proportion.

    bf16 products are rounded to 8 significant bits. To resolve the top values finely, the
    typical nearest-neighbour similarity c (from a sample) is subtracted inside the product
    via one extra column, [x, -c] . [y, 1] = x.y - c, so the values that matter are small.
    """
    import torch

    n, d = x.shape
    if dtype == "auto":
        dtype = "bf16" if cpu_has_bf16() else "fp32"
    if dtype not in ("bf16", "fp32"):
        raise ValueError(f"dtype must be auto, bf16 or fp32, got {dtype!r}")
    block = max(64, int(block))
    nw = _n_workers(workers)

    offset = 0.0
    if dtype == "bf16":
        offset = float(torch.tensor(_typical_nn_similarity(x, seed), dtype=torch.bfloat16))
        width = -(-(d + 1) // 32) * 32  # one offset column, padded to what the kernels like
        left = torch.zeros((n, width), dtype=torch.bfloat16)
        xt = torch.from_numpy(x)
        for s in range(0, n, 65536):  # convert in slices: no second fp32 copy of x
            left[s:s + 65536, :d] = xt[s:s + 65536]
        right = left.clone()
        left[:, d] = -offset
        right[:, d] = 1.0
    else:
        left = right = torch.from_numpy(x)

    # top-2 blocks per item: values (shifted by offset) and block numbers
    v1 = torch.full((n,), -math.inf)
    v2 = torch.full((n,), -math.inf)
    b1 = torch.full((n,), -1, dtype=torch.int32)
    b2 = torch.full((n,), -1, dtype=torch.int32)
    lock = threading.Lock()
    found_pairs: list[np.ndarray] = []
    thr = None if pair_threshold is None else float(pair_threshold) - offset - 0.02

    def push(lo: int, hi: int, val: torch.Tensor, blk) -> None:
        """Insert one candidate (value, block) per item lo..hi-1 into its top-2 (under the lock)."""
        blk = torch.as_tensor(blk, dtype=torch.int32).expand(hi - lo)
        cv1, cb1, cv2, cb2 = v1[lo:hi], b1[lo:hi], v2[lo:hi], b2[lo:hi]
        first = val > cv1
        second = ~first & (val > cv2)
        nv2 = torch.where(first, cv1, torch.where(second, val, cv2))
        nb2 = torch.where(first, cb1, torch.where(second, blk, cb2))
        v1[lo:hi] = torch.where(first, val, cv1)
        b1[lo:hi] = torch.where(first, blk, cb1)
        v2[lo:hi] = nv2
        b2[lo:hi] = nb2

    def strip(bi: int) -> None:
        torch.set_num_threads(1)
        a, b = bi * block, min(bi * block + block, n)
        lhs = left[a:b]
        rows, cols, pairs = [], [], []
        for bj, c0 in enumerate(range(a, n, block), start=bi):
            c1 = min(c0 + block, n)
            sim = torch.mm(lhs, right[c0:c1].t())
            if bj == bi:
                sim.fill_diagonal_(-math.inf)
            rmax = sim.amax(1)
            rows.append((rmax.float(), bj))
            if bj != bi:
                cols.append((c0, c1, sim.amax(0).float()))
            if thr is not None:
                hit = (rmax >= thr).nonzero().squeeze(1)
                if len(hit):
                    rr, cc = (sim.index_select(0, hit) >= thr).nonzero(as_tuple=True)
                    i, j = hit[rr] + a, cc + c0
                    keep = i < j  # the diagonal block holds each pair twice
                    pairs.append(torch.stack([i[keep], j[keep]], 1).numpy())
        if pairs:  # check in fp32; a crowd of copies is cut to a spanning forest
            cand = np.concatenate(pairs).astype(np.int64)
            sims = _pair_sims(x, cand[:, 0], cand[:, 1])
            ok = sims >= pair_threshold
            pairs = [_strongest_forest(cand[ok], sims[ok], cap=8 * block)]
        with lock:
            for val, bj in rows:
                push(a, b, val, bj)
            for c0, c1, val in cols:
                push(c0, c1, val, bi)
            if pairs:
                found_pairs.append(pairs[0])

    def rerank(bj: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Exact fp32 best neighbour of the items whose top-2 blocks include block bj."""
        torch.set_num_threads(1)
        c0, c1 = bj * block, min(bj * block + block, n)
        items = torch.nonzero((b1 == bj) | ((b2 == bj) & (v2 >= v1 - tol))).squeeze(1)
        out = []
        db = torch.from_numpy(x[c0:c1])
        for s in range(0, len(items), 4096):
            it = items[s:s + 4096]
            sim = torch.from_numpy(x[it.numpy()]) @ db.t()
            own = (it >= c0) & (it < c1)
            sim[own.nonzero().squeeze(1), it[own] - c0] = -math.inf
            val, arg = sim.max(1)
            out.append((it.numpy(), val.numpy(), (arg + c0).numpy()))
        return out

    # the second block is worth a look only where bf16 rounding could have swapped the two
    tol = 0.01 if dtype == "bf16" else 1e-4
    nblocks = -(-n // block)
    saved_threads = torch.get_num_threads()
    try:
        with ThreadPoolExecutor(max_workers=nw) as pool:
            list(pool.map(strip, range(nblocks)))
            reranked = [r for part in pool.map(rerank, range(nblocks)) for r in part]
    finally:
        torch.set_num_threads(saved_threads)

    best_sim = np.full(n, -np.inf, np.float32)
    nn_index = np.full(n, -1, np.int64)
    for it, val, arg in reranked:  # each item appears once or twice (its two blocks)
        better = val > best_sim[it]
        best_sim[it[better]] = val[better]
        nn_index[it[better]] = arg[better]
    nn_sim = _pair_sims(x, np.arange(n), nn_index)
    pairs, psims = np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    if found_pairs:
        pairs = np.concatenate(found_pairs)
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        psims = _pair_sims(x, pairs[:, 0], pairs[:, 1])
    settings = {"block": block, "workers": nw, "dtype": dtype, "offset": offset,
                "torch_threads_per_worker": 1, "candidate_blocks_per_item": 2}
    return NeighbourScan(nn_index, nn_sim, pairs, psims, f"blocked-{dtype}", settings)


def _strongest_forest(pairs: np.ndarray, sims: np.ndarray, cap: int) -> np.ndarray:
    """`pairs` itself when there are at most `cap`, else a maximum spanning forest of them:
    the same connected components from at most (items - 1) real pairs, the strongest links.
    This bounds memory when thousands of items are copies of each other."""
    if len(pairs) <= cap:
        return pairs
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    nodes, local = np.unique(pairs, return_inverse=True)
    local = local.reshape(-1, 2)
    m = len(nodes)
    weight = 2.0 - sims.astype(np.float64)  # >= 1: scipy reads a zero weight as "no edge"
    tree = minimum_spanning_tree(coo_matrix((weight, (local[:, 0], local[:, 1])), shape=(m, m))).tocoo()
    i, j = nodes[tree.row], nodes[tree.col]
    return np.stack([np.minimum(i, j), np.maximum(i, j)], 1).astype(np.int64)


def _typical_nn_similarity(x: np.ndarray, seed: int, sample: int = 256) -> float:
    """Median nearest-neighbour cosine of a fixed-seed sample of items (exact, sample x n)."""
    n = len(x)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(n, size=min(sample, n), replace=False))
    best = np.full(len(pick), -np.inf, np.float32)
    for s in range(0, n, 65536):
        sims = x[pick] @ x[s:s + 65536].T
        own = (pick >= s) & (pick < s + 65536)
        sims[np.flatnonzero(own), pick[own] - s] = -np.inf
        best = np.maximum(best, sims.max(1))
    return float(np.median(best))


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


# --------------------------------------------------------------------------- clusters

def kmeans_labels(emb, k: int, seed: int = 0, niter: int = 20, nredo: int = 5) -> tuple[np.ndarray, int]:
    """Spherical k-means (faiss.Kmeans, fixed seed) cluster of each item, and the k used (<= n).

    faiss starts from k random items; `nredo` restarts keep the best objective, which avoids
    most merged-and-split local optima on small sets.

    >>> labels, k = kmeans_labels([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], 2)
    >>> k, bool(labels[0] == labels[1]), bool(labels[0] != labels[2])
    (2, True, True)
    """
    import faiss

    x = _unit(emb)
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


# --------------------------------------------------------------------------- selection

def deita_select(ids: Sequence[str], emb, scores: Sequence, tau: float, budget: int = 0,
                 chunk: int = 256) -> tuple[list[str], dict]:
    """Deita-style selection: best score first, keep an item only if it is not too close to
    any item ALREADY KEPT (max cosine < tau), stop once `budget` items are kept (0: no budget).

    Items are visited by score descending; None (or NaN) scores go last; ties by id. The kept
    set is an incremental faiss IndexFlatIP; candidates are checked a chunk at a time against
    it, and inside the chunk against the ones kept earlier in the same chunk, so the result is
    the same as the one-by-one loop. Unlike "drop every item whose nearest neighbour is close",
    of two near-identical items the better-scored one is kept.

    Returns (kept ids in selection order, report) where the report counts candidates, kept,
    rejected_by_tau (too close to a kept item), not_reached_budget (never looked at because
    the budget was full) and missing_scores.

    >>> deita_select(["a", "b", "c"], [[1, 0], [0.99, 0.14], [0, 1]], [1.0, 5.0, None], tau=0.9)[0]
    ['b', 'c']
    """
    import faiss

    x = _unit(emb)
    n = len(ids)
    if len(x) != n or len(scores) != n:
        raise ValueError(f"ids, emb and scores differ in length: {n}, {len(x)}, {len(scores)}")

    def key(i):
        s = scores[i]
        missing = s is None or (isinstance(s, float) and math.isnan(s))
        return (missing, 0.0 if missing else -float(s), str(ids[i]))

    order = sorted(range(n), key=key)
    missing = sum(1 for i in range(n) if key(i)[0])
    index = faiss.IndexFlatIP(x.shape[1]) if n else None
    kept: list[int] = []
    rejected = 0
    visited = 0
    full = False
    for s in range(0, n, chunk):
        cand = order[s:s + chunk]
        xc = x[cand]
        if index.ntotal:
            prior = index.search(xc, 1)[0][:, 0]
        else:
            prior = np.full(len(cand), -np.inf, np.float32)
        within = xc @ xc.T
        local: list[int] = []
        for t, i in enumerate(cand):
            if budget and len(kept) >= budget:
                full = True
                break
            visited += 1
            if prior[t] >= tau or (local and within[t, local].max() >= tau):
                rejected += 1
                continue
            local.append(t)
            kept.append(i)
        if local:
            index.add(np.ascontiguousarray(xc[local]))
        if full:
            break
    report = {"tau": tau, "budget": budget, "candidates": n, "kept": len(kept),
              "rejected_by_tau": rejected, "not_reached_budget": n - visited,
              "missing_scores": missing}
    return [ids[i] for i in kept], report


# --------------------------------------------------------------------------- all together

def group_metrics(emb, labels: np.ndarray | None = None, k: int = 0, mask=None,
                  scan: NeighbourScan | None = None) -> dict:
    """The metrics of one subset (mask; all items if None). Clusters (labels, k) are fit on all
    items; the nearest-neighbour distance is to the nearest other item of the same subset."""
    x = _unit(emb)
    sel = np.ones(len(x), bool) if mask is None else np.asarray(mask, bool)
    sub = x[sel] if mask is not None else x
    n = len(sub)
    if scan is None and n >= 2:
        scan = neighbour_scan(sub)
    nn = scan.nn_distance if scan is not None else np.zeros(0, np.float32)
    nn = nn[np.isfinite(nn)]
    out = {
        "n": int(n),
        "mean_pairwise_cosine_distance": _r(mean_pairwise_cosine_distance(sub)),
        "mean_nn_distance": _r(float(nn.mean())) if len(nn) else None,
        "median_nn_distance": _r(float(np.median(nn))) if len(nn) else None,
        "vendi": _r(vendi_score(sub)),
        "vendi_per_item": _r(vendi_score(sub) / n) if n else None,
    }
    if labels is not None and k:
        out["cluster_coverage"] = _r(cluster_coverage(labels, k, sel)) if n else None
        out["cluster_entropy"] = _r(cluster_entropy(labels, k, sel)) if n else None
    return out


def _r(v, nd: int = 6):
    return None if v is None else round(float(v), nd)


def metrics_by_group(emb, rounds: Sequence[int], kmeans_k: int = 16, seed: int = 0,
                     scan: NeighbourScan | None = None) -> dict:
    """Metrics overall, per round, and for seeds (round 0) vs evolved (round > 0).

    k-means is fit once on all items, so coverage compares subsets on the same clusters.
    `scan` (a neighbour_scan of all items) saves recomputing the overall nearest neighbours.

    >>> m = metrics_by_group([[1, 0], [0, 1], [0.7, 0.7], [-1, 0]], [0, 0, 1, 1], kmeans_k=2)
    >>> sorted(m), m["by_round"]["1"]["n"], m["seeds"]["n"]
    (['by_round', 'evolved', 'kmeans_k', 'overall', 'seeds', 'vendi_method'], 2, 2)
    """
    x = _unit(emb)
    rounds = np.asarray(rounds, dtype=np.int64)
    if len(rounds) != len(x):
        raise ValueError(f"{len(x)} embeddings but {len(rounds)} rounds")
    labels, k = kmeans_labels(x, kmeans_k, seed=seed)
    out = {"overall": group_metrics(x, labels, k, None, scan)}
    out["by_round"] = {str(r): group_metrics(x, labels, k, rounds == r) for r in sorted(set(rounds.tolist()))}
    out["seeds"] = group_metrics(x, labels, k, rounds == 0)
    out["evolved"] = group_metrics(x, labels, k, rounds > 0)
    out["kmeans_k"] = k
    out["vendi_method"] = "exact: eigenvalues of X^T X / n (d x d), equal to those of K/n"
    return out


# --------------------------------------------------------------------------- projection

def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def check_config(values: dict) -> list[str]:
    """Checks on the diversity params section that a type cannot express (for params.SECTION_CHECKS)."""
    errors = []
    if values.get("projection") == "umap" and not umap_available():
        errors.append('diversity.projection: "umap" needs the umap-learn package, which is not '
                      'installed (pip install umap-learn into .venv), or use projection "pca"')
    model = values.get("embed_model", "minilm")
    if model != "minilm" and not Path(model).expanduser().is_dir():
        errors.append(f"diversity.embed_model: {model!r} is neither minilm (the bundled all-MiniLM-L6-v2) "
                      "nor a local sentence-transformers folder")
    return errors


def project_2d(emb, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(n, 2) coordinates for a scatter plot: PCA (numpy, deterministic signs) or UMAP.

    >>> project_2d([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]).shape
    (4, 2)
    """
    x = _unit(emb).astype(np.float64)
    if method == "umap":
        if not umap_available():
            raise RuntimeError(check_config({"projection": "umap"})[0])
        import umap

        return umap.UMAP(n_components=2, metric="cosine", random_state=seed).fit_transform(x)
    if method != "pca":
        raise ValueError(f"unknown projection {method!r}: use one of {', '.join(PROJECTIONS)}")
    if len(x) == 0:
        return np.zeros((0, 2))
    xc = x - x.mean(0)
    _, vecs = np.linalg.eigh(xc.T @ xc)
    comp = vecs[:, ::-1][:, :2]
    cols = np.arange(comp.shape[1])
    comp = comp * np.where(comp[np.abs(comp).argmax(0), cols] < 0, -1, 1)  # fixed signs
    xy = xc @ comp
    if xy.shape[1] < 2:
        xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
    return xy
