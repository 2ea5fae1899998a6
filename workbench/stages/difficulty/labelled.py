"""The labelled set of 04_difficulty: items with a human difficulty label, for validating the judge.

    load_labelled(...) -> rows {"id", "instruction", "input", "skill", "difficulty"}, report
                          (the human label is kept under "difficulty", whatever its field)

Read through the same field mapping as seeds and eval sets (core/item_sets.py); a row without
a label is dropped as no_label, a label that is no number as not_number.
"""

from __future__ import annotations

from workbench.core.fields import MISSING, Field, LoadReport, as_number, check_fields, get_path
from workbench.core.item_sets import identified_texts, item_fields, mapped_rows, preflight
from workbench.data import data_path


def load_labelled(source: str = "bundled", *, instruction_field: str = "instruction", input_field: str = "input",
                  label_field: str = "difficulty", skill_field: str = "skill", id_field: str = "id",
                  on_bad_line: str = "fail") -> tuple[list[dict], LoadReport]:
    """Rows carrying a human difficulty label, for validating a judge. A row without a label
    is dropped as no_label, a label that is no number as not_number."""
    report = LoadReport(data_path(source, "eval.jsonl"))
    fields = item_fields("difficulty", "labelled_", instruction_field, input_field, skill_field, id_field)
    label = Field("label", label_field, "difficulty.label_field", "difficulty", True)
    rows, seen = [], set()
    for line, row in mapped_rows(source, report, on_bad_line, fields + [label]):
        id_, texts = identified_texts(report, row, fields, line, seen)
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


def check_difficulty_config(cfg) -> list[str]:
    """Errors in the difficulty section's labelled-set mapping (only when validate is on)."""
    if not cfg.validate:
        return []
    kw = {"instruction_field": cfg.labelled_instruction_field, "input_field": cfg.labelled_input_field,
          "label_field": cfg.label_field, "skill_field": cfg.labelled_skill_field, "id_field": cfg.labelled_id_field}
    return [f"difficulty.labelled_set: {e}" for e in
            preflight(lambda: load_labelled(cfg.labelled_set, on_bad_line="skip", **kw), cfg.labelled_set)]
