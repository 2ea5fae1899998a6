"""Set-level diversity of embeddings: mean pairwise cosine distance and the Vendi score.

Every function takes an (n, d) array of embeddings; rows are L2-normalised here, so cosine
similarity is a dot product. Both metrics are exact for any n and never build an n x n matrix.

Both depend on n: Vendi grows with the number of items (it counts "effectively distinct"
ones), so compare groups of different sizes with `equal_n` rather than with these raw values.
"""

from __future__ import annotations

import contextlib

import numpy as np


def normalize(emb) -> np.ndarray:
    """C-contiguous float32 copy with unit-length rows (all-zero rows stay zero).

    >>> normalize([[3, 4], [0, 0]]).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    x = np.array(emb, dtype=np.float32, copy=True, ndmin=2)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return np.ascontiguousarray(x)


def as_unit(emb) -> np.ndarray:
    """`emb` itself when it is already unit-norm C-contiguous float32 (no copy of a large
    array), else normalize(emb)."""
    if isinstance(emb, np.ndarray) and emb.dtype == np.float32 and emb.ndim == 2 and emb.flags.c_contiguous:
        norms = np.einsum("ij,ij->i", emb, emb)
        if np.all((np.abs(norms - 1) < 1e-4) | (norms == 0)):
            return emb
    return normalize(emb)


def mean_pairwise_cosine_distance(emb) -> float | None:
    """Mean of 1 - cos(x_i, x_j) over all pairs i != j; None for fewer than 2 items.

    Exact in O(n d), no pair matrix: for unit rows,
    sum_{i != j} x_i . x_j = |sum_i x_i|^2 - sum_i |x_i|^2.

    >>> round(mean_pairwise_cosine_distance([[1, 0], [0, 1], [-1, 0]]), 4)  # pair distances 1, 2, 1
    1.3333
    """
    x = as_unit(emb)
    n = len(x)
    if n < 2:
        return None
    s = x.sum(axis=0, dtype=np.float64)
    sq = float(np.einsum("ij,ij->", x, x, dtype=np.float64))
    return 1.0 - (float(s @ s) - sq) / (n * (n - 1))


def _one_blas_thread():
    """Limit BLAS to one thread where threadpoolctl is installed (scikit-learn brings it).
    05 computes many small eigen-decompositions; with two threads on a busy CPU each one
    waited on the other thread, about 100 times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def vendi_score(emb) -> float | None:
    """Vendi score: exp of the Shannon entropy of the eigenvalues of K/n, K_ij = cos(x_i, x_j).

    It reads as an effective number of distinct items: n for n mutually orthogonal items,
    1 when all are identical. K/n = X X^T / n has the same non-zero eigenvalues as X^T X / n,
    which is d x d (d = embedding size), so the cost is O(n d^2) whatever n is.

    >>> round(vendi_score([[1, 0], [0, 1]]), 4), round(vendi_score([[1, 0], [1, 0]]), 4)
    (2.0, 1.0)
    >>> round(vendi_score([[1, 0], [0, 1], [1, 0]]), 4)  # eigenvalues 2/3 and 1/3
    1.8899
    """
    x = as_unit(emb).astype(np.float64)
    n = len(x)
    if n == 0:
        return None
    small = x @ x.T if n <= x.shape[1] else x.T @ x
    with _one_blas_thread():  # a 384 x 384 eigenproblem: BLAS threads only contend (828 ms vs 8 ms loaded)
        lam = np.clip(np.linalg.eigvalsh(small / n), 0.0, None)
    lam = lam[lam > 1e-12]
    lam = lam / lam.sum()
    return float(np.exp(-(lam * np.log(lam)).sum()))


def rounded(v, nd: int = 6):
    """round(v, nd) as a float, None stays None (stats.json never holds NaN)."""
    return None if v is None else round(float(v), nd)
