"""Labelled sets (04_difficulty) and eval sets (07_evaluate), read through the field mapping.

Both take a .jsonl / .json / .csv file, a saved `datasets` folder, or "bundled" (the eval set
written for this project), and the same mapping as the seeds (workbench/fields.py).

    load_labelled(...)    -> rows {"id", "instruction", "input", "skill", "difficulty"}, report
                             (the human label is kept under "difficulty", whatever its field)
    load_eval_items(...)  -> items {"id", "instruction", "input", "skill", "difficulty",
                             "checks"}, report; checks in the workbench's format or IFEval's
                             (instruction_id_list + kwargs), auto-detected per row

A row's id is the file's own (id_field) or else its line number. Drops, each counted with
its reason: missing_field, not_text, empty, no_label, not_number, bad_id, duplicate_id.
A bad check spec is an error naming file, line and id: it is a mistake in the set, not data.
"""

from __future__ import annotations

from pathlib import Path

from . import checks as CK
from .data import data_path
from .fields import (
    MISSING,
    Field,
    FieldError,
    LoadReport,
    as_number,
    as_text,
    check_fields,
    get_path,
    resolve_id,
)
from .io import BadLineError
from .tables import SourceError, TooLong, read_rows

CHECKS_FORMATS = ("auto", "workbench", "ifeval")
IFEVAL_KEYS = ("instruction_id_list", "kwargs")


def _fields(section: str, prefix: str, instruction, input_, skill, id_) -> list[Field]:
    return [Field("instruction", instruction, f"{section}.{prefix}instruction_field", "instruction", True),
            Field("input", input_, f"{section}.{prefix}input_field", "input"),
            Field("skill", skill, f"{section}.{prefix}skill_field", "skill"),
            Field("id", id_, f"{section}.{prefix}id_field", "id")]


def _text_fields(report, row, fields, line, id_) -> dict | None:
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


def _rows(source: str, report: LoadReport, on_bad_line: str, fields: list[Field]):
    for line, row in read_rows(data_path(source, "eval.jsonl"), "auto", on_bad_line, report.skipped_lines):
        report.rows_in += 1
        if isinstance(row, TooLong):
            report.drop(line, None, "cell_too_long", f"column {row.column!r} holds {row.chars} characters")
            continue
        report.see(row, fields)
        yield line, row


def _identified_texts(report, row, fields, line, seen) -> tuple:
    """-> (the row's id, its instruction / input / skill texts), or (id, None) when the row was
    dropped (a bad or duplicate id, or a text field that is no text) and counted in the report."""
    id_, reason, detail = resolve_id(row, fields[3], line, seen)
    if reason:
        report.drop(line, id_, reason, detail)
        return id_, None
    return id_, _text_fields(report, row, fields[:3], line, id_)


def load_labelled(source: str = "bundled", *, instruction_field: str = "instruction", input_field: str = "input",
                  label_field: str = "difficulty", skill_field: str = "skill", id_field: str = "id",
                  on_bad_line: str = "fail") -> tuple[list[dict], LoadReport]:
    """Rows carrying a human difficulty label, for validating a judge. A row without a label
    is dropped as no_label, a label that is no number as not_number."""
    report = LoadReport(data_path(source, "eval.jsonl"))
    fields = _fields("difficulty", "labelled_", instruction_field, input_field, skill_field, id_field)
    label = Field("label", label_field, "difficulty.label_field", "difficulty", True)
    rows, seen = [], set()
    for line, row in _rows(source, report, on_bad_line, fields + [label]):
        id_, texts = _identified_texts(report, row, fields, line, seen)
        if texts is None:
            continue
        raw = get_path(row, label_field)
        if raw is MISSING:
            report.drop(line, id_, "no_label", f"no {label_field!r} field")
            continue
        value = as_number(raw)
        if value is None:
            report.drop(line, id_, "not_number", f"{label_field} = {raw!r}")
            continue
        rows.append({"id": id_, "instruction": texts["instruction"], "input": texts["input"] or "",
                     "skill": texts["skill"], "difficulty": value})
    check_fields(report, fields + [label])
    report.kept = len(rows)
    return rows, report


def _is_ifeval(row: dict, checks_format: str) -> bool:
    return checks_format == "ifeval" or (checks_format == "auto" and "instruction_id_list" in row)


def load_eval_items(source: str = "bundled", *, instruction_field: str = "instruction", input_field: str = "input",
                    skill_field: str = "skill", difficulty_field: str = "difficulty", checks_field: str = "checks",
                    id_field: str = "id", checks_format: str = "auto", read_checks: bool = True,
                    on_bad_line: str = "fail") -> tuple[list[dict], LoadReport]:
    """Eval items with their checks as check specs (IFEval rows converted by from_ifeval)."""
    if checks_format not in CHECKS_FORMATS:
        raise ValueError(f"evaluate.checks_format must be one of {', '.join(CHECKS_FORMATS)}, got {checks_format!r}")
    report = LoadReport(data_path(source, "eval.jsonl"))
    fields = _fields("evaluate", "", instruction_field, input_field, skill_field, id_field)
    diff = Field("difficulty", difficulty_field, "evaluate.difficulty_field", "difficulty")
    items, seen = [], set()
    for line, row in _rows(source, report, on_bad_line, fields + [diff]):
        id_, texts = _identified_texts(report, row, fields, line, seen)
        if texts is None:
            continue
        raw = get_path(row, difficulty_field) if difficulty_field else None
        if raw is MISSING:
            raw = None
        difficulty = as_number(raw) if raw is not None else None
        if raw is not None and difficulty is None:
            report.drop(line, id_, "not_number", f"{difficulty_field} = {raw!r}")
            continue
        specs = _checks(source, row, line, id_, checks_field, checks_format) if read_checks else []
        items.append({"id": id_, "instruction": texts["instruction"], "input": texts["input"] or "",
                      "skill": texts["skill"], "difficulty": difficulty, "checks": specs})
    check_fields(report, fields + [diff])
    report.kept = len(items)
    return items, report


def _checks(source, row, line, id_, checks_field, checks_format) -> list[dict]:
    where = f"{data_path(source, 'eval.jsonl')}:{line} (id {id_})"
    try:
        if _is_ifeval(row, checks_format):
            missing = [k for k in IFEVAL_KEYS[:1] if k not in row]
            if missing:
                raise ValueError(f"checks_format is ifeval but the row has no {missing[0]!r}")
            return CK.from_ifeval(row["instruction_id_list"], row.get("kwargs"))
        specs = get_path(row, checks_field) if checks_field else None
        if specs is None or specs is MISSING or specs == []:
            return []
        CK.check_specs(specs)
        return specs
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


# --- params pre-flight: the mapping is checked by reading the file, before any model call ---

def _preflight(load, source: str) -> list[str]:
    if source != "bundled" and not Path(source).expanduser().exists():
        return []  # the path check reports it
    try:
        load()
    except (FieldError, SourceError, BadLineError, ValueError) as e:
        return [str(e)]
    return []


def check_difficulty_config(values: dict) -> list[str]:
    """Errors in the difficulty section's labelled-set mapping (only when validate is on)."""
    if not values.get("validate", True):
        return []
    kw = {"instruction_field": values.get("labelled_instruction_field", "instruction"),
          "input_field": values.get("labelled_input_field", "input"), "label_field": values.get("label_field", "difficulty"),
          "skill_field": values.get("labelled_skill_field", "skill"), "id_field": values.get("labelled_id_field", "id")}
    return [f"difficulty.labelled_set: {e}" for e in
            _preflight(lambda: load_labelled(values["labelled_set"], on_bad_line="skip", **kw), values["labelled_set"])]


def check_evaluate_config(values: dict) -> list[str]:
    """Errors in the evaluate section's eval-set mapping and checks."""
    defaults = {"instruction_field": "instruction", "input_field": "input", "skill_field": "skill",
                "difficulty_field": "difficulty", "checks_field": "checks", "id_field": "id", "checks_format": "auto"}
    kw = {k: values.get(k, v) for k, v in defaults.items()}
    return [f"evaluate.eval_set: {e}" for e in
            _preflight(lambda: load_eval_items(values["eval_set"], read_checks=values.get("verifiable", True),
                                               on_bad_line="skip", **kw), values["eval_set"])]
