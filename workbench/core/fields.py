"""One field-mapping convention for every data entry point: seeds, labelled sets, eval sets.

A field name is a dotted path into the row; a number steps into a list:

    "instruction"              row["instruction"]                      (Alpaca, Dolly, ...)
    "instances.0.input"        row["instances"][0]["input"]            (Self-Instruct)
    "conversations.0.value"    row["conversations"][0]["value"]        (ShareGPT)
    "messages.0.content"       row["messages"][0]["content"]           (OpenAI messages)

A name that is itself a key of the row (a CSV header "a.b") is taken literally first.
An `id_field` names the file's own id; it is carried into records, drops, errors and results,
and without one an item is known by its line (or row) number.

What happens to a value:
    missing in some rows       counted per field in the load report, never a silent ""
    missing in every row       FieldError naming file, field and the fields that do exist,
                               raised before any model call (the params pre-flight loads the
                               file); an optional field left at its default name is only
                               reported as absent, so Alpaca files without `input` still load
    not a string               the row is dropped with reason `not_text` (never str(list))
Rows in = kept + dropped (+ skipped unreadable lines) at every entry point.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

MISSING = object()


class FieldError(ValueError):
    """A field mapping that cannot work for this file (a field no row has, a bad id field)."""


class NoRowsError(ValueError):
    """A stage was left with nothing to score or evaluate."""


def get_path(row, path: str):
    """The value at a dotted path, or MISSING. None counts as missing.

    get_path({"instances": [{"input": "x"}]}, "instances.0.input") -> "x"
    get_path({"a.b": 1}, "a.b") -> 1;  get_path({"a": []}, "a.0") -> MISSING
    """
    if isinstance(row, dict) and path in row:
        return MISSING if row[path] is None else row[path]
    value = row
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return MISSING if value is None else value


def paths_in(row, prefix: str = "", depth: int = 3) -> list[str]:
    """Dotted paths a row offers, first list item only: {"instances": [{"input": ""}]} ->
    ["instances", "instances.0.input"]."""
    out = []
    items = row.items() if isinstance(row, dict) else (("0", row[0]),) if isinstance(row, list) and row else ()
    for key, value in items:
        path = f"{prefix}{key}"
        if isinstance(row, dict):
            out.append(path)
        if depth > 1 and isinstance(value, (dict, list)):
            out += paths_in(value, path + ".", depth - 1)
    return out


def file_id(value) -> str | None:
    """A file's own id as text: strings and integers; anything else is no usable id."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


@dataclass
class Field:
    key: str  # what the loader calls it (instruction, input, id, ...)
    path: str  # where it lives in the row; "" = not used
    param: str  # the params key that sets it, for messages
    default: str = ""  # the key's default: missing everywhere under it is "absent", not an error
    required: bool = False


@dataclass
class LoadReport:
    """What an entry point did with a file: every row in is kept, dropped or skipped."""
    source: str
    rows_in: int = 0
    kept: int = 0
    dropped: list[dict] = field(default_factory=list)  # {"row", "id", "reason", "detail"}
    skipped_lines: list[dict] = field(default_factory=list)  # {"line", "why"}
    missing: Counter = field(default_factory=Counter)  # field key -> rows without it
    absent: list[str] = field(default_factory=list)  # optional fields no row has
    seen_paths: list[str] = field(default_factory=list)
    rows_read: int = 0  # rows whose fields were looked at (not unreadable, not too long)

    def drop(self, row, id_, reason: str, detail: str = "") -> None:
        self.dropped.append({"row": row, "id": id_, "reason": reason, "detail": detail[:200]})

    def see(self, row, fields: list[Field]) -> None:
        """Count which mapped fields this row lacks, before any drop decision, so a field
        missing in every row is caught whatever else is wrong with the rows."""
        self.rows_read += 1
        for p in paths_in(row):
            if p not in self.seen_paths and len(self.seen_paths) < 60:
                self.seen_paths.append(p)
        for f in fields:
            if f.path and get_path(row, f.path) is MISSING:
                self.missing[f.key] += 1

    def stats(self) -> dict:
        return {
            "source": self.source, "rows_in": self.rows_in + len(self.skipped_lines), "kept": self.kept,
            "dropped": len(self.dropped), "dropped_by_reason": dict(Counter(d["reason"] for d in self.dropped)),
            "skipped_lines": len(self.skipped_lines), "skipped_line_details": self.skipped_lines[:50],
            "missing_by_field": dict(self.missing), "absent_fields": list(self.absent),
        }

    def summary(self) -> str:
        s = self.stats()
        reasons = ", ".join(f"{k}: {v}" for k, v in s["dropped_by_reason"].items())
        text = f"{s['rows_in']} rows in = {s['kept']} kept + {s['dropped']} dropped"
        text += f" ({reasons})" if reasons else ""
        text += f" + {s['skipped_lines']} unreadable lines skipped" if s["skipped_lines"] else ""
        if s["missing_by_field"]:
            text += "; missing: " + ", ".join(f"{k} in {v} rows" for k, v in s["missing_by_field"].items())
        return text


def check_fields(report: LoadReport, fields: list[Field]) -> None:
    """After a file is read: a mapped field that no row had is a FieldError (or, for an optional
    field still at its default name, recorded as absent)."""
    n = report.rows_read
    errors = []
    for f in fields:
        if not f.path or n == 0 or report.missing.get(f.key, 0) < n:
            continue
        if f.required or f.path != f.default:
            errors.append(f"{report.source}: {f.param} = {f.path!r} is missing in every row ({n} rows)")
        else:
            report.absent.append(f.key)
            del report.missing[f.key]
    if errors:
        have = ", ".join(report.seen_paths) or "none"
        raise FieldError("\n".join(errors) + f"\n  fields in the file: {have}")


def as_text(value, f: Field) -> tuple[str | None, str | None]:
    """(text, problem) for a mapped field's value: MISSING -> (None, None), counted by
    `LoadReport.see`; a value that is not a string -> (None, why), for a `not_text` drop."""
    if value is MISSING or isinstance(value, str):
        return (None if value is MISSING else value), None
    return None, f"{f.param} = {f.path!r} holds a {type(value).__name__}: {value!r}"[:200]


def resolve_id(row: dict, f: Field, line, seen: set) -> tuple[str, str | None, str]:
    """(id, drop reason or None, detail): the file's own id, else the line number. An id that
    is neither text nor an integer is `bad_id`; one seen before is `duplicate_id`."""
    value = get_path(row, f.path) if f.path else MISSING
    found = file_id(value) if value is not MISSING else None
    if value is not MISSING and found is None:
        return str(line), "bad_id", f"{f.param} = {f.path!r} holds {value!r}"[:200]
    id_ = found or str(line)
    if id_ in seen:
        return id_, "duplicate_id", f"id {id_!r} appears earlier in the file"
    seen.add(id_)
    return id_, None, ""


def as_number(value):
    """A label as a number: 7 -> 7, "7" -> 7, "7.5" -> 7.5; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            num = float(value.strip())
        except ValueError:
            return None
        return int(num) if num.is_integer() else num
    return None


def require_rows(rows, stage: str, what: str, report: LoadReport | None = None) -> None:
    """A stage left with 0 rows to score/evaluate stops here with the reason, never "done".

    require_rows([], "04_difficulty", "labelled rows to validate against", report)
    -> NoRowsError("04_difficulty: no labelled rows to validate against (3 rows in = 0 kept + ...)")"""
    if len(rows):
        return
    why = f" ({report.summary()})" if report is not None else ""
    raise NoRowsError(f"{stage}: no {what}{why}")
