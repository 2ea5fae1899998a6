"""Blind human ratings of 07_evaluate's answers (notebooks/09_human_eval.py): what a rater sees,
how a rating is stored, and win / tie / loss per candidate pair from the ratings.

Ratings live in `<run>/07_evaluate/human_ratings.jsonl`, one JSON object per line, appended and
never rewritten (as curation.jsonl), so the file is the whole history; the last row per
(rater, item_id, turn) wins:

    {"rater": "ann", "item_id": "q3", "turn": 2, "shown": ["seeds", "evolved"],
     "ratings": {"seeds": 4, "evolved": null}, "skipped": false, "note": "", "time": "2026-...Z"}

`shown` is the order the answers were on screen (Answer 1 first), answerless ones included.
`ratings` holds the answers that could be rated: 1..5, or null where the rater skipped that
answer (never a made-up score). A candidate without an answer (its call failed, or its answers
file did not answer the item) is in `shown` but not in `ratings`. A whole item skipped:
skipped true, ratings {}. The rated turn is the item's last (1 for a single-turn item).

    items = load_items(run)                             # one RatingItem per samples.jsonl row
    order = shown_order("ann", "q3", items[2].answers)  # stable per rater + item, never names
    save_rating(run, "ann", items[2], order, {"seeds": 4, "evolved": None})
    rows = load_ratings(run)                            # the last row per (rater, item, turn)
    pair_summary(items, rows, "evolved", "seeds")       # per (item, rater): 5 vs 3 -> win
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from workbench.core.io import BadLineError, append_jsonl_line, iter_jsonl_numbered
from workbench.core.records import full_text
from workbench.core.run_folder import FILES, MissingInputError, RunFolder
from workbench.core.stats import wilson
from workbench.stages.evaluate.pairwise import BUCKETS, bucket

RATINGS_FILE = "human_ratings.jsonl"  # in 07_evaluate/, beside the samples it rates
SCORES = (1, 2, 3, 4, 5)
OUTCOMES = ("win", "tie", "loss")  # for the first candidate of a pair
BUCKET_ORDER = [b[0] for b in BUCKETS] + ["unlabelled"]


class RatingError(ValueError):
    pass


@dataclass
class RatingItem:
    """One eval item as a rater sees it: the user turns, and each candidate's reply to the last
    turn (None: no answer) with its replies to the earlier turns (multi-turn items)."""

    id: str
    turns: list[str]
    answers: dict[str, str | None]
    earlier: dict[str, list[str] | None] = field(default_factory=dict)
    skill: str = "unlabelled"
    bucket: str = "unlabelled"
    judged: dict[str, str] = field(default_factory=dict)  # pair name -> the judge's outcome, last turn

    @property
    def turn(self) -> int:
        """The rated turn, 1-based: the last."""
        return len(self.turns)


def ratings_path(run_dir: Path | str) -> Path:
    return RunFolder(run_dir).stage_file("07_evaluate", RATINGS_FILE)


def item_of(row: dict) -> RatingItem:
    """A samples.jsonl row as a RatingItem. Rows written before multi-turn items existed have no
    "turns": the question is then the instruction with its input."""
    turns = row.get("turns") or [full_text(row)]
    answers = dict(row.get("answers") or {})
    per_turn = row.get("turn_answers") or {}
    earlier = {c: (per_turn[c][:-1] if per_turn.get(c) else None) for c in answers} if len(turns) > 1 else {}
    label = row.get("bucket") or bucket(row.get("difficulty"))
    return RatingItem(id=str(row["id"]), turns=list(turns), answers=answers, earlier=earlier,
                      skill=row.get("skill") or "unlabelled", bucket=label,
                      judged={name: j.get("outcome") for name, j in (row.get("pairwise") or {}).items()})


def load_items(run_dir: Path | str) -> list[RatingItem]:
    run = RunFolder(run_dir)
    if not run.has("eval_samples"):
        raise MissingInputError(f"{FILES['eval_samples']} not found in {run.path}: run 07_evaluate first")
    return [item_of(row) for row in run.rows("eval_samples")]


def candidates(items: list[RatingItem]) -> list[str]:
    """Every candidate that answered in the run, in the order the samples first name them."""
    return list(dict.fromkeys(c for it in items for c in it.answers))


def shown_order(rater: str, item_id: str, cands) -> list[str]:
    """The candidates in the order a rater sees them on one item: shuffled by a seed from the
    rater and the item (sha256, so the same in every session and on every machine), starting
    from the sorted names so the samples file's key order has no say."""
    seed = int.from_bytes(hashlib.sha256(f"{rater}\n{item_id}".encode()).digest()[:8], "big")
    order = sorted(cands)
    random.Random(seed).shuffle(order)
    return order


def save_rating(run_dir: Path | str, rater: str, item: RatingItem, shown: list[str], ratings: dict,
                skipped: bool = False, note: str = "", now: str | None = None) -> dict:
    """Append one row. One write of one line with O_APPEND: two raters saving into the same
    run at once interleave whole lines, never halves."""
    rater = (rater or "").strip()
    if not rater:
        raise RatingError("a rater name is required: ratings are kept per rater")
    rateable = {c for c in shown if item.answers.get(c) is not None}
    if skipped:
        ratings = {}
    elif set(ratings) != rateable:
        raise RatingError(f"item {item.id}: ratings for {sorted(ratings)}, but the answers to rate are {sorted(rateable)}")
    bad = {c: v for c, v in ratings.items() if v is not None and (v not in SCORES or isinstance(v, bool))}
    if bad:
        raise RatingError(f"item {item.id}: a rating is 1..5 or null (skipped), got {bad}")
    row = {"rater": rater, "item_id": item.id, "turn": item.turn, "shown": list(shown), "ratings": dict(ratings),
           "skipped": bool(skipped), "note": note or "",
           "time": now or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    path = ratings_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    append_jsonl_line(path, row)
    return row


def _well_formed(row: dict) -> bool:
    return (isinstance(row.get("rater"), str) and bool(row["rater"]) and isinstance(row.get("item_id"), str)
            and isinstance(row.get("turn"), int) and isinstance(row.get("ratings"), dict)
            and isinstance(row.get("skipped"), bool)
            and all(v is None or (v in SCORES and not isinstance(v, bool)) for v in row["ratings"].values()))


def load_ratings(run_dir: Path | str, rater: str | None = None) -> list[dict]:
    """The last row per (rater, item_id, turn), in the order first saved; one rater's with rater.
    [] before anyone rated. A malformed line is an error naming the file and line."""
    path = ratings_path(run_dir)
    if not path.is_file():
        return []
    current: dict[tuple, dict] = {}
    for n, row in iter_jsonl_numbered(path):
        if not _well_formed(row):
            raise BadLineError(path, n, f"expected {{rater, item_id, turn, ratings: {{cand: 1..5|null}}, skipped}}, "
                                        f"got {row!r:.160}")
        current[row["rater"], row["item_id"], row["turn"]] = row
    return [r for r in current.values() if rater is None or r["rater"] == rater]


def progress(items: list[RatingItem], rows: list[dict]) -> dict:
    """One rater's progress: {"items", "rated", "skipped", "next"}, where next is the index of the
    first item without a saved row (None when every item has one)."""
    done = {(r["item_id"], r["turn"]): r["skipped"] for r in rows}
    keys = [(it.id, it.turn) for it in items]
    return {"items": len(items), "rated": sum(k in done and not done[k] for k in keys),
            "skipped": sum(done.get(k, False) for k in keys),
            "next": next((i for i, k in enumerate(keys) if k not in done), None)}


def pairs_of(run_dir: Path | str, items: list[RatingItem]) -> list[tuple[str, str]]:
    """Every pair of candidates, each once: the run's configured pairs first (in their own
    order: evaluate.pairs in params.yaml, else the judged pairs in the samples), then the rest
    in candidate order."""
    cands = candidates(items)
    try:
        configured = [tuple(p) for p in (RunFolder(run_dir).params().get("evaluate") or {}).get("pairs") or []]
    except MissingInputError:
        configured = []
    judged = dict.fromkeys(name for it in items for name in it.judged)
    configured += [(a, b) for name in judged for a in cands for b in cands if a != b and name == f"{a}_vs_{b}"]
    out: list[tuple[str, str]] = []
    for a, b in [*configured, *itertools.combinations(cands, 2)]:
        if a in cands and b in cands and (a, b) not in out and (b, a) not in out:
            out.append((a, b))
    return out


def compare(a: float, b: float) -> str:
    """The first answer's outcome: 5 vs 3 -> win, 3 vs 3 -> tie, 2 vs 4 -> loss."""
    return "win" if a > b else "loss" if a < b else "tie"


def rated_pairs(items: list[RatingItem], rows: list[dict], first: str, second: str) -> dict[str, list]:
    """{item id: [(rater, first's rating, second's rating), ...]} where a rater rated both
    answers of the item's last turn (skipped answers and skipped items do not count)."""
    by_key = {(it.id, it.turn): it for it in items}
    out: dict[str, list] = defaultdict(list)
    for r in rows:
        a, b = r["ratings"].get(first), r["ratings"].get(second)
        if not r["skipped"] and (r["item_id"], r["turn"]) in by_key and a is not None and b is not None:
            out[r["item_id"]].append((r["rater"], a, b))
    return out


def human_outcome(ratings: list[tuple]) -> str | None:
    """One item's outcome over its raters: the majority of their outcomes; when the top is
    shared, the comparison of the mean ratings. [(r, 5, 3), (r2, 4, 4)] -> win (2 votes split,
    means 4.5 vs 3.5); [] -> None."""
    if not ratings:
        return None
    votes = Counter(compare(a, b) for _, a, b in ratings).most_common()
    if len(votes) == 1 or votes[0][1] > votes[1][1]:
        return votes[0][0]
    return compare(sum(a for _, a, _ in ratings) / len(ratings), sum(b for _, _, b in ratings) / len(ratings))


def counts(outcomes: list[str]) -> dict:
    """{"n", "win"|"tie"|"loss": {"count", "share", "lo", "hi"}} with Wilson 95 % intervals;
    shares are None when n is 0."""
    n, c = len(outcomes), Counter(outcomes)
    out: dict = {"n": n}
    for o in OUTCOMES:
        lo, hi = wilson(c[o], n)
        out[o] = {"count": c[o], "share": round(c[o] / n, 4) if n else None, "lo": lo, "hi": hi}
    return out


def pair_summary(items: list[RatingItem], rows: list[dict], first: str, second: str) -> dict:
    """Humans' win / tie / loss for `first` against `second`. "overall", "by_skill" and
    "by_bucket" count one outcome per (item, rater): an item rated by two raters counts twice,
    so with several raters those intervals are narrower than independent items would give.
    "items" counts one outcome per item (human_outcome over its raters)."""
    rated = rated_pairs(items, rows, first, second)
    per_rater = [(it, compare(a, b)) for it in items for _, a, b in rated.get(it.id, [])]
    skills = sorted({it.skill for it, _ in per_rater})
    buckets = [b for b in BUCKET_ORDER if any(it.bucket == b for it, _ in per_rater)]
    return {"first": first, "second": second, "raters": sorted({r for v in rated.values() for r, _, _ in v}),
            "overall": counts([o for _, o in per_rater]),
            "by_skill": {s: counts([o for it, o in per_rater if it.skill == s]) for s in skills},
            "by_bucket": {b: counts([o for it, o in per_rater if it.bucket == b]) for b in buckets},
            "items": counts([human_outcome(rated[it.id]) for it in items if rated.get(it.id)])}
