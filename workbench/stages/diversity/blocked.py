"""Nearest neighbours of a large set from a symmetric blocked X X^T, never an n x n matrix.

Why not HNSW or IVF for large n: on the bench (250k random unit vectors, 384 dims; random data
is the worst case for any partitioning or graph index) IVF finds the true nearest neighbour
only 30-70% of the time while scanning 12-50% of the lists, and HNSW (M=32, efSearch=128) gets
0.7-0.8 recall while running slower than exact search. What does meet the targets is exact
search in bfloat16: a blocked, symmetric X X^T (each pair computed once) on CPUs with
AVX512-BF16 or AMX, about 4x the fp32 throughput, with only the row/column maxima kept per block.

Used by `neighbours.neighbour_scan(method="blocked")`, the default above 50k items.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from workbench.stages.diversity.neighbours import NeighbourScan, pair_sims


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


def blocked_scan(x: np.ndarray, pair_threshold: float | None, block: int, workers: int | None,
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
            sims = pair_sims(x, cand[:, 0], cand[:, 1])
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
    nn_sim = pair_sims(x, np.arange(n), nn_index)
    pairs, psims = np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    if found_pairs:
        pairs = np.concatenate(found_pairs)
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        psims = pair_sims(x, pairs[:, 0], pairs[:, 1])
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
