"""Compare groups (seeds, evolved, each round) at EQUAL n, with intervals, and state the claim.

Vendi, Vendi per item and cluster coverage all depend on how many items are measured: 16
and 64 items drawn from one distribution give Vendi 13.8 and 39.0, coverage 0.64 and 0.98.
So every group is measured on subsets of the same size n (default: the smallest group's
size), drawn without replacement B times (`repeats`):

    cmp = equal_n_compare(emb, {"seeds": r == 0, "evolved": r > 0}, repeats=200, seed=0)
    cmp["groups"]["evolved"]["vendi"]      # {"mean", "lo", "hi"}: 2.5 / 97.5 percentiles
    claim = diversity_claim(cmp)           # supported / not supported / undetermined

What the interval means: the spread of the metric over which n items of the group were
drawn. A group of exactly n items is the same set in every draw, so its interval has zero
width ("whole": true); its own sampling noise is not in it. Pass an `n` below the smallest
group's size to give every group an interval. Each group draws from its own generator, seeded by (seed, group name), so
a group's numbers do not change when another group is added.
"""

from __future__ import annotations

import zlib

import numpy as np

from workbench.stages.diversity.kmeans import cluster_coverage, cluster_entropy
from workbench.stages.diversity.metrics import (
    as_unit,
    mean_pairwise_cosine_distance,
    rounded,
    vendi_score,
)

METRICS = ("vendi", "mean_pairwise_cosine_distance", "cluster_coverage", "cluster_entropy")
MIN_GROUP = 2  # a group of fewer items has no pairwise metric at all
MIN_CLAIM_N = 8  # below this, Vendi of a handful of items says nothing about a population
CLAIM_ID = "evolved_as_diverse"
CLAIM_STATEMENT = "evolved instructions are at least as diverse as the seeds at equal n"


def group_rng(seed: int, group: str) -> np.random.Generator:
    """The generator a group's subsets are drawn with: seeded by the run seed and the group name."""
    return np.random.default_rng([int(seed), zlib.crc32(group.encode("utf-8"))])


def subset_metrics(x: np.ndarray, labels: np.ndarray | None, k: int) -> dict:
    """Each of METRICS on one subset (rows of x, their cluster labels)."""
    out = {"vendi": vendi_score(x), "mean_pairwise_cosine_distance": mean_pairwise_cosine_distance(x)}
    if labels is not None and k:
        out["cluster_coverage"] = cluster_coverage(labels, k)
        out["cluster_entropy"] = cluster_entropy(labels, k)
    return out


def _interval(values: list) -> dict | None:
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    if len(v) == 0:
        return None
    lo, hi = np.percentile(v, [2.5, 97.5])
    return {"mean": rounded(v.mean()), "lo": rounded(lo), "hi": rounded(hi)}


def equal_n_compare(emb, groups: dict, repeats: int = 200, seed: int = 0, n: int = 0,
                    labels: np.ndarray | None = None, k: int = 0) -> dict:
    """Each group's metrics on `repeats` random subsets of n items, n = the smallest group's
    size (or `n` where that is smaller); groups of fewer than MIN_GROUP items are listed under "skipped" with why.

    `groups` maps a name to a boolean mask (or index array) over the rows of emb; `labels`
    and `k` are k-means clusters fit on ALL rows (coverage is counted on them).

    >>> x = np.eye(6, dtype=np.float32)
    >>> c = equal_n_compare(x, {"a": [0, 1], "b": [2, 3, 4, 5]}, repeats=10)
    >>> c["n"], c["groups"]["a"]["vendi"], c["groups"]["b"]["whole"]
    (2, {'mean': 2.0, 'lo': 2.0, 'hi': 2.0}, False)
    """
    x = as_unit(emb)
    index = {}
    for g, sel in groups.items():
        sel = np.asarray(sel)
        index[g] = np.flatnonzero(sel) if sel.dtype == bool else sel.astype(np.int64)
    skipped = {g: f"{len(i)} item(s), fewer than {MIN_GROUP}" for g, i in index.items() if len(i) < MIN_GROUP}
    usable = {g: i for g, i in index.items() if g not in skipped}
    out = {"n": None, "repeats": int(repeats), "seed": int(seed), "interval": "2.5 and 97.5 percentiles over repeats",
           "metrics": list(METRICS if labels is not None and k else METRICS[:2]), "groups": {}, "skipped": skipped}
    if not usable:
        return out
    smallest = min(len(i) for i in usable.values())
    m = int(min(n, smallest) if n else smallest)  # n only ever lowers the size, never above a group
    out["n"] = m
    for g, idx in usable.items():
        whole = len(idx) == m
        rng = group_rng(seed, g)
        draws = 1 if whole else max(1, int(repeats))  # the whole group is the same set every time
        values: dict[str, list] = {}
        for _ in range(draws):
            pick = np.sort(idx) if whole else np.sort(rng.choice(idx, size=m, replace=False))
            sub_labels = labels[pick] if labels is not None else None
            for name, v in subset_metrics(x[pick], sub_labels, k).items():
                values.setdefault(name, []).append(v)
        out["groups"][g] = {"size": int(len(idx)), "whole": whole} | {name: _interval(v) for name, v in values.items()}
    return out


def diversity_claim(cmp: dict, metric: str = "vendi", min_n: int = MIN_CLAIM_N) -> dict:
    """The paper's diversity claim for this run, from an equal-n comparison of "seeds" and
    "evolved":

      undetermined   either group is missing or has fewer than `min_n` items, or the equal n
                     is below `min_n`, or the two intervals overlap (the data cannot tell)
      supported      the evolved interval lies at or above the seeds' (evolved.lo >= seeds.hi)
      not supported  the evolved interval lies entirely below the seeds' (evolved.hi < seeds.lo)

    >>> g = {"seeds": {"size": 10, "vendi": {"mean": 5.0, "lo": 5.0, "hi": 5.0}},
    ...      "evolved": {"size": 30, "vendi": {"mean": 6.5, "lo": 6.0, "hi": 7.0}}}
    >>> diversity_claim({"n": 10, "groups": g})["verdict"]
    'supported'
    """
    groups = cmp.get("groups") or {}
    s, e = groups.get("seeds"), groups.get("evolved")
    out = {"id": CLAIM_ID, "statement": CLAIM_STATEMENT, "verdict": "undetermined", "metric": metric,
           "seeds": (s or {}).get(metric), "evolved": (e or {}).get(metric), "n": cmp.get("n"),
           "rule": f"supported if evolved.lo >= seeds.hi; not supported if evolved.hi < seeds.lo; "
                   f"undetermined if the intervals overlap or a group has fewer than {min_n} items"}
    sizes = {"seeds": (s or {}).get("size", 0), "evolved": (e or {}).get("size", 0)}
    small = [f"{g} has {size} items" for g, size in sizes.items() if size < min_n]
    if small:
        return out | {"reason": f"{', '.join(small)}; at least {min_n} are needed"}
    if (cmp.get("n") or 0) < min_n:
        return out | {"reason": f"equal n {cmp.get('n')} is below {min_n}"}
    si, ei = out["seeds"], out["evolved"]
    if si is None or ei is None:
        return out | {"reason": f"{metric} could not be computed for a group"}
    if ei["lo"] >= si["hi"]:
        return out | {"verdict": "supported", "reason": "the evolved interval lies at or above the seeds'"}
    if ei["hi"] < si["lo"]:
        return out | {"verdict": "not supported", "reason": "the evolved interval lies below the seeds'"}
    return out | {"reason": "the intervals overlap: at this n the data cannot tell the groups apart"}
