"""Rows from a data file, each with the line (or row number) it came from.

One reader for every data entry point (seeds, labelled sets, eval sets):

    file.jsonl              one JSON object per line          -> (line number, row)
    file.json               a JSON list of objects            -> (item number, row)
    file.csv                header + one row per line         -> (line the row starts on, row)
    folder                  saved by datasets.save_to_disk    -> (row number, row)
    org/name                dataset hub name, only where a network exists

Files from ordinary tools work as they are: a UTF-8 byte-order mark (Excel's "CSV UTF-8",
Windows editors) is skipped; a CSV line that is not valid UTF-8 is reported on its own line
and can be skipped (on_bad_line="skip") like any malformed line; a CSV cell longer than the
csv module's default limit (131,072 characters) is a `TooLong` row for the caller to drop
with a reason, not a crash.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workbench.core.io import BadLineError, iter_jsonl_numbered

FORMATS = ("auto", "alpaca", "sharegpt", "jsonl", "json", "csv", "datasets")
CSV_FIELD_LIMIT = 131_072  # the csv module's default limit: longer cells are dropped as too_long
BOM = "\ufeff"
HUB_NAME = re.compile(r"[\w.-]+/[\w.-]+")


class SourceError(ValueError):
    """A data source that cannot be read at all (not found, wrong shape, unknown split)."""


@dataclass
class TooLong:
    """Stands in for a CSV row with a cell over CSV_FIELD_LIMIT characters."""
    column: str
    chars: int


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "datasets"
    suffix = path.suffix.lower()
    return {".csv": "csv", ".json": "json"}.get(suffix, "jsonl")


def read_rows(source: str, fmt: str = "auto", on_bad_line: str = "fail", skipped: list | None = None,
              split: str = "train") -> Iterator[tuple[int, dict | TooLong]]:
    """Yield (line or row number, row). Bad lines raise BadLineError naming file and line, or
    with on_bad_line="skip" are appended to `skipped` as {"line", "why"}."""
    skipped = [] if skipped is None else skipped
    path = Path(source).expanduser()
    if not path.exists():
        if HUB_NAME.fullmatch(source) and fmt in ("auto", "datasets"):
            yield from _read_hub(source, split)
            return
        raise SourceError(f"file or folder not found: {source}")
    if fmt in ("alpaca", "sharegpt"):  # row shapes, not file formats: read by extension
        fmt = "auto"
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "datasets":
        yield from _read_datasets(path, split)
    elif fmt == "csv":
        yield from _read_csv(path, on_bad_line, skipped)
    elif fmt == "json":
        yield from _read_json(path)
    else:
        yield from iter_jsonl_numbered(path, on_bad_line, skipped)


def _read_datasets(path: Path, split: str):
    from datasets import DatasetDict, load_from_disk

    ds = load_from_disk(str(path))
    if isinstance(ds, DatasetDict):
        if split not in ds:
            raise SourceError(f"{path}: no split {split!r} (has {', '.join(ds)})")
        ds = ds[split]
    for i, row in enumerate(ds, start=1):
        yield i, dict(row)


def _read_json(path: Path):
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise BadLineError(path, e.lineno, f"invalid JSON: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise BadLineError(path, 1, f"not valid UTF-8 ({e.reason})") from None
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a JSON list of objects, got {type(data).__name__}")
    for i, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            raise BadLineError(path, i, f"item {i} is not an object")
        yield i, row


def _decoded_lines(path: Path, on_bad_line: str, skipped: list, where: dict):
    """Physical lines decoded one at a time, so a bad byte is reported on its own line;
    where["first"] is set to the number of the first line handed out since it was reset."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                why = f"not valid UTF-8 ({e.reason} at byte {e.start})"
                if on_bad_line == "skip":
                    skipped.append({"line": n, "why": why})
                    continue
                raise BadLineError(path, n, why) from None
            if n == 1:
                text = text.removeprefix(BOM)
            if where.get("first") is None:
                where["first"] = n
            yield text


def _read_csv(path: Path, on_bad_line: str, skipped: list):
    where: dict = {}
    previous = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # read long cells whole; they are dropped as too_long below
    try:
        reader = csv.reader(_decoded_lines(path, on_bad_line, skipped, where))
        header = None
        while True:
            where["first"] = None
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise BadLineError(path, where["first"] or reader.line_num, f"unreadable CSV: {e}") from None
            line = where["first"]
            if header is None:
                header = cells
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                why = f"expected {len(header)} columns, got {len(cells)}"
                if on_bad_line == "skip":
                    skipped.append({"line": line, "why": why})
                    continue
                raise BadLineError(path, line, why)
            long = [(h, len(c)) for h, c in zip(header, cells) if len(c) > CSV_FIELD_LIMIT]
            yield line, (TooLong(*long[0]) if long else dict(zip(header, cells)))
    finally:
        csv.field_size_limit(previous)


def _read_hub(name: str, split: str):
    try:
        from datasets import load_dataset

        ds = load_dataset(name, split=split)
    except Exception as e:
        raise SourceError(
            f"could not load {name!r} from the dataset hub ({type(e).__name__}); with no network, "
            "save it with `datasets` where one exists and pass the folder instead"
        ) from None
    for i, row in enumerate(ds, start=1):
        yield i, dict(row)
