"""Curation marks: a researcher accepts or rejects an evolution in 00_explore, with a note.

Marks live in `<run>/curation.jsonl`, one JSON object per line, appended and never rewritten,
so the file is the full history of who-thought-what and survives a kernel restart:

    {"id": "a1b2c3", "mark": "rejected", "note": "answer is wrong", "time": "2026-01-01T10:00:00Z"}

The last line per id wins; "unmarked" withdraws an earlier mark. `workbench export` leaves the
rejected rows out and the dataset card states how many (see export.py):

    mark(run, "a1b2c3", "rejected", "answer is wrong")
    current = load_marks(run)               # {"a1b2c3": {...last entry...}}
    kept, rejected = without_rejected(rows, current)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from workbench.core.io import BadLineError, append_jsonl_line, iter_jsonl_numbered
from workbench.core.run_folder import RunFolder

MARKS = ("accepted", "rejected", "unmarked")


class CurationError(ValueError):
    pass


def curation_path(run_dir: Path | str) -> Path:
    return RunFolder(run_dir).file("curation")


def mark(run_dir: Path | str, record_id: str, verdict: str, note: str = "", now: str | None = None) -> dict:
    """Append one mark. One write of one line with O_APPEND: two notebooks marking the same run
    at once interleave whole lines, never halves."""
    if verdict not in MARKS:
        raise CurationError(f"mark {verdict!r}: use one of {', '.join(MARKS)}")
    if not isinstance(record_id, str) or not record_id:
        raise CurationError(f"record id {record_id!r}: expected a non-empty string")
    entry = {"id": record_id, "mark": verdict, "note": note or "",
             "time": now or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    append_jsonl_line(curation_path(run_dir), entry)
    return entry


def load_marks(run_dir: Path | str) -> dict[str, dict]:
    """{id: last entry} for ids whose last mark is accepted or rejected; {} when nothing is marked.
    A malformed line is an error naming the file and line (the file is hand-editable)."""
    path = curation_path(run_dir)
    if not path.is_file():
        return {}
    current: dict[str, dict] = {}
    for n, entry in iter_jsonl_numbered(path):
        if entry.get("mark") not in MARKS or not isinstance(entry.get("id"), str):
            raise BadLineError(path, n, f"expected {{id, mark: {'|'.join(MARKS)}}}, got {entry!r:.120}")
        if entry["mark"] == "unmarked":
            current.pop(entry["id"], None)
        else:
            current[entry["id"]] = entry
    return current


def without_rejected(rows: list[dict], marks: dict[str, dict]) -> tuple[list[dict], int]:
    """(rows not rejected, how many rows were rejected); rows in = kept + rejected."""
    kept = [r for r in rows if marks.get(r.get("id"), {}).get("mark") != "rejected"]
    return kept, len(rows) - len(kept)


def curation_stats(marks: dict[str, dict], records: list[dict] | None = None) -> dict:
    """Counts of current marks; with records, also how many are unmarked and how many marks
    name an id the records do not have (marked in another run, or rows since filtered)."""
    stats = {"accepted": sum(m["mark"] == "accepted" for m in marks.values()),
             "rejected": sum(m["mark"] == "rejected" for m in marks.values()),
             "with_note": sum(bool(m.get("note")) for m in marks.values())}
    if records is not None:
        ids = {r["id"] for r in records}
        stats["unmarked"] = len(ids - set(marks))
        stats["marks_for_unknown_ids"] = len(set(marks) - ids)
    return stats


def stats_by_seed(marks: dict[str, dict], records: list[dict]) -> dict[str, dict]:
    """{root_id: {"records", "accepted", "rejected"}}: how far curation got in each lineage."""
    out: dict[str, dict] = {}
    for r in records:
        c = out.setdefault(r["root_id"], {"records": 0, "accepted": 0, "rejected": 0})
        c["records"] += 1
        verdict = marks.get(r["id"], {}).get("mark")
        if verdict in ("accepted", "rejected"):
            c[verdict] += 1
    return out
