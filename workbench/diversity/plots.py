"""Plotly figures for the diversity stage: projection scatter, binned NN distances, metrics per round.

The histogram is binned with numpy and drawn as bars of counts, and the scatter draws at most
`max_points` items (a fixed-seed sample beyond that), so notebooks and HTML stay small.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

METRIC_LINES = ("mean_pairwise_cosine_distance", "mean_nn_distance", "cluster_coverage", "cluster_entropy")


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
            x=xy[sel, 0], y=xy[sel, 1], mode="markers", name="seeds (round 0)" if r == 0 else f"round {r}",
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


def binned_histogram(binned: dict, title: str, x_title: str, group_label: str = "round") -> go.Figure:
    """Bars of pre-binned counts (from binned_by_group), one trace per group, overlaid."""
    edges = np.asarray(binned["edges"])
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig = go.Figure()
    for g, counts in binned["counts"].items():
        fig.add_bar(x=centres, y=counts, width=widths, name=f"{group_label} {g}", opacity=0.6)
    fig.update_layout(barmode="overlay", title=title, xaxis_title=x_title, yaxis_title="items")
    return fig


def metrics_by_round(by_round: dict, title: str = "Diversity per round") -> go.Figure:
    """Lines over rounds: distances, cluster coverage and entropy (left axis), Vendi (right axis)."""
    rounds = sorted(by_round, key=int)
    fig = go.Figure()
    for name in METRIC_LINES:
        ys = [by_round[r].get(name) for r in rounds]
        if any(y is not None for y in ys):
            fig.add_scatter(x=[int(r) for r in rounds], y=ys, mode="lines+markers", name=name)
    fig.add_scatter(x=[int(r) for r in rounds], y=[by_round[r].get("vendi") for r in rounds],
                    mode="lines+markers", name="vendi (right axis)", yaxis="y2", line={"dash": "dot"})
    fig.update_layout(title=title, xaxis={"title": "round", "dtick": 1},
                      yaxis={"title": "distance / share", "rangemode": "tozero"},
                      yaxis2={"title": "Vendi score (effective number of items)", "overlaying": "y",
                              "side": "right", "rangemode": "tozero"})
    return fig
