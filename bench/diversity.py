"""The diversity stage at scale, and its equal-n comparison on real instructions.

Equal n (first, small): the bundled seed instructions, embedded with the bundled MiniLM, split
at random (seed 0) into disjoint groups of 16 and 64 drawn from the same distribution. Printed:
raw Vendi and k-means coverage per group (each at its own n), then both at equal n with their
95 % intervals, and the claim verdict. Then the cost of the equal-n comparison (200 subsets per
group) and of the exact within/across-lineage scan at --scale-n random vectors.

Nearest-neighbour pass at large n. Data: N random unit vectors of dim 384 (float32, seed 0),
the worst case for any approximate index (no clusters to exploit). Three measurements:
  seconds  the full pass with the large-n method (workbench.stages.diversity.neighbour_scan with
           method="blocked"): every vector's top-1 neighbour other than itself
  peak     ru_maxrss of the whole process (data, index, torch, everything), in GiB
  recall   recall@1 on the first 20_000 vectors: exact faiss IndexFlatIP vs the same
           blocked method with the same settings, both with the subset as queries and database

    python bench/diversity.py [--n 250000] [--dim 384] [--subset 20000] [--block 2048] [--workers 0]
                              [--scale-n 20000] [--repeats 200]
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


def equal_n_on_seeds(repeats: int) -> None:
    """Same distribution at 16 and 64: raw numbers differ, equal-n intervals should overlap."""
    from workbench.core.io import read_jsonl
    from workbench.core.records import full_text
    from workbench.data import data_path
    from workbench.stages.diversity import (
        diversity_claim,
        equal_n_compare,
        kmeans_labels,
        vendi_score,
    )
    from workbench.stages.diversity.embed import EmbedModelError, embed_texts

    texts = [full_text(r) for r in read_jsonl(data_path("bundled", "seeds.jsonl"))]
    try:
        emb = embed_texts(texts)
    except EmbedModelError as e:
        print(f"equal n on seeds: skipped, {e}", flush=True)
        return
    pick = np.random.default_rng(0).permutation(len(texts))[:80]
    x = emb[pick]
    groups = {"seeds": np.arange(80) < 16, "evolved": np.arange(80) >= 16}  # the names the claim reads
    labels, k = kmeans_labels(x, 16, seed=0)
    for g, m in groups.items():
        cov = len(np.unique(labels[m])) / k
        print(f"raw, own n: {g:>7} n={int(m.sum()):>2} vendi={vendi_score(x[m]):.1f} coverage={cov:.2f}", flush=True)
    cmp = equal_n_compare(x, groups, repeats=repeats, seed=0, labels=labels, k=k)
    for g, r in cmp["groups"].items():
        v, c = r["vendi"], r["cluster_coverage"]
        print(f"equal n={cmp['n']}: {g:>7} vendi={v['mean']:.1f} [{v['lo']:.1f}, {v['hi']:.1f}] "
              f"coverage={c['mean']:.2f} [{c['lo']:.2f}, {c['hi']:.2f}]", flush=True)
    claim = diversity_claim(cmp)
    print(f"claim on two halves of one distribution: {claim['verdict']} ({claim['reason']})", flush=True)


def scale_costs(n: int, dim: int, repeats: int) -> None:
    """Seconds for the equal-n comparison and the exact lineage scan on n random vectors."""
    from workbench.stages.diversity import equal_n_compare, lineage_distances

    x = unit_vectors(n, dim, seed=1)
    rounds = np.arange(n) % 5  # 1/5 seeds (round 0), 4/5 evolved over rounds 1-4
    roots = np.arange(n) // 5  # lineages of five rows
    t0 = time.perf_counter()
    cmp = equal_n_compare(x, {"seeds": rounds == 0, "evolved": rounds > 0}, repeats=repeats, seed=0)
    t_eq = time.perf_counter() - t0
    t0 = time.perf_counter()
    lin = lineage_distances(x, rounds, roots)
    t_lin = time.perf_counter() - t0
    print(f"scale n={n}: equal-n seeds vs evolved (n={cmp['n']}, {repeats} subsets per group) {t_eq:.1f} s; "
          f"exact within/across-lineage scan {t_lin:.1f} s "
          f"(across median {lin['groups']['all']['across']['median_distance']})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=250_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--subset", type=int, default=20_000)
    ap.add_argument("--block", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=0, help="0: one per CPU this process may use")
    ap.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp32"])
    ap.add_argument("--scale-n", type=int, default=20_000, help="rows for the equal-n and lineage timings")
    ap.add_argument("--repeats", type=int, default=200, help="subsets per group at equal n")
    args = ap.parse_args()

    equal_n_on_seeds(args.repeats)
    scale_costs(args.scale_n, args.dim, args.repeats)

    import faiss
    import torch

    from workbench.stages.diversity import cpu_has_bf16, neighbour_scan

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
