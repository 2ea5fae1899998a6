"""Side-by-side comparison of runs (a sweep, or any run folders) for notebooks/08_compare.py.

    runs = load(Config(sweep_dir="", run_dirs=(), latest=4, outputs=""))   # prints what it compares
    runs.table()                           # one row per run, labelled by the params that differ
    runs.difficulty_by_round().show()
    runs.difficulty_distributions().show()  # every run's judge scores at equal n (difficulty_compare.py)

Everything is read through RunFolder from the run folders' stats files; a run that lacks a
stage simply has no line in that figure. Paths resolve from the project folder, never from
the kernel's working directory, so the notebook finds the runs wherever JupyterLab started it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go

from workbench.core.config import StageConfig
from workbench.core.io import read_json
from workbench.core.run_folder import OUTPUTS, RunFolder, runs

PROJECT = OUTPUTS.parent


@dataclass(frozen=True)
class Config(StageConfig):
    """notebooks/08_compare.py's parameters."""

    sweep_dir: str = ""
    run_dirs: tuple = ()
    latest: int = 4
    outputs: str = ""


def _from_project(path: str | Path) -> Path:
    """A path as typed in the notebook: absolute, or relative to the project folder."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT / path


def run_dirs_of(cfg: Config) -> tuple[list[Path], str]:
    """The run folders cfg names (a sweep's, a list, else the latest), and where they came from."""
    outputs = _from_project(cfg.outputs) if cfg.outputs else OUTPUTS
    if cfg.sweep_dir:
        return runs_of_sweep(_from_project(cfg.sweep_dir), outputs), f"sweep {cfg.sweep_dir}"
    if cfg.run_dirs:
        return [_from_project(d) for d in cfg.run_dirs], "run_dirs"
    return [r.path for r in runs(outputs)[-cfg.latest:]], f"the latest runs under {outputs / 'runs'}"


@dataclass
class Comparison:
    """The runs being compared, their summaries and legend labels, with the figures as methods."""

    dirs: list[Path]
    summaries: list[dict] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def table(self):
        import pandas as pd

        return pd.DataFrame(table(self.summaries, self.labels))

    def claims(self):
        import pandas as pd

        return pd.DataFrame(claims(self.summaries, self.labels), columns=["run", "claim", "verdict", "evidence"])

    def difficulty_by_round(self) -> go.Figure:
        return difficulty_by_round(self.summaries, self.labels)

    def elimination_rates(self) -> go.Figure:
        return elimination_rates(self.summaries, self.labels)

    def diversity_metrics(self, metric: str = "vendi") -> go.Figure:
        return diversity_metrics(self.summaries, self.labels, metric)

    def win_rates(self, pair: str = "evolved_vs_seeds") -> go.Figure:
        return win_rates(self.summaries, self.labels, pair)

    def difficulty_distributions(self, n: int | None = None, seed: int = 0) -> go.Figure:
        """Judge-score shares per run at equal n (difficulty_compare.py): evolved vs human-written sets."""
        from workbench.explore import difficulty_compare as DC

        return DC.difficulty_distributions(self.summaries, self.labels, n, seed)

    def difficulty_table(self, n: int | None = None, seed: int = 0):
        """Per run: n used, mean judge score (95% CI), share >= 8 (95% Wilson), the judge's verdict."""
        import pandas as pd

        from workbench.explore import difficulty_compare as DC

        rows = DC.difficulty_table(self.summaries, self.labels, n, seed)
        return pd.DataFrame(rows, columns=DC.TABLE_COLUMNS).astype({"scored": "Int64", "n": "Int64"})


def load(cfg: Config, log=print) -> Comparison:
    """Summaries of the runs cfg names; says what it compares, or why there is nothing to compare."""
    dirs, where = run_dirs_of(cfg)
    if not dirs:
        log(f"no runs to compare: none found in {where}. Start one with `workbench run params/default.yaml`, "
            "or set run_dirs / sweep_dir")
        return Comparison([])
    summaries = [summarise_run(d) for d in dirs]
    log(f"comparing {len(dirs)} runs from {where}")
    return Comparison(dirs, summaries, legend_labels(summaries))


def _flatten(params: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in params.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flatten(v, key + ".")
        else:
            out[key] = v
    return out


def summarise_run(run_dir: Path | str) -> dict:
    run = RunFolder(run_dir)
    manifest = run.manifest()
    return {"dir": str(run.path), "run_id": manifest["run_id"], "params": _flatten(manifest["params"]),
            "evolve": run.stats("02_evolve"), "difficulty": run.stats("04_difficulty"),
            "diversity": run.stats("05_diversity"), "evaluate": run.stats("07_evaluate")}


def runs_of_sweep(sweep_dir: Path | str, outputs: Path | str) -> list[Path]:
    sweep = read_json(Path(sweep_dir) / "sweep.json")
    return [Path(outputs) / r["run_dir"] for r in sweep["runs"] if r.get("run_dir")]


def varying_params(summaries: list[dict]) -> list[str]:
    """Param keys whose values differ between the runs (run.name excluded: it always does)."""
    keys = sorted({k for s in summaries for k in s["params"]})
    return [k for k in keys if k != "run.name" and len({repr(s["params"].get(k)) for s in summaries}) > 1]


def legend_labels(summaries: list[dict]) -> list[str]:
    """'evolve.rounds=2, evolve.temperature=0.7' per run, or the run id when nothing differs."""
    keys = varying_params(summaries)
    return [", ".join(f"{k}={s['params'].get(k)}" for k in keys) or s["run_id"] for s in summaries]


def judge_label(summary: dict, label: str) -> str:
    """A run's legend entry, marked when its difficulty judge was not validated on human labels."""
    verdict = summary["difficulty"].get("judge_verdict")
    return label if verdict in (None, "validated") else f"{label} (judge {verdict})"


def explain(fig: go.Figure, missing: list[str]) -> go.Figure:
    """Every figure keeps its legend, also for one run (the trace names carry "(judge not
    validated)" and "(undetermined)"), and says which runs drew nothing and why; an empty
    figure says so in its middle."""
    fig.update_layout(showlegend=True)
    drawn = any(any(v is not None for v in (t.y if t.y is not None else ())) for t in fig.data)
    if missing:
        text = "<br>".join(missing)
        if drawn:
            fig.add_annotation(text=text, xref="paper", yref="paper", x=0, y=-0.18, xanchor="left",
                               yanchor="top", showarrow=False, align="left", font={"size": 11})
            fig.update_layout(margin={"b": 90 + 16 * len(missing)})
        else:
            fig.add_annotation(text=f"nothing to draw:<br>{text}", xref="paper", yref="paper", x=0.5, y=0.5,
                               showarrow=False, font={"size": 13})
    return fig


def difficulty_by_round(summaries: list[dict], labels: list[str]) -> go.Figure:
    fig, missing = go.Figure(), []
    for s, label in zip(summaries, labels):
        label = judge_label(s, label)
        by_round = s["difficulty"].get("difficulty", {}).get("by_round", {})
        pts = [(int(r), v) for r, v in by_round.items() if v.get("mean") is not None]
        if not pts:
            missing.append(f"{label}: " + ("no 04_difficulty stats" if not s["difficulty"] else "no per-round means"))
        else:
            fig.add_scatter(x=[r for r, _ in pts], y=[v["mean"] for _, v in pts], mode="lines+markers", name=label,
                            error_y={"type": "data", "symmetric": False,
                                     "array": [v["hi"] - v["mean"] for _, v in pts],
                                     "arrayminus": [v["mean"] - v["lo"] for _, v in pts]})
    fig.update_layout(title="Mean judge difficulty per round (95% CI)", xaxis_title="round", yaxis_title="difficulty",
                      xaxis={"tick0": 0, "dtick": 1})  # rounds are whole numbers
    return explain(fig, missing)


def elimination_rates(summaries: list[dict], labels: list[str]) -> go.Figure:
    fig, missing = go.Figure(), []
    rules = sorted({r for s in summaries for r in s["evolve"].get("reason_share", {})})
    for s, label in zip(summaries, labels):
        shares = s["evolve"].get("reason_share", {})
        if not s["evolve"]:
            missing.append(f"{label}: no 02_evolve stats")
        elif not shares:
            missing.append(f"{label}: no attempt was eliminated")
        else:
            fig.add_bar(name=label, x=rules, y=[shares.get(r, 0.0) for r in rules])
    fig.update_layout(barmode="group", title="Share of evolution attempts eliminated, per rule",
                      yaxis_tickformat=".0%", xaxis_title="rule")
    return explain(fig, missing)


def diversity_metrics(summaries: list[dict], labels: list[str], metric: str = "vendi") -> go.Figure:
    """Seeds and evolved rows of each run at equal n (05's subsampling), with 95% intervals:
    raw metrics grow with n, so runs of different sizes are never compared on them."""
    fig, missing = go.Figure(), []
    for s, label in zip(summaries, labels):
        cmp = s["diversity"].get("equal_n", {}).get("seeds_vs_evolved", {})
        groups = [(g, cmp.get("groups", {}).get(g, {}).get(metric)) for g in ("seeds", "evolved")]
        groups = [(g, v) for g, v in groups if v and v.get("mean") is not None]
        if not groups:
            missing.append(f"{label}: " + ("no 05_diversity stats" if not s["diversity"]
                                           else f"no equal-n {metric} of seeds and evolved rows"))
        else:
            fig.add_bar(name=f"{label} (n={cmp.get('n')})", x=[g for g, _ in groups], y=[v["mean"] for _, v in groups],
                        error_y={"type": "data", "symmetric": False, "array": [v["hi"] - v["mean"] for _, v in groups],
                                 "arrayminus": [v["mean"] - v["lo"] for _, v in groups]})
    fig.update_layout(barmode="group", title=f"Diversity ({metric}) of seeds and evolved rows at equal n (95% interval)")
    return explain(fig, missing)


def win_rates(summaries: list[dict], labels: list[str], pair: str = "evolved_vs_seeds") -> go.Figure:
    """Win rate (wins / decided) with its Wilson interval per bucket; an undetermined comparison
    draws no bar and says so in the legend."""
    fig, missing = go.Figure(), []
    buckets = ["easy", "medium", "hard"]
    for s, label in zip(summaries, labels):
        res = s["evaluate"].get("pairs", {}).get(pair)
        if not res:
            missing.append(f"{label}: " + ("no 07_evaluate stats" if not s["evaluate"] else f"no {pair} comparison"))
            continue
        if res.get("status") != "determined":
            missing.append(f"{label}: undetermined, {why_undetermined(res['overall'])}")
        groups = [res["by_bucket"].get(b, {}) for b in buckets] + [res["overall"]]
        rate = [g.get("win_rate") if res.get("status") == "determined" else None for g in groups]
        fig.add_bar(name=label if res.get("status") == "determined" else f"{label} (undetermined)",
                    x=buckets + ["overall"], y=rate,
                    error_y={"type": "data", "symmetric": False,
                             "array": [(g.get("win_rate_hi") or 0) - r if r is not None else 0 for g, r in zip(groups, rate)],
                             "arrayminus": [r - (g.get("win_rate_lo") or 0) if r is not None else 0 for g, r in zip(groups, rate)]})
    fig.update_layout(barmode="group", title=f"{pair.replace('_vs_', ' vs ')}: win rate by difficulty bucket (95% Wilson)",
                      yaxis_range=[0, 1], yaxis_tickformat=".0%")
    return explain(fig, missing)


def why_undetermined(overall: dict) -> str:
    """Why 07 drew no win rate: the counts its informativeness rule looks at (pairwise.summary)."""
    return (f"order consistency {overall.get('order_consistency')} (0.5 needed), "
            f"{overall.get('undetermined', '?')} undetermined and {overall.get('error', '?')} failed "
            f"of {overall.get('n', '?')} items")


def claims(summaries: list[dict], labels: list[str]) -> list[dict]:
    """The paper's three claims per run, as each stage stated them: one row per run and claim."""
    rows = []
    for s, label in zip(summaries, labels):
        stated = [s["difficulty"].get("claim"), s["diversity"].get("claim"), *s["evaluate"].get("claims", [])]
        for c in filter(None, stated):
            rows.append({"run": label, "claim": c.get("statement", c.get("id")), "verdict": c.get("verdict"),
                         "evidence": evidence_text({k: v for k, v in c.items() if k not in ("id", "statement", "verdict")})})
    return rows


def evidence_text(evidence: dict) -> str:
    """A claim's evidence as one readable line (the notebook shows the column whole)."""
    def short(v):
        if isinstance(v, float):
            return f"{v:.3g}"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(short(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {short(x)}" for k, x in v.items()) + "}"
        return str(v)
    return " · ".join(f"{k}={short(v)}" for k, v in evidence.items())


def table(summaries: list[dict], labels: list[str]) -> list[dict]:
    """One row per run with the headline numbers, for a DataFrame."""
    rows = []
    for s, label in zip(summaries, labels):
        ev = s["evolve"]
        pair = s["evaluate"].get("pairs", {}).get("evolved_vs_seeds", {}).get("overall", {})
        rows.append({"run": label, "attempts": ev.get("attempts"), "kept_rate": ev.get("kept_rate"),
                     "unchecked_kept_share": ev.get("unchecked_kept_share"), "dataset": ev.get("dataset"),
                     "mean_difficulty": s["difficulty"].get("difficulty", {}).get("overall", {}).get("mean"),
                     "judge": s["difficulty"].get("judge_verdict"),
                     "evolved_vs_seeds": pair.get("headline")})
    return rows
