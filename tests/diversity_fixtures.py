"""Embeddings for the diversity tests, built here: random and clustered unit vectors, and a
deterministic bag-of-words embedder standing in for sentence-transformers."""

import hashlib

import numpy as np


def unit(a):
    a = np.asarray(a, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def random_unit(n, d, seed=0):
    return unit(np.random.default_rng(seed).standard_normal((n, d)))


def hashing_embedder(dim=64):
    """Deterministic fake embedder: bag of hashed words. Counts its calls and texts."""
    calls = []

    def embed(texts):
        calls.append(list(texts))
        out = np.zeros((len(texts), dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "big")
                out[i, h % dim] += 1.0
        out[:, 0] += 1e-3  # no all-zero rows
        return unit(out)

    embed.calls = calls
    return embed


def clustered(n_clusters=12, per=25, d=32, noise=0.35, seed=0):
    rng = np.random.default_rng(seed)
    centres = random_unit(n_clusters, d, seed + 1)
    x = np.repeat(centres, per, axis=0) + noise * rng.standard_normal((n_clusters * per, d)) / np.sqrt(d)
    return unit(x), np.repeat(np.arange(n_clusters), per)
