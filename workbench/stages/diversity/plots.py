"""Plotly figures for the diversity stage, drawn from stats.json values (never raw points).

    projection_scatter   the instructions in 2-D, one colour per round (at most `max_points`)
    binned_histogram     nearest-neighbour distance, as the SHARE of each round's rows per bin
    equal_n_figure       groups compared at equal n: mean and 95 % interval per group, no lines
    claim_figure         seeds vs evolved at equal n, titled with the claim's verdict
    lineage_figure       nearest neighbour within the own lineage vs across lineages, per group

Groups differ in size, so they are compared as shares or at equal n, never as raw counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

METRIC_LABELS = {
    "vendi": "Vendi score (effective number of distinct items)",
    "mean_pairwise_cosine_distance": "mean pairwise cosine distance",
    "cluster_coverage": "share of k-means clusters reached",
    "cluster_entropy": "evenness over clusters (entropy / log k)",
}


def sample_indices(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """All of range(n), or a sorted fixed-seed sample of max_points of them."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))


def projection_scatter(xy: np.ndarray, rounds: Sequence[int], hover: Sequence[str],
                       title: str = "Instructions in 2-D, coloured by round") -> go.Figure:
    """One trace per round; hover shows the given text (e.g. the start of the instruction)."""
    rounds = np.asarray(rounds)
    fig = go.Figure()
    for r in sorted(set(rounds.tolist())):
        sel = np.flatnonzero(rounds == r)
        fig.add_trace(go.Scattergl(
            x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=group_label(r),
            text=[hover[i] for i in sel], hoverinfo="text", marker={"size": 6, "opacity": 0.75}))
    fig.update_layout(title=title, xaxis_title="component 1", yaxis_title="component 2")
    return fig


def binned_by_group(values: np.ndarray, groups: Sequence[int], bins: int = 30) -> dict:
    """{"edges": [...], "counts": {group: [...]}} with one set of edges for all groups (nan ignored).

    >>> binned_by_group(np.array([0.1, 0.2, 0.9]), [0, 1, 1], bins=2)["counts"]
    {'0': [1, 0], '1': [1, 1]}
    """
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups)
    ok = np.isfinite(values)
    lo, hi = (float(values[ok].min()), float(values[ok].max())) if ok.any() else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1e-6
    edges = np.linspace(lo, hi, bins + 1)
    counts = {str(g): np.histogram(values[ok & (groups == g)], bins=edges)[0].tolist()
              for g in sorted(set(groups.tolist()))}
    return {"edges": edges.round(6).tolist(), "counts": counts}


def group_label(group) -> str:
    """0 / "0" / "round 0" -> "seeds (round 0)"; 2 -> "round 2"; other names unchanged."""
    g = str(group)
    g = g if not g.lstrip("-").isdigit() else f"round {g}"
    return "seeds (round 0)" if g == "round 0" else g


def binned_histogram(binned: dict, title: str, x_title: str) -> go.Figure:
    """Bars of pre-binned values (from binned_by_group), one trace per round, each as the share
    of that round's rows: rounds of different sizes stay comparable."""
    edges = np.asarray(binned["edges"])
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig = go.Figure()
    for g, counts in binned["counts"].items():
        total = sum(counts)
        shares = [c / total if total else 0.0 for c in counts]
        fig.add_bar(x=centres, y=shares, width=widths, name=f"{group_label(g)} (n={total})", opacity=0.6)
    fig.update_layout(barmode="overlay", title=title, xaxis_title=x_title,
                      yaxis={"title": "share of the round's rows", "tickformat": ".0%"})
    return fig


def equal_n_figure(cmp: dict, title: str = "") -> go.Figure:
    """One panel per metric: each group's mean over equal-n subsets with its 95 % interval,
    markers only (groups are categories, not a series)."""
    metrics = [m for m in cmp.get("metrics", []) if any(g.get(m) for g in cmp["groups"].values())]
    fig = make_subplots(rows=1, cols=max(1, len(metrics)), subplot_titles=[METRIC_LABELS.get(m, m) for m in metrics])
    names = list(cmp["groups"])
    for col, m in enumerate(metrics, start=1):
        keep = [g for g in names if cmp["groups"][g].get(m)]
        v = [cmp["groups"][g][m] for g in keep]
        fig.add_scatter(x=[group_label(g) for g in keep], y=[x["mean"] for x in v], mode="markers",
                        marker={"size": 10}, showlegend=False, row=1, col=col,
                        error_y={"type": "data", "symmetric": False, "array": [x["hi"] - x["mean"] for x in v],
                                 "arrayminus": [x["mean"] - x["lo"] for x in v]},
                        hovertext=[f"{group_label(g)}: {cmp['groups'][g]['size']} rows" for g in keep])
    skipped = "; skipped " + ", ".join(f"{g} ({why})" for g, why in cmp.get("skipped", {}).items()) if cmp.get("skipped") else ""
    fig.update_layout(title=(title or "Groups compared at equal n")
                      + f"<br><sup>n = {cmp.get('n')} rows per group, {cmp.get('repeats')} random subsets; "
                        f"bars: 2.5-97.5 percentiles{skipped}</sup>", margin={"t": 110})
    return fig


def claim_figure(stats: dict) -> go.Figure:
    """Seeds vs evolved at equal n, titled with the claim and its verdict."""
    claim = stats["claim"]
    return equal_n_figure(stats["equal_n"]["seeds_vs_evolved"],
                          f"Claim: {claim['statement']} — {claim['verdict'].upper()} ({claim.get('reason', '')})")


def lineage_figure(lineage: dict) -> go.Figure:
    """Median distance to the nearest neighbour in the row's own lineage and in any other, per group."""
    fig = go.Figure()
    groups = lineage.get("groups")
    if not groups:
        fig.update_layout(title=f"Lineage distances not computed: {lineage.get('reason')}")
        return fig
    names = list(groups)
    for side, label in (("within", "nearest in its own lineage (same seed)"), ("across", "nearest in another lineage")):
        fig.add_bar(name=label, x=[f"{group_label(g)} (n={groups[g]['n']})" for g in names],
                    y=[groups[g][side]["median_distance"] for g in names])
    fig.update_layout(barmode="group", title="How far each row is from its nearest neighbour, within vs across lineages",
                      yaxis_title="median cosine distance", xaxis_title="rows")
    return fig
