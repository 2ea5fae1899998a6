"""The evolution-tree browser behind notebooks/00_explore.py.

Pure functions (load, tree, diff) are tested; `browser()` only wires them to ipywidgets.

    recs = load_records(run_dir)
    tree = lineage(recs, root_id)   # [(depth, record), ...] parent before children
"""

from __future__ import annotations

import difflib
import html
from pathlib import Path

from . import curation as C
from .io import read_json, read_jsonl
from .records import full_text


def load_records(run_dir: Path | str) -> list[dict]:
    run_dir = Path(run_dir)
    for name in ("02_evolve/records.jsonl", "01_seed/records.jsonl"):
        if (run_dir / name).is_file():
            return read_jsonl(run_dir / name)
    raise FileNotFoundError(f"{run_dir} has no records yet (run 01_seed / 02_evolve first)")


def load_stats(run_dir: Path | str, stage: str) -> dict:
    path = Path(run_dir) / stage / "stats.json"
    return read_json(path) if path.is_file() else {}


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


def record_card(rec: dict, parent: dict | None, depth: int, mark: dict | None = None) -> str:
    colour = {"kept": "#2a7", "eliminated": "#c33", "failed": "#888"}[rec["status"]]
    head = f"round {rec['round']} · {rec['op'] or 'seed'} · <b style='color:{colour}'>{rec['status']}</b>"
    if mark:  # the researcher's curation mark (curation.py), with its note
        head += f" · {MARK_BADGES[mark['mark']]}" + (f" <i>({html.escape(mark['note'])})</i>" if mark.get("note") else "")
    if rec["reasons"]:
        head += f" · {', '.join(rec['reasons'])}"
    verdict = rec.get("checks", {}).get("equal_judge")
    if verdict:
        head += f" · judge: {html.escape(verdict['verdict'])}"
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


def browser(run_dir: Path | str):
    """Seed picker + op/status/round filters over one run's evolution trees."""
    import ipywidgets as w

    records = load_records(run_dir)
    seeds = [r for r in records if r["round"] == 0]
    max_round = max((r["round"] for r in records), default=0)
    seed_pick = w.Dropdown(options=[(f"{s['instruction'][:70]}", s["id"]) for s in seeds], description="seed",
                           layout=w.Layout(width="90%"))
    ops = sorted({r["op"] for r in records if r["op"]})
    op_pick = w.SelectMultiple(options=ops, value=tuple(ops), description="ops")
    status_pick = w.SelectMultiple(options=["kept", "eliminated", "failed"], value=("kept", "eliminated", "failed"),
                                   description="status")
    round_pick = w.IntRangeSlider(value=(0, max_round), min=0, max=max(max_round, 1), description="rounds")
    out = w.HTML()
    # curation: marks are read from the run folder, so they survive a kernel restart
    marks = C.load_marks(run_dir)
    record_pick = w.Dropdown(description="record", layout=w.Layout(width="90%"))
    verdict_pick = w.ToggleButtons(options=["accepted", "rejected", "unmarked"], value="accepted", description="mark")
    note = w.Text(placeholder="why (optional)", description="note", layout=w.Layout(width="60%"))
    save = w.Button(description="save mark")
    counts = w.HTML()

    def refresh(*_):
        if seed_pick.value is None:
            out.value = "<i>no seeds in this run</i>"
            return
        filters = dict(ops=set(op_pick.value), statuses=set(status_pick.value), rounds=round_pick.value)
        out.value = tree_html(records, seed_pick.value, marks, **filters)
        record_pick.options = [(f"round {r['round']} · {r['op'] or 'seed'} · {r['instruction'][:60]}", r["id"])
                               for _, r in lineage(records, seed_pick.value, **filters)]
        counts.value = curation_summary_html(marks, records, seed_pick.value)

    def on_save(_):
        if record_pick.value is None:
            return
        C.mark(run_dir, record_pick.value, verdict_pick.value, note.value)
        marks.clear()
        marks.update(C.load_marks(run_dir))
        note.value = ""
        refresh()

    for widget in (seed_pick, op_pick, status_pick, round_pick):
        widget.observe(refresh, names="value")
    save.on_click(on_save)
    refresh()
    curate = w.VBox([counts, record_pick, w.HBox([verdict_pick, note, save])])
    return w.VBox([seed_pick, w.HBox([op_pick, status_pick, round_pick]), out, curate])
