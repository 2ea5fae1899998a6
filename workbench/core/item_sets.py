"""Rows of a labelled set or an eval set, read through the field mapping (core/fields.py).

Both take a .jsonl / .json / .csv file, a saved `datasets` folder, or "bundled" (the eval set
written for this project). A row's id is the file's own (id_field) or else its line number.
Drops, each counted with its reason: missing_field, not_text, empty, bad_id, duplicate_id,
cell_too_long; the loaders add their own (no_label, not_number).
"""

from __future__ import annotations

from pathlib import Path

from workbench.core.fields import (
    MISSING,
    Field,
    FieldError,
    LoadReport,
    as_text,
    get_path,
    resolve_id,
)
from workbench.core.io import BadLineError
from workbench.core.tables import SourceError, TooLong, read_rows
from workbench.data import data_path


def item_fields(section: str, prefix: str, instruction, input_, skill, id_) -> list[Field]:
    return [Field("instruction", instruction, f"{section}.{prefix}instruction_field", "instruction", True),
            Field("input", input_, f"{section}.{prefix}input_field", "input"),
            Field("skill", skill, f"{section}.{prefix}skill_field", "skill"),
            Field("id", id_, f"{section}.{prefix}id_field", "id")]


def text_fields(report, row, fields, line, id_) -> dict | None:
    """{key: text} for the mapped text fields, or None when the row was dropped."""
    out = {}
    for f in fields:
        out[f.key], problem = as_text(get_path(row, f.path) if f.path else MISSING, f)
        if problem:
            report.drop(line, id_, "not_text", problem)
            return None
    if out["instruction"] is None:
        report.drop(line, id_, "missing_field", f"no {fields[0].path!r} field")
        return None
    if not out["instruction"].strip():
        report.drop(line, id_, "empty", "")
        return None
    return out


def mapped_rows(source: str, report: LoadReport, on_bad_line: str, fields: list[Field]):
    for line, row in read_rows(data_path(source, "eval.jsonl"), "auto", on_bad_line, report.skipped_lines):
        report.rows_in += 1
        if isinstance(row, TooLong):
            report.drop(line, None, "cell_too_long", f"column {row.column!r} holds {row.chars} characters")
            continue
        report.see(row, fields)
        yield line, row


def identified_texts(report, row, fields, line, seen) -> tuple:
    """-> (the row's id, its instruction / input / skill texts), or (id, None) when the row was
    dropped (a bad or duplicate id, or a text field that is no text) and counted in the report."""
    id_, reason, detail = resolve_id(row, fields[3], line, seen)
    if reason:
        report.drop(line, id_, reason, detail)
        return id_, None
    return id_, text_fields(report, row, fields[:3], line, id_)


def preflight(load, source: str) -> list[str]:
    if source != "bundled" and not Path(source).expanduser().exists():
        return []  # the path check reports it
    try:
        load()
    except (FieldError, SourceError, BadLineError, ValueError) as e:
        return [str(e)]
    return []


