"""Plotly figures built from counts (never raw points), so notebooks and HTML stay small."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go


def _rows(nested: dict) -> list[tuple[str, str, int, int]]:
    """{rule: {op: {round: n}}} -> [(rule, op, round, n)] (JSON keys come back as strings)."""
    return [(rule, op, int(rnd), n) for rule, ops in nested.items() for op, rounds in ops.items() for rnd, n in rounds.items()]


def eliminations_by_rule(by_rule_op_round: dict, title: str = "Eliminations per rule and op") -> go.Figure:
    rows = _rows(by_rule_op_round)
    rules = sorted({r for r, *_ in rows})
    ops = sorted({o for _, o, *_ in rows})
    fig = go.Figure()
    for op in ops:
        fig.add_bar(name=op, x=rules, y=[sum(n for r, o, _, n in rows if r == rule and o == op) for rule in rules])
    fig.update_layout(barmode="stack", title=title, xaxis_title="rule", yaxis_title="evolutions eliminated")
    return fig


def eliminations_by_round(by_rule_op_round: dict, attempts_by_op_round: dict,
                          title: str = "Share of attempts eliminated, per rule and round") -> go.Figure:
    rows = _rows(by_rule_op_round)
    rounds = sorted({int(r) for c in attempts_by_op_round.values() for r in c})
    tried = {rnd: sum(int(c.get(str(rnd), c.get(rnd, 0))) for c in attempts_by_op_round.values()) for rnd in rounds}
    fig = go.Figure()
    for rule in sorted({r for r, *_ in rows}):
        fig.add_bar(name=rule, x=[f"round {r}" for r in rounds],
                    y=[sum(n for ru, _, rd, n in rows if ru == rule and rd == r) / max(tried[r], 1) for r in rounds])
    fig.update_layout(barmode="group", title=title, yaxis_title="share of attempts", yaxis_tickformat=".0%")
    return fig


def counts_bar(counts: dict, title: str, x_title: str = "", y_title: str = "count") -> go.Figure:
    fig = go.Figure(go.Bar(x=list(counts), y=list(counts.values())))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    return fig


def save(fig: go.Figure, path: Path | str) -> Path:
    """HTML that loads plotly.js once from the CDN rather than embedding 3 MB per figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs="cdn")
    return path


def histogram_by_group(values_by_group: dict[str, list], bins, title: str, x_title: str) -> go.Figure:
    """Counts per bin per group, computed here with numpy; the figure holds only the counts."""
    import numpy as np

    fig = go.Figure()
    edges = np.asarray(bins, dtype=float)
    centres = (edges[:-1] + edges[1:]) / 2
    for group, values in values_by_group.items():
        v = np.array([x for x in values if x is not None], dtype=float)
        counts, _ = np.histogram(v, bins=edges)
        fig.add_bar(name=f"{group} (n={len(v)})", x=centres, y=counts, width=(edges[1] - edges[0]) * 0.9 / max(len(values_by_group), 1))
    fig.update_layout(barmode="group", title=title, xaxis_title=x_title, yaxis_title="count")
    return fig


def box_by_group(values_by_group: dict[str, list], title: str, y_title: str) -> go.Figure:
    """Box plots from precomputed quartiles (no raw points stored)."""
    import numpy as np

    groups, q1, med, q3, lo, hi = [], [], [], [], [], []
    for group, values in values_by_group.items():
        v = np.array([x for x in values if x is not None], dtype=float)
        if len(v) == 0:
            continue
        a, b, c = np.percentile(v, [25, 50, 75])
        groups.append(f"{group} (n={len(v)})")
        q1.append(a)
        med.append(b)
        q3.append(c)
        lo.append(float(v.min()))
        hi.append(float(v.max()))
    fig = go.Figure(go.Box(x=groups, q1=q1, median=med, q3=q3, lowerfence=lo, upperfence=hi, boxpoints=False))
    fig.update_layout(title=title, yaxis_title=y_title)
    return fig


def mean_with_ci(summary: dict[str, dict], title: str, x_title: str, y_title: str) -> go.Figure:
    """summary: {group: {"mean", "lo", "hi", "n"}} -> points with 95% interval bars."""
    keys = [k for k, s in summary.items() if s["mean"] is not None]
    means = [summary[k]["mean"] for k in keys]
    fig = go.Figure(go.Scatter(
        x=keys, y=means, mode="lines+markers",
        error_y={"type": "data", "symmetric": False,
                 "array": [summary[k]["hi"] - summary[k]["mean"] for k in keys],
                 "arrayminus": [summary[k]["mean"] - summary[k]["lo"] for k in keys]},
        text=[f"n={summary[k]['n']}" for k in keys]))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    return fig
