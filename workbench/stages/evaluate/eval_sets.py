"""The eval set of 07_evaluate, read through the field mapping (core/item_sets.py).

    load_eval_items(...)  -> items {"id", "instruction", "input", "skill", "difficulty",
                             "checks"}, report; checks in the workbench's format or IFEval's
                             (instruction_id_list + kwargs), auto-detected per row

A bad check spec is an error naming file, line and id: it is a mistake in the set, not data.
"""

from __future__ import annotations

from workbench.core.fields import MISSING, Field, LoadReport, as_number, check_fields, get_path
from workbench.core.item_sets import identified_texts, item_fields, mapped_rows, preflight
from workbench.data import data_path
from workbench.stages.evaluate import checks as CK

CHECKS_FORMATS = ("auto", "workbench", "ifeval")
IFEVAL_KEYS = ("instruction_id_list", "kwargs")


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
    fields = item_fields("evaluate", "", instruction_field, input_field, skill_field, id_field)
    diff = Field("difficulty", difficulty_field, "evaluate.difficulty_field", "difficulty")
    items, seen = [], set()
    for line, row in mapped_rows(source, report, on_bad_line, fields + [diff]):
        id_, texts = identified_texts(report, row, fields, line, seen)
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

def check_evaluate_config(cfg) -> list[str]:
    """Errors in the evaluate section's eval-set mapping and checks."""
    kw = {k: getattr(cfg, k) for k in ("instruction_field", "input_field", "skill_field", "difficulty_field",
                                       "checks_field", "id_field", "checks_format")}
    return [f"evaluate.eval_set: {e}" for e in
            preflight(lambda: load_eval_items(cfg.eval_set, read_checks=cfg.verifiable, on_bad_line="skip", **kw),
                       cfg.eval_set)]
