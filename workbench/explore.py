"""The evolution-tree browser behind notebooks/00_explore.py.

Pure functions (load, tree, diff) are tested; `browser()` only wires them to ipywidgets.

    recs = load_records(run_dir)
    tree = lineage(recs, root_id)   # [(depth, record), ...] parent before children
"""

from __future__ import annotations

import difflib
import html
from pathlib import Path

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


def record_card(rec: dict, parent: dict | None, depth: int) -> str:
    colour = {"kept": "#2a7", "eliminated": "#c33", "failed": "#888"}[rec["status"]]
    head = f"round {rec['round']} · {rec['op'] or 'seed'} · <b style='color:{colour}'>{rec['status']}</b>"
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


def tree_html(records: list[dict], root_id: str, **filters) -> str:
    by_id = {r["id"]: r for r in records}
    rows = lineage(records, root_id, **filters)
    if not rows:
        return "<i>nothing matches these filters</i>"
    return "".join(record_card(r, by_id.get(r["parent_id"]), d) for d, r in rows)


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

    def refresh(*_):
        if seed_pick.value is None:
            out.value = "<i>no seeds in this run</i>"
            return
        out.value = tree_html(records, seed_pick.value, ops=set(op_pick.value),
                              statuses=set(status_pick.value), rounds=round_pick.value)

    for widget in (seed_pick, op_pick, status_pick, round_pick):
        widget.observe(refresh, names="value")
    refresh()
    return w.VBox([seed_pick, w.HBox([op_pick, status_pick, round_pick]), out])
