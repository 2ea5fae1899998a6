"""The rows 05_diversity works on: which file they come from, their scores, near-duplicate rows.

    rows, source = load_rows(st)                  # 04_difficulty, else 03_filter, else 02_evolve
    scores, info = scores_of(rows, "difficulty", source)
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from workbench.core.run_folder import DATASET_ROLES, FILES
from workbench.stages.base import Stage
from workbench.stages.diversity.neighbours import NeighbourScan, components

# Roles the rows come from, first found wins: scored rows, else the filtered, else the evolved set.
INPUTS = ("scored",) + DATASET_ROLES


def load_rows(st: Stage) -> tuple[list[dict], dict]:
    """Kept rows of the first input that exists, and {"input" (its run-relative path), "rows_read",
    "not_kept_skipped"}."""
    rows, role = st.folder.latest_dataset(INPUTS)
    found = FILES[role]
    kept = [r for r in rows if r.get("status", "kept") == "kept"]
    return kept, {"input": found, "rows_read": len(rows), "not_kept_skipped": len(rows) - len(kept)}


def scores_of(rows: list[dict], field: str, source: str) -> tuple[list[float | None], dict]:
    """record["scores"][field] per row (None where absent or not a number), and a note for stats."""
    out: list[float | None] = []
    for r in rows:
        v = (r.get("scores") or {}).get(field)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        out.append(float(v) if ok else None)
    missing = sum(v is None for v in out)
    info = {"field": field, "source": source, "present": len(out) - missing, "missing": missing}
    if missing:
        where = "" if source.startswith("04_difficulty") else " (04_difficulty has not run, so rows carry no scores)"
        info["note"] = (f"{missing} of {len(out)} rows have no scores.{field}{where}; "
                        "they are not selected by score")
    return out, info


def near_duplicate_rows(groups: list[list[int]], rows: list[dict], scan: NeighbourScan) -> list[dict]:
    """One JSON row per near-duplicate group: ids, rounds, the start of each instruction, and
    the smallest and largest similarity of the pairs that linked it."""
    if not groups:
        return []
    labels = components(len(rows), scan.pairs)
    edge_label = labels[scan.pairs[:, 0]]
    out = []
    for g, members in enumerate(groups):
        sims = scan.pair_similarity[edge_label == labels[members[0]]]
        out.append({
            "group": g, "size": len(members),
            "ids": [rows[i]["id"] for i in members],
            "rounds": [rows[i].get("round") for i in members],
            "instructions": [(rows[i].get("instruction") or "")[:120] for i in members],
            "min_link_similarity": round(float(sims.min()), 4) if len(sims) else None,
            "max_link_similarity": round(float(sims.max()), 4) if len(sims) else None,
        })
    return out


def count_by_round(rows: list[dict], keep: set[str] | None = None) -> dict[str, int]:
    c = Counter(str(r.get("round")) for r in rows if keep is None or r["id"] in keep)
    return dict(sorted(c.items(), key=lambda kv: int(kv[0]) if kv[0].lstrip("-").isdigit() else 1 << 30))


def hover_texts(rows: list[dict], idx: np.ndarray, width: int = 120) -> list[str]:
    return [(rows[i].get("instruction") or "")[:width] for i in idx]
