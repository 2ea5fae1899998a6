"""2-D coordinates of embeddings for the scatter plot: PCA (numpy) or UMAP (if installed)."""

from __future__ import annotations

import numpy as np

from workbench.stages.diversity.metrics import as_unit

PROJECTIONS = ("pca", "umap")
UMAP_MISSING = ('diversity.projection: "umap" needs the umap-learn package, which is not '
                'installed (pip install umap-learn into .venv), or use projection "pca"')


def umap_available() -> bool:
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def project_2d(emb, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(n, 2) coordinates: PCA with deterministic signs, or UMAP with a fixed random_state.

    >>> project_2d([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]]).shape
    (4, 2)
    """
    x = as_unit(emb).astype(np.float64)
    if method == "umap":
        if not umap_available():
            raise RuntimeError(UMAP_MISSING)
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
