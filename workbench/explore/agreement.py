"""How far the human ratings can be trusted, and how far the LLM judge agrees with them.

Inter-rater agreement is Krippendorff's alpha with the ordinal metric over the 1-5 ratings; a
unit is one answer (item x candidate), its values the ratings the raters gave it. Written out
here rather than taken from a package, from Krippendorff's "Computing Krippendorff's
Alpha-Reliability" (2011): coincidences o_ck = sum over units of (c-k pairs of values from
different raters) / (m_u - 1), n_c = sum_k o_ck, n = sum_c n_c, the ordinal distance
delta_ck = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2, and

    alpha = 1 - (n - 1) * sum_ck o_ck delta_ck / sum_ck n_c n_k delta_ck

    ordinal_alpha([[1, 1], [2, 3], [3, 3]])["alpha"]   -> 0.7778  (7/9; tests work it by hand)

Judge-human agreement compares, per item, the judge's outcome for a pair (samples' pairwise,
the last turn) with the humans' (human_ratings.human_outcome): "with_ties" over every item both
decided (three classes), "without_ties" over items where neither says tie. A judge outcome that
is undetermined or an error is left out and counted, never read as a tie.

    summary(run)           # everything, per pair; side_by_side(run) the table 08_compare shows
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import plotly.graph_objects as go

from workbench.core.run_folder import MissingInputError
from workbench.core.stats import wilson
from workbench.explore import human_ratings as HR

UNDECIDED = ("undetermined", "error")


def ordinal_alpha(units: list[list[int]], scale=HR.SCORES) -> dict:
    """{"alpha", "units", "values", "reason"}: alpha over the units with two or more values
    (the only ones that can disagree), None with the reason when it is not defined."""
    pairable = [u for u in units if len(u) >= 2]
    out = {"alpha": None, "units": len(pairable), "values": sum(map(len, pairable)), "reason": None}
    if not pairable:
        out["reason"] = "no answer was rated by two raters"
        return out
    index = {v: i for i, v in enumerate(scale)}
    k = len(scale)
    o = [[0.0] * k for _ in range(k)]
    for u in pairable:
        c = Counter(u)
        for a in c:
            for b in c:  # ordered pairs of values from different raters within the unit
                o[index[a]][index[b]] += c[a] * (c[b] - (a == b)) / (len(u) - 1)
    n_c = [sum(row) for row in o]
    n = sum(n_c)

    def delta(c: int, j: int) -> float:
        lo, hi = min(c, j), max(c, j)
        return (sum(n_c[lo:hi + 1]) - (n_c[c] + n_c[j]) / 2) ** 2

    observed = sum(o[c][j] * delta(c, j) for c in range(k) for j in range(k))
    expected = sum(n_c[c] * n_c[j] * delta(c, j) for c in range(k) for j in range(k))
    if expected == 0:
        out["reason"] = "every rating has the same value: agreement beyond chance cannot be measured"
        return out
    out["alpha"] = round(1 - (n - 1) * observed / expected, 4)
    return out


def rating_units(items: list[HR.RatingItem], rows: list[dict]) -> list[list[int]]:
    """Per answer (item x candidate, last turn): the ratings the raters gave it."""
    known = {(it.id, it.turn) for it in items}
    units: dict[tuple, list[int]] = defaultdict(list)
    for r in rows:
        if not r["skipped"] and (r["item_id"], r["turn"]) in known:
            for cand, v in r["ratings"].items():
                if v is not None:
                    units[r["item_id"], r["turn"], cand].append(v)
    return list(units.values())


def inter_rater(items: list[HR.RatingItem], rows: list[dict]) -> dict:
    """Ordinal alpha over the raters' 1-5 ratings, with "raters"; None with a reason for one rater."""
    raters = sorted({r["rater"] for r in rows if not r["skipped"]})
    if len(raters) < 2:
        who = f" ({raters[0]})" if raters else ""
        return {"alpha": None, "units": 0, "values": 0, "raters": raters,
                "reason": f"{len(raters)} rater{'' if len(raters) == 1 else 's'}{who}: agreement needs two or more"}
    return ordinal_alpha(rating_units(items, rows)) | {"raters": raters}


def _share(agree: int, n: int) -> dict:
    lo, hi = wilson(agree, n)
    return {"agree": agree, "n": n, "share": round(agree / n, 4) if n else None, "lo": lo, "hi": hi}


def judge_agreement(items: list[HR.RatingItem], rows: list[dict], first: str, second: str) -> dict | None:
    """The judge against the humans on the items both judged; None when the judge never
    compared this pair. {"with_ties", "without_ties", "excluded": {undetermined, error},
    "no_human": items the judge decided that no rater rated both answers of}."""
    name = f"{first}_vs_{second}"
    if not any(name in it.judged for it in items):
        return None
    rated = HR.rated_pairs(items, rows, first, second)
    both, excluded, no_human = [], Counter({o: 0 for o in UNDECIDED}), 0
    for it in items:
        judge, human = it.judged.get(name), HR.human_outcome(rated.get(it.id, []))
        if judge is None or human is None:
            no_human += judge is not None and judge not in UNDECIDED
            continue
        if judge in UNDECIDED:
            excluded[judge] += 1
        else:
            both.append((judge, human))
    decisive = [(j, h) for j, h in both if "tie" not in (j, h)]
    return {"with_ties": _share(sum(j == h for j, h in both), len(both)),
            "without_ties": _share(sum(j == h for j, h in decisive), len(decisive)),
            "excluded": dict(excluded), "no_human": no_human}


def judge_outcomes(items: list[HR.RatingItem], rows: list[dict], first: str, second: str) -> dict:
    """The judge's win / tie / loss on the items humans rated (both answers), beside the same
    items' human outcomes: the like-for-like comparison. Undetermined and error are counted apart."""
    name = f"{first}_vs_{second}"
    rated = HR.rated_pairs(items, rows, first, second)
    judged = [it.judged.get(name) for it in items if rated.get(it.id) and it.judged.get(name)]
    return HR.counts([o for o in judged if o not in UNDECIDED]) | {
        "undecided": {o: judged.count(o) for o in UNDECIDED}}


def summary(run_dir: Path | str) -> dict:
    """Human results for a run: {"items", "raters", "inter_rater", "pairs": {name: {...pair_summary,
    "judged", "judge", "judge_agreement"}}}; the run's configured pairs first."""
    items, rows = HR.load_items(run_dir), HR.load_ratings(run_dir)
    out = {"items": len(items), "raters": sorted({r["rater"] for r in rows}),
           "inter_rater": inter_rater(items, rows), "pairs": {}}
    for first, second in HR.pairs_of(run_dir, items):
        name = f"{first}_vs_{second}"
        agreement = judge_agreement(items, rows, first, second)
        out["pairs"][name] = HR.pair_summary(items, rows, first, second) | {
            "judged": agreement is not None, "judge_agreement": agreement,
            "judge": judge_outcomes(items, rows, first, second) if agreement is not None else None}
    return out


def _pct(c: dict) -> str:
    if c.get("share") is None:
        return "—"
    return f"{c['share']:.0%} [{c['lo']:.0%}, {c['hi']:.0%}]"


def _nothing_rated(run_dir: Path | str, s: dict) -> str | None:
    """Why a run's summary has no human results to set beside the judge; None when it has some."""
    if not s["raters"]:
        return (f"no human ratings yet ({HR.ratings_path(run_dir)} not found or empty): "
                "rate 07_evaluate's answers in notebooks/09_human_eval.py")
    if not s["pairs"]:
        return "fewer than two candidates answered in 07_evaluate: no pair to compare"
    return None


def side_by_side(run_dir: Path | str):
    """One table for a run: per pair, the humans' win / tie / loss (one outcome per item, the
    majority of its raters) beside the judge's on the same items, and their agreement; shares
    with Wilson 95 % intervals. A pair the judge did not compare has no judge row. A run nobody
    has rated yet (or with one candidate) gives a one-cell table saying so, as does one without 07."""
    import pandas as pd

    try:
        s = summary(run_dir)
    except MissingInputError as e:  # a run without 07_evaluate: say so in the cell, stop nothing after it
        return pd.DataFrame({"nothing to show": [str(e)]})
    if why := _nothing_rated(run_dir, s):
        return pd.DataFrame({"nothing to show": [why]})
    alpha = s["inter_rater"]
    said = (f"{alpha['alpha']} over {alpha['units']} answers" if alpha["alpha"] is not None
            else f"not determined: {alpha['reason']}")
    rows = []
    for name, p in s["pairs"].items():
        rows.append({"pair": name, "who": f"humans ({len(p['raters'])} raters)", "n": p["items"]["n"],
                     **{o: _pct(p["items"][o]) for o in HR.OUTCOMES}, "inter-rater alpha (ordinal)": said})
        if p["judge"] is not None:
            a, j = p["judge_agreement"], p["judge"]
            rows.append({"pair": name, "who": "judge, same items", "n": j["n"], **{o: _pct(j[o]) for o in HR.OUTCOMES},
                         "left out": ", ".join(f"{k} {v}" for k, v in j["undecided"].items()),
                         "agrees with humans": f"{_pct(a['with_ties'])} of {a['with_ties']['n']}",
                         "agrees, without ties": f"{_pct(a['without_ties'])} of {a['without_ties']['n']}"})
    return pd.DataFrame(rows, columns=["pair", "who", "n", *HR.OUTCOMES, "left out", "agrees with humans",
                                       "agrees, without ties", "inter-rater alpha (ordinal)"]).fillna("")


def side_by_side_figure(run_dir: Path | str) -> go.Figure:
    """Win / tie / loss shares per pair, humans (per item) beside the judge on the same items,
    with Wilson 95 % intervals as error bars."""
    fig = go.Figure()
    try:
        s = summary(run_dir)
    except MissingInputError as e:
        fig.update_layout(title=f"Humans and the judge: nothing to draw ({e})")
        return fig
    if why := _nothing_rated(run_dir, s):
        fig.update_layout(title=f"Humans and the judge: nothing to draw ({why})")
        return fig
    colours = {"win": "#2a7", "tie": "#999", "loss": "#c33"}
    for who in ("humans", "judge"):
        for o in HR.OUTCOMES:
            xs, ys, up, down = [], [], [], []
            for name, p in s["pairs"].items():
                c = p["items"][o] if who == "humans" else (p["judge"] or {}).get(o)
                if c and c["share"] is not None:
                    xs.append([name, who])
                    ys.append(c["share"])
                    up.append(c["hi"] - c["share"])
                    down.append(c["share"] - c["lo"])
            if xs:
                fig.add_bar(x=list(zip(*xs)), y=ys, name=f"{who}: {o}", marker_color=colours[o],
                            marker_pattern_shape="/" if who == "judge" else "", offsetgroup=o,
                            error_y={"type": "data", "array": up, "arrayminus": down})
    title = "Humans and the judge on the same items: win / tie / loss of the first candidate"
    if not fig.data:
        title += " — nothing to draw: no item has human ratings of both answers"
    fig.update_layout(title=title, yaxis_title="share of items", yaxis_tickformat=".0%", barmode="group")
    return fig
