"""Nearest-neighbour pass of the diversity stage at large n: time, peak memory, recall.

Data: N random unit vectors of dim 384 (float32, seed 0), the worst case for any
approximate index (no clusters to exploit). Three measurements in one run:
  seconds  the full pass with the large-n method (workbench.diversity.neighbour_scan with
           method="blocked"): every vector's top-1 neighbour other than itself
  peak     ru_maxrss of the whole process (data, index, torch, everything), in GiB
  recall   recall@1 on the first 20_000 vectors: exact faiss IndexFlatIP vs the same
           blocked method with the same settings, both with the subset as queries and database

    python bench/diversity.py [--n 250000] [--dim 384] [--subset 20000] [--block 2048] [--workers 0]
Last line: seconds=<s> peak_gib=<g> recall=<r>
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def exact_top1(x: np.ndarray) -> np.ndarray:
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    _, idx = index.search(x, 2)
    return np.where(idx[:, 0] == np.arange(len(x)), idx[:, 1], idx[:, 0])


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=250_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--subset", type=int, default=20_000)
    ap.add_argument("--block", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=0, help="0: one per CPU this process may use")
    ap.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp32"])
    args = ap.parse_args()

    import faiss
    import torch

    from workbench.diversity import cpu_has_bf16, neighbour_scan

    x = unit_vectors(args.n, args.dim)
    print(f"data: n={args.n} dim={args.dim} float32 random unit vectors, seed 0; "
          f"cpus={len(os.sched_getaffinity(0))} cpu_bf16={cpu_has_bf16()} "
          f"torch={torch.__version__} faiss={faiss.__version__}", flush=True)
    settings = dict(method="blocked", block=args.block, workers=args.workers or None, dtype=args.dtype)

    t0 = time.perf_counter()
    scan = neighbour_scan(x, **settings)
    seconds = time.perf_counter() - t0
    assert (scan.nn_index >= 0).all() and (scan.nn_index != np.arange(args.n)).all()
    print(f"method={scan.method} settings={scan.settings}", flush=True)
    print(f"full pass: {seconds:.1f} s for {args.n} vectors; mean top-1 cosine "
          f"{float(scan.nn_similarity.mean()):.4f}", flush=True)

    m = min(args.subset, args.n)
    sub = np.ascontiguousarray(x[:m])
    t1 = time.perf_counter()
    truth = exact_top1(sub)
    t_exact = time.perf_counter() - t1
    t1 = time.perf_counter()
    got = neighbour_scan(sub, **settings)
    t_sub = time.perf_counter() - t1
    recall = float((got.nn_index == truth).mean())
    true_sim = np.einsum("ij,ij->i", sub, sub[truth])
    gap = float((true_sim - got.nn_similarity).max())  # how much worse the found neighbour is, at most
    print(f"subset {m}: exact faiss IndexFlatIP {t_exact:.1f} s, blocked {t_sub:.1f} s "
          f"(settings {got.settings}); recall@1 {recall:.4f}; "
          f"largest similarity shortfall vs the true neighbour {gap:.5f}", flush=True)
    print(f"seconds={seconds:.1f} peak_gib={peak_gib():.2f} recall={recall:.4f}")


if __name__ == "__main__":
    main()
