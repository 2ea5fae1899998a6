"""The evolution-tree explorer behind notebooks/00_explore.py: what it shows, as pure functions.

Pure functions (load, counts, tree, diff, figures) are tested; explore_ui.Explorer wires them
to ipywidgets (run picker, seed picker with counts per seed, checkbox filters, curation).

    ui = browser(run_dir, Config())         # the widget; ui.run is the run on screen
    recs = load_records(ui.run)
    tree = lineage(recs, root_id)           # [(depth, record), ...] parent before children
"""

from __future__ import annotations

import difflib
import html
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go

from workbench.core.config import StageConfig
from workbench.core.records import full_text
from workbench.core.run_folder import FILES, MissingInputError, RunFolder
from workbench.explore import curation as C

STATUSES = ("kept", "eliminated", "failed")
# The explorer shows every attempt where 02_evolve ran, else the seeds alone.
RECORD_ROLES = ("attempts", "seeds")


@dataclass(frozen=True)
class Config(StageConfig):
    """notebooks/00_explore.py's parameters: what the filters start with."""

    statuses: tuple = STATUSES
    ops: tuple = ()

    def check(self) -> list[str]:
        unknown = sorted(set(self.statuses) - set(STATUSES))
        return [f"statuses: {', '.join(unknown)} not one of {', '.join(STATUSES)}"] if unknown else []


def load_records(run_dir: Path | str) -> list[dict]:
    run = RunFolder(run_dir)
    role = run.first_role(RECORD_ROLES)
    if role is None:
        raise MissingInputError(f"{run.path} has no records yet ({' or '.join(FILES[r] for r in RECORD_ROLES)}); "
                                "run 01_seed / 02_evolve first")
    return run.rows(role)


def load_stats(run_dir: Path | str, stage: str) -> dict:
    return RunFolder(run_dir).stats(stage)


def seed_counts(records: list[dict], marks: dict | None = None) -> dict[str, dict]:
    """{root_id: {records, kept, eliminated, failed, accepted, rejected}}: each lineage at a glance."""
    marks = marks or {}
    out: dict[str, dict] = {}
    for r in records:
        c = out.setdefault(r["root_id"], dict.fromkeys(("records", *STATUSES, "accepted", "rejected"), 0))
        c["records"] += 1
        c[r["status"]] = c.get(r["status"], 0) + 1
        verdict = marks.get(r["id"], {}).get("mark")
        if verdict in ("accepted", "rejected"):
            c[verdict] += 1
    return out


def seed_label(seed: dict, counts: dict) -> str:
    """The seed picker's entry: the counts first, so a lineage's state shows without opening it."""
    marked = f" · ✓{counts['accepted']} ✗{counts['rejected']}" if counts["accepted"] or counts["rejected"] else ""
    return (f"[{counts['records']}: {counts['kept']} kept, {counts['eliminated']} elim., {counts['failed']} failed"
            f"{marked}] {seed['instruction'][:60]}")


def lineage(records: list[dict], root_id: str, ops=None, statuses=None, rounds=None) -> list[tuple[int, dict]]:
    """Depth-first tree of one seed's evolutions, filtered by op / status / round range.
    A filtered-out record's children are still shown (at their own depth)."""
    children: dict[str | None, list[dict]] = {}
    for r in records:
        if r["root_id"] == root_id:
            children.setdefault(r["parent_id"], []).append(r)
    out: list[tuple[int, dict]] = []

    def visible(r):
        return ((ops is None or r["op"] in ops or r["round"] == 0)
                and (statuses is None or r["status"] in statuses)
                and (rounds is None or rounds[0] <= r["round"] <= rounds[1]))

    def walk(parent_id, depth):
        for r in sorted(children.get(parent_id, []), key=lambda r: (r["round"], r["id"])):
            if visible(r):
                out.append((depth, r))
            walk(r["id"], depth + 1)

    walk(None, 0)
    return out


def word_diff_html(old: str, new: str) -> str:
    """Words removed in red strike-through, added in green."""
    a, b = old.split(), new.split()
    parts = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("delete", "replace"):
            parts.append(f"<del style='color:#b00'>{html.escape(' '.join(a[i1:i2]))}</del>")
        if tag in ("insert", "replace"):
            parts.append(f"<ins style='color:#070'>{html.escape(' '.join(b[j1:j2]))}</ins>")
        if tag == "equal":
            parts.append(html.escape(" ".join(a[i1:i2])))
    return " ".join(parts)


MARK_BADGES = {"accepted": "<b style='color:#2a7'>✓ accepted</b>", "rejected": "<b style='color:#c33'>✗ rejected</b>"}


# the judge's information-gain verdict in words, with a hover that says what it means
JUDGE_WORDS = {
    "Equal": ("judge: no information gain",
              "The judge read this evolution as equal to its parent (the paper's Equal): nothing was gained."),
    "Not Equal": ("judge: information gain",
                  "The judge read this evolution as different from its parent (Not Equal): it adds something."),
    "unparsable": ("not checked for information gain",
                   "The judge's reply named neither Equal nor Not Equal, so no judge checked this evolution "
                   "for information gain. It is kept unless evolve.judge_unparsable is 'eliminate'."),
}


def judge_html(verdict: str) -> str:
    words, hover = JUDGE_WORDS.get(verdict, (f"judge: {verdict}", "the judge's verdict as recorded"))
    return (f"<span title='{html.escape(hover, quote=True)}' style='border-bottom:1px dotted #888;cursor:help'>"
            f"{html.escape(words)}</span>")


def current_mark_html(saved: dict | None) -> str:
    """The picked record's saved curation mark and note, or that it has none."""
    if not saved:
        return "<i>this record has no mark</i>"
    note = f" · note: <i>{html.escape(saved['note'])}</i>" if saved.get("note") else ""
    return f"saved mark: {MARK_BADGES[saved['mark']]}{note} <small>({html.escape(saved.get('time', ''))})</small>"


def record_card(rec: dict, parent: dict | None, depth: int, mark: dict | None = None) -> str:
    colour = {"kept": "#2a7", "eliminated": "#c33", "failed": "#888"}[rec["status"]]
    head = f"round {rec['round']} · {rec['op'] or 'seed'} · <b style='color:{colour}'>{rec['status']}</b>"
    if mark:  # the researcher's curation mark (curation.py), with its note
        head += f" · {MARK_BADGES[mark['mark']]}" + (f" <i>({html.escape(mark['note'])})</i>" if mark.get("note") else "")
    if rec["reasons"]:
        head += f" · {', '.join(rec['reasons'])}"
    verdict = rec.get("checks", {}).get("equal_judge")
    if verdict:
        head += f" · {judge_html(verdict['verdict'])}"
    if parent is not None:
        body = word_diff_html(full_text(parent), rec["instruction"])
    else:
        body = html.escape(full_text(rec))
    answer = html.escape((rec.get("response") or "—")[:1500])
    return (f"<div style='margin-left:{depth * 24}px;border-left:3px solid {colour};padding:4px 8px;margin-bottom:8px'>"
            f"<div style='font-size:90%'>{head}</div><div style='white-space:pre-wrap'>{body}</div>"
            f"<details><summary>answer</summary><div style='white-space:pre-wrap'>{answer}</div></details></div>")


def tree_html(records: list[dict], root_id: str, marks: dict | None = None, **filters) -> str:
    by_id = {r["id"]: r for r in records}
    rows = lineage(records, root_id, **filters)
    if not rows:
        return "<i>nothing matches these filters</i>"
    marks = marks or {}
    return "".join(record_card(r, by_id.get(r["parent_id"]), d, marks.get(r["id"])) for d, r in rows)


def curation_summary_html(marks: dict, records: list[dict], root_id: str | None) -> str:
    """One line: marks over the run, and over the seed on screen."""
    run = C.curation_stats(marks, records)
    seed = C.stats_by_seed(marks, records).get(root_id, {"records": 0, "accepted": 0, "rejected": 0})
    return (f"curation — run: {run['accepted']} accepted, {run['rejected']} rejected, {run['unmarked']} unmarked"
            f" · this seed: {seed['accepted']} accepted, {seed['rejected']} rejected of {seed['records']}")


def browser(run_dir: Path | str = "", cfg: Config | None = None):
    """The explorer widget for run_dir (empty: the latest run; the picker lists every run)."""
    from workbench.explore.widgets import Explorer

    return Explorer(run_dir, cfg or Config())


def curation_counts(run_dir: Path | str) -> dict:
    """Counts of the current curation marks over the run's records."""
    return C.curation_stats(C.load_marks(run_dir), load_records(run_dir))


def _no_data(title: str, why: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False,
                      annotations=[{"text": why, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}])
    return fig


def eliminations_by_rule(run_dir: Path | str) -> go.Figure:
    from workbench.core import plots

    stats = load_stats(run_dir, "02_evolve")
    if not stats.get("by_rule_op_round"):
        return _no_data("Eliminations per rule and op", "no 02_evolve stats in this run yet")
    return plots.eliminations_by_rule(stats["by_rule_op_round"])


def eliminations_by_round(run_dir: Path | str) -> go.Figure:
    from workbench.core import plots

    stats = load_stats(run_dir, "02_evolve")
    if not stats.get("by_rule_op_round"):
        return _no_data("Eliminations per round", "no 02_evolve stats in this run yet")
    return plots.eliminations_by_round(stats["by_rule_op_round"], stats["attempts_by_op_round"])


def status_by_round(run_dir: Path | str):
    """A table: rounds down, statuses across, attempts counted."""
    import pandas as pd

    counts = Counter((r["round"], r["status"]) for r in load_records(run_dir))
    rounds = sorted({k[0] for k in counts})
    return pd.DataFrame([[counts.get((n, s), 0) for s in STATUSES] for n in rounds],
                        index=pd.Index(rounds, name="round"), columns=list(STATUSES))
