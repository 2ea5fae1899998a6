"""Plotly figures built from counts (never raw points), so notebooks and HTML stay small."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import plotly.graph_objects as go

from workbench.core import static_figures
from workbench.core.run_folder import PARAMS

if "ipykernel" in sys.modules:  # in a notebook kernel, every fig.show() also carries a PNG
    static_figures.use_in_notebooks()


def label(name) -> str:
    """A code name as words for a figure: "no_information_gain" -> "no information gain"."""
    return str(name).replace("_", " ")


def _rows(nested: dict) -> list[tuple[str, str, int, int]]:
    """{rule: {op: {round: n}}} -> [(rule, op, round, n)] (JSON keys come back as strings)."""
    return [(rule, op, int(rnd), n) for rule, ops in nested.items() for op, rounds in ops.items() for rnd, n in rounds.items()]


def eliminations_by_rule(by_rule_op_round: dict, title: str = "Eliminations per rule and op") -> go.Figure:
    rows = _rows(by_rule_op_round)
    rules = sorted({r for r, *_ in rows})
    ops = sorted({o for _, o, *_ in rows})
    fig = go.Figure()
    for op in ops:
        fig.add_bar(name=label(op), x=[label(r) for r in rules],
                    y=[sum(n for r, o, _, n in rows if r == rule and o == op) for rule in rules])
    fig.update_layout(barmode="stack", title=title, xaxis_title="rule", yaxis_title="evolutions eliminated")
    return fig


def eliminations_by_round(by_rule_op_round: dict, attempts_by_op_round: dict,
                          title: str = "Share of attempts eliminated, per rule and round") -> go.Figure:
    rows = _rows(by_rule_op_round)
    rounds = sorted({int(r) for c in attempts_by_op_round.values() for r in c})
    tried = {rnd: sum(int(c.get(str(rnd), c.get(rnd, 0))) for c in attempts_by_op_round.values()) for rnd in rounds}
    fig = go.Figure()
    for rule in sorted({r for r, *_ in rows}):
        fig.add_bar(name=label(rule), x=[f"round {r}" for r in rounds],
                    y=[sum(n for ru, _, rd, n in rows if ru == rule and rd == r) / max(tried[r], 1) for r in rounds])
    fig.update_layout(barmode="group", title=title, yaxis_title="share of attempts", yaxis_tickformat=".0%")
    return fig


ASSETS_DIR = "figures_assets"  # in the run folder: one plotly.js for every figure of the run


def _run_folder(path: Path) -> Path | None:
    """The run folder a figure lies in (the nearest folder above it holding params.yaml)."""
    for folder in path.parents:
        if (folder / PARAMS).is_file():
            return folder
    return None


def shared_plotlyjs(figure_path: Path | str) -> Path:
    """<run>/figures_assets/plotly-<js version>.min.js, written once from the installed plotly
    package (the version is in the name: a run resumed under another plotly keeps both).
    A figure saved outside a run folder gets the file in its own folder."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    from workbench.core.io import atomic_write_text

    figure_path = Path(figure_path).resolve()
    home = _run_folder(figure_path) or figure_path.parent
    asset = home / ASSETS_DIR / f"plotly-{get_plotlyjs_version()}.min.js"
    if not asset.is_file():
        asset.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(asset, get_plotlyjs())
    return asset


def save(fig: go.Figure, path: Path | str) -> Path:
    """HTML that loads the run's one shared plotly.js by relative path: it renders offline, opened
    from disk or from JupyterLab, and the run folder can be moved or zipped as a whole. A PNG
    and an SVG of the figure go next to it (static_figures.py)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    js = shared_plotlyjs(path)
    fig.write_html(path, include_plotlyjs=Path(os.path.relpath(js, path.resolve().parent)).as_posix())
    static_figures.write_static(fig, path)
    return path


def mean_with_ci(summary: dict[str, dict], title: str, x_title: str, y_title: str, lines: bool = True) -> go.Figure:
    """summary: {group: {"mean", "lo", "hi", "n"}} -> points with 95% interval bars, joined by a
    line only when the groups are ordered (rounds), never across categories."""
    keys = [k for k, s in summary.items() if s["mean"] is not None]
    means = [summary[k]["mean"] for k in keys]
    fig = go.Figure(go.Scatter(
        x=keys, y=means, mode="lines+markers" if lines else "markers",
        error_y={"type": "data", "symmetric": False,
                 "array": [summary[k]["hi"] - summary[k]["mean"] for k in keys],
                 "arrayminus": [summary[k]["mean"] - summary[k]["lo"] for k in keys]},
        text=[f"n={summary[k]['n']}" for k in keys]))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    return fig


def share_histogram_by_round(rows: list[dict], key: str, title: str, bins=None) -> go.Figure:
    """Share of each round's scored rows per bin of scores[key] (rounds differ in size, so
    counts would mislead); rows whose score is null are left out and the n says so."""
    import numpy as np

    edges = np.asarray(bins if bins is not None else [x + 0.5 for x in range(0, 11)], dtype=float)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    rounds = sorted({r["round"] for r in rows})
    for rnd in rounds:
        v = np.array([s for r in rows if r["round"] == rnd and (s := (r.get("scores") or {}).get(key)) is not None])
        if len(v) == 0:
            continue
        counts, _ = np.histogram(v, bins=edges)
        fig.add_bar(name=f"{'seeds' if rnd == 0 else f'round {rnd}'} (n={len(v)})", x=centres, y=counts / len(v),
                    width=(edges[1] - edges[0]) * 0.9 / max(len(rounds), 1))
    fig.update_layout(barmode="group", title=title, xaxis_title=key, yaxis_title="share of the round's rows",
                      yaxis_tickformat=".0%")
    return fig


OUTCOME_COLOURS = {"win": "#2b8a3e", "tie": "#868e96", "loss": "#c92a2a", "undetermined": "#f3d9a4", "error": "#495057"}


def outcome_shares(groups: dict[str, dict], title: str, status: str = "determined") -> go.Figure:
    """Stacked share of win / tie / loss / undetermined / error per group, n in the label."""
    names = [f"{label(g)} (n={s['n']})" for g, s in groups.items()]
    fig = go.Figure()
    for outcome, colour in OUTCOME_COLOURS.items():
        fig.add_bar(name=outcome, x=names, y=[s[outcome] / s["n"] if s["n"] else 0 for s in groups.values()],
                    marker_color=colour)
    suffix = "" if status == "determined" else " (undetermined: the judge was not consistent)"
    fig.update_layout(barmode="stack", title=title + suffix, yaxis_title="share of items", yaxis_tickformat=".0%")
    return fig


def verifiable_accuracy(by_candidate: dict[str, dict | None]) -> go.Figure | None:
    """Prompt- and instruction-level accuracy, strict and loose, per candidate, with Wilson 95 %
    intervals and n in the labels (None if no checks ran): 2 of 3 is not 67 % of anything firm."""
    from workbench.core.stats import wilson

    shown = {c: v for c, v in by_candidate.items() if v}
    if not shown:
        return None
    fig = go.Figure()
    for metric in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"):
        n_key = "n_prompts" if metric.startswith("prompt") else "n_instructions"
        shares, lows, highs = [], [], []
        for v in shown.values():
            n, share = int(v.get(n_key) or 0), v.get(metric)
            lo, hi = wilson(round((share or 0) * n), n)
            shares.append(share)
            lows.append(None if lo is None else share - lo)
            highs.append(None if hi is None else hi - share)
        fig.add_bar(name=label(metric), x=[f"{c} (n={v.get('n_prompts')} prompts)" for c, v in shown.items()],
                    y=shares, error_y={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows})
    fig.update_layout(barmode="group", title="Verifiable instruction accuracy (95% Wilson intervals)",
                      yaxis_tickformat=".0%", yaxis_range=[0, 1.05], yaxis_title="share passed")
    return fig
