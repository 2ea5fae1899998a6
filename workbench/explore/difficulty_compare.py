"""The paper's difficulty figure: judge-score distributions of several runs side by side, at EQUAL n.

An evolved run is drawn beside runs over human-written sets: a run with `evolve.rounds: 0`
keeps its seeds as the dataset, and 04_difficulty scores them like any other
(`workbench run params/default.yaml --set evolve.rounds=0 --set seed.source=alpaca.json`).

    runs = compare.load(...)
    runs.difficulty_distributions().show()   # share per score bin, 95% Wilson, n in the title
    runs.difficulty_table()                  # n used, mean (95% CI), share >= 8 (95% Wilson), judge

Each run's scored rows (04_difficulty/records.jsonl rows whose scores.difficulty is not null)
are subsampled, seeded, to the same n: the smallest run's count, or a given n (a run with
fewer scored rows is then left out and named). Judge scores may be expected values (6.5), so
they are binned by rounding half up to a whole score 1..10, as 04's own histogram does; "hard"
is the paper's 8 and above, i.e. bins 8..10 (a score of 7.5 or more). Every run is labelled with
its judge's validation against human labels from 04's stats; a run without scores is named
with the reason, as compare.explain does for every figure.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import plotly.graph_objects as go

from workbench.core.io import iter_jsonl
from workbench.core.run_folder import FILES, RunFolder
from workbench.core.stats import mean_ci, wilson
from workbench.explore.compare import explain

BINS = tuple(range(1, 11))
HARD = 8  # the paper's "hard": a judge score of 8 or more
TABLE_COLUMNS = ["run", "judge", "scored", "n", "mean", "mean_lo", "mean_hi", "hard_share", "hard_lo", "hard_hi",
                 "why_left_out"]


def score_bin(score: float) -> int:
    """The whole score a judge score is counted under: rounded half up (6.5 -> 7), within 1..10."""
    return min(max(math.floor(score + 0.5), BINS[0]), BINS[-1])


def _num(v) -> str:
    return "?" if v is None else f"{v:.2f}"


def judge_text(stats: dict) -> str:
    """The judge's validation, as 04 stated it: 'validated: rho 0.62 [0.41, 0.78] vs human labels,
    word count 0.30', 'not validated: ...', 'undetermined: ...', 'not checked against human labels'."""
    if not stats:
        return "verdict unknown: no 04_difficulty stats"
    validation = stats.get("validation") or {}
    verdict = validation.get("verdict") or stats.get("judge_verdict") or "verdict unknown"
    judge, base = validation.get("judge") or {}, validation.get("baseline_word_count") or {}
    if verdict == "not checked":
        return "not checked against human labels"
    if verdict == "undetermined":
        rho = _num(judge["rho"]) if judge.get("rho") is not None else "undefined"
        return f"undetermined: rho {rho} on {validation.get('scored', judge.get('n', '?'))} labelled items"
    if judge.get("rho") is None:
        return verdict
    interval = f" [{_num(judge.get('lo'))}, {_num(judge.get('hi'))}]" if judge.get("lo") is not None else ""
    baseline = f", word count {_num(base.get('rho'))}" if base.get("rho") is not None else ""
    return f"{verdict}: rho {_num(judge['rho'])}{interval} vs human labels{baseline}"


@dataclass
class RunScores:
    run: str                 # the run's legend label (the params that differ)
    judge: str               # judge_text() of its 04 stats
    scored: int = 0          # rows with a judge score
    nulls: dict = field(default_factory=dict)          # rows without one, by reason
    sample: list[float] = field(default_factory=list)  # its scores; once drawn, the n drawn
    why: str = ""            # why it is not drawn; "" when it is

    @property
    def label(self) -> str:
        return f"{self.run} (judge {self.judge})"


@dataclass
class EqualN:
    n: int | None            # rows drawn from every run; None when no run has scores
    how: str                 # where n came from
    seed: int
    all: list[RunScores]     # every run, in the comparison's order

    @property
    def runs(self) -> list[RunScores]:
        """The runs drawn, each at n."""
        return [r for r in self.all if not r.why]

    @property
    def missing(self) -> list[str]:
        """'label: why' for every run not drawn (compare.explain's notes)."""
        return [f"{r.run}: {r.why}" for r in self.all if r.why]


def read_scores(run_dir) -> tuple[list[float] | None, dict]:
    """A run's judge scores (non-null scores.difficulty of 04_difficulty/records.jsonl, in id
    order) and its nulls by reason; None when 04 wrote no records."""
    folder = RunFolder(run_dir)
    if not folder.has("scored"):
        return None, {}
    scored, nulls = [], {}
    for row in iter_jsonl(folder.file("scored")):
        scores = row.get("scores") or {}
        if scores.get("difficulty") is None:
            why = scores.get("difficulty_reason") or "unknown"
            nulls[why] = nulls.get(why, 0) + 1
        else:
            scored.append((str(row.get("id")), float(scores["difficulty"])))
    return [s for _, s in sorted(scored, key=lambda p: p[0])], nulls


def equal_n(summaries: list[dict], labels: list[str], n: int | None = None, seed: int = 0) -> EqualN:
    """Every run with judge scores drawn down to the same n, seeded (random.Random(seed) per run,
    without replacement): n is the smallest run's count of scored rows, or the n given, where a
    run with fewer scored rows is left out and named."""
    if n is not None and n < 1:
        raise ValueError(f"n must be a positive number of rows, got {n}")
    runs = []
    for s, label in zip(summaries, labels):
        run = RunScores(label, judge_text(s.get("difficulty") or {}))
        scores, run.nulls = read_scores(s["dir"])
        if scores is None:
            run.why = f"no 04_difficulty scores ({FILES['scored']} not found; run stage 04_difficulty)"
        elif not scores:
            nulls = ", ".join(f"{why} {k}" for why, k in sorted(run.nulls.items()))
            run.why = f"none of its {sum(run.nulls.values())} rows has a judge score (null: {nulls})"
        else:
            run.scored, run.sample = len(scores), scores
        runs.append(run)
    found = [r for r in runs if not r.why]
    if not found:
        return EqualN(None, "no run has judge scores", seed, runs)
    how = "given"
    if n is None:
        n, how = min(r.scored for r in found), "the smallest run's count of scored rows"
    for run in found:
        if run.scored < n:
            run.why = f"{run.scored} scored rows, fewer than n = {n}"
        else:
            run.sample = random.Random(seed).sample(run.sample, n)
    return EqualN(n, how, seed, runs)


def bin_shares(sample: list[float]) -> list[dict]:
    """Per score bin 1..10: {"bin", "count", "share", "lo", "hi"}, the interval Wilson's at n = len(sample)."""
    counts = {b: 0 for b in BINS}
    for s in sample:
        counts[score_bin(s)] += 1
    out = []
    for b in BINS:
        lo, hi = wilson(counts[b], len(sample))
        out.append({"bin": b, "count": counts[b], "share": counts[b] / len(sample), "lo": lo, "hi": hi})
    return out


def difficulty_distributions(summaries: list[dict], labels: list[str], n: int | None = None, seed: int = 0) -> go.Figure:
    """Share of each run's rows per judge-score bin, every run at the same n, with 95% Wilson intervals."""
    eq = equal_n(summaries, labels, n, seed)
    fig = go.Figure()
    for run in eq.runs:
        bins = bin_shares(run.sample)
        fig.add_bar(name=run.label, x=list(BINS), y=[b["share"] for b in bins], customdata=[b["count"] for b in bins],
                    hovertemplate=f"score %{{x}}: %{{customdata}} of {eq.n} rows (%{{y:.0%}})",
                    error_y={"type": "data", "symmetric": False, "array": [b["hi"] - b["share"] for b in bins],
                             "arrayminus": [b["share"] - b["lo"] for b in bins]})
    n_text = f"n = {eq.n} rows per run ({eq.how}; seeded sample, seed {eq.seed})" if eq.n else "no run has judge scores"
    fig.update_layout(barmode="group", yaxis_tickformat=".0%", yaxis_title="share of the run's rows",
                      title=f"Judge difficulty per run at equal n (95% Wilson)<br><sup>{n_text}</sup>",
                      xaxis={"title": "judge difficulty (score rounded half up: 6.5 counts as 7)", "tick0": 1, "dtick": 1},
                      # above the plot: legend entries carry the judge's validation and are long
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
                      margin={"t": 110 + 22 * len(eq.runs)})
    return explain(fig, eq.missing)


def difficulty_table(summaries: list[dict], labels: list[str], n: int | None = None, seed: int = 0) -> list[dict]:
    """One row per run at the figure's n: mean judge score (95% CI), share of hard rows (bin >= 8,
    95% Wilson), the judge's validation; a run not drawn has no numbers and says why."""
    eq = equal_n(summaries, labels, n, seed)
    rows = []
    for run in eq.all:
        row = dict.fromkeys(TABLE_COLUMNS) | {"run": run.run, "judge": run.judge, "scored": run.scored,
                                              "why_left_out": run.why}
        if not run.why:
            m = mean_ci(run.sample)
            hard = sum(score_bin(s) >= HARD for s in run.sample)
            lo, hi = wilson(hard, eq.n)
            row |= {"n": eq.n, "mean": m["mean"], "mean_lo": m["lo"], "mean_hi": m["hi"],
                    "hard_share": round(hard / eq.n, 4), "hard_lo": lo, "hard_hi": hi}
        rows.append(row)
    return rows
