"""The eval set of 07_evaluate, read through the field mapping (core/item_sets.py).

    load_eval_items(...)  -> items {"id", "instruction", "input", "skill", "difficulty",
                             "checks", "turns", "reference"}, report; checks in the workbench's
                             format or IFEval's (instruction_id_list + kwargs), auto-detected per row

turns      the user turns, asked one after the other. A single-turn item has one:
           [full_text(item)]. With `turns_field` (an MT-Bench question file: "turns": [str, str])
           a row with a non-empty list of strings there is multi-turn; its first turn is the
           instruction, so the row needs no instruction field. A row without that field is a
           single-turn item read from `instruction_field`; a value that is no list of
           non-empty strings drops the row (`not_turns`).
reference  the reference answer per turn ([str, ...], a single string -> [str]), None when the
           row has none (MT-Bench gives references on its math, reasoning and coding rows only);
           a list shorter than the turns has no reference for the later turns.

A bad check spec is an error naming file, line and id: it is a mistake in the set, not data.
"""

from __future__ import annotations

from workbench.core.fields import (
    MISSING,
    Field,
    LoadReport,
    as_number,
    as_text,
    check_fields,
    get_path,
    resolve_id,
)
from workbench.core.item_sets import item_fields, mapped_rows, preflight, text_fields
from workbench.core.records import full_text
from workbench.data import data_path
from workbench.stages.evaluate import checks as CK
from workbench.stages.evaluate.answer_files import check_answer_candidates

CHECKS_FORMATS = ("auto", "workbench", "ifeval")
IFEVAL_KEYS = ("instruction_id_list", "kwargs")


def _is_ifeval(row: dict, checks_format: str) -> bool:
    return checks_format == "ifeval" or (checks_format == "auto" and "instruction_id_list" in row)


def item_turns(item: dict) -> list[str]:
    """The user turns of an eval item; an item built without them (older code, tests) has one."""
    return item.get("turns") or [full_text(item)]


def load_eval_items(source: str = "bundled", *, instruction_field: str = "instruction", input_field: str = "input",
                    skill_field: str = "skill", difficulty_field: str = "difficulty", checks_field: str = "checks",
                    id_field: str = "id", checks_format: str = "auto", read_checks: bool = True,
                    on_bad_line: str = "fail", turns_field: str = "", reference_field: str = "",
                    ) -> tuple[list[dict], LoadReport]:
    """Eval items with their turns, references and checks as check specs (IFEval rows
    converted by from_ifeval)."""
    if checks_format not in CHECKS_FORMATS:
        raise ValueError(f"evaluate.checks_format must be one of {', '.join(CHECKS_FORMATS)}, got {checks_format!r}")
    report = LoadReport(data_path(source, "eval.jsonl"))
    fields = item_fields("evaluate", "", instruction_field, input_field, skill_field, id_field)
    extra = [Field("difficulty", difficulty_field, "evaluate.difficulty_field", "difficulty"),
             Field("turns", turns_field, "evaluate.turns_field"),
             Field("reference", reference_field, "evaluate.reference_field")]
    # with turns, a row may give its first turn instead of an instruction: the instruction is
    # counted missing below only where a row has neither
    counted = fields[1:] + extra if turns_field else fields + extra
    items, seen = [], set()
    for line, row in mapped_rows(source, report, on_bad_line, counted):
        if turns_field and get_path(row, turns_field) is MISSING and get_path(row, instruction_field) is MISSING:
            report.missing["instruction"] += 1
        id_, reason, detail = resolve_id(row, fields[3], line, seen)
        if reason:
            report.drop(line, id_, reason, detail)
            continue
        turns, problem = _turns(row, turns_field)
        if problem:
            report.drop(line, id_, "not_turns", problem)
            continue
        texts = _texts(report, row, fields, line, id_, turns)
        if texts is None:
            continue
        reference, problem = _reference(row, reference_field)
        if problem:
            report.drop(line, id_, "not_text", problem)
            continue
        raw = get_path(row, difficulty_field) if difficulty_field else None
        if raw is MISSING:
            raw = None
        difficulty = as_number(raw) if raw is not None else None
        if raw is not None and difficulty is None:
            report.drop(line, id_, "not_number", f"{difficulty_field} = {raw!r}")
            continue
        specs = _checks(source, row, line, id_, checks_field, checks_format) if read_checks else []
        item = {"id": id_, "instruction": texts["instruction"], "input": texts["input"] or "",
                "skill": texts["skill"], "difficulty": difficulty, "checks": specs}
        # the first turn is what a single-turn item asks: the instruction with its input
        items.append(item | {"turns": [full_text(item)] + (turns or [])[1:], "reference": reference})
    check_fields(report, fields + extra)
    report.kept = len(items)
    return items, report


def _turns(row: dict, turns_field: str) -> tuple[list[str] | None, str | None]:
    """(turns, problem): None when the row has no turns (a single-turn item)."""
    value = get_path(row, turns_field) if turns_field else MISSING
    if value is MISSING:
        return None, None
    where = f"evaluate.turns_field = {turns_field!r}"
    if not isinstance(value, list) or not value:
        return None, f"{where} holds {value!r}, not a non-empty list of strings"[:200]
    for n, turn in enumerate(value, start=1):
        if not isinstance(turn, str) or not turn.strip():
            return None, f"{where}: turn {n} is {turn!r}, not a non-empty string"[:200]
    return value, None


def _texts(report, row, fields, line, id_, turns) -> dict | None:
    """The instruction / input / skill texts (None: the row was dropped); a multi-turn row's
    first turn is its instruction, whatever instruction_field holds."""
    if turns is None:
        return text_fields(report, row, fields[:3], line, id_)
    out = {"instruction": turns[0]}
    for f in fields[1:3]:
        out[f.key], problem = as_text(get_path(row, f.path) if f.path else MISSING, f)
        if problem:
            report.drop(line, id_, "not_text", problem)
            return None
    return out


def _reference(row: dict, reference_field: str) -> tuple[list[str] | None, str | None]:
    value = get_path(row, reference_field) if reference_field else MISSING
    if value is MISSING or value == []:
        return None, None
    if isinstance(value, str):
        return [value], None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value, None
    return None, f"evaluate.reference_field = {reference_field!r} holds {value!r}, not text or a list of texts"[:200]


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
    """Errors in the evaluate section's eval-set mapping and checks, and in its answers-file
    candidates ("answers:<path>": readable, the right shape, answering some eval item)."""
    kw = {k: getattr(cfg, k) for k in ("instruction_field", "input_field", "skill_field", "difficulty_field",
                                       "checks_field", "id_field", "checks_format", "turns_field",
                                       "reference_field")}
    loaded: dict = {}

    def load():
        loaded["items"] = load_eval_items(cfg.eval_set, read_checks=cfg.verifiable, on_bad_line="skip", **kw)[0]

    errors = [f"evaluate.eval_set: {e}" for e in preflight(load, cfg.eval_set)]
    return errors + [f"evaluate.candidates: {e}"
                     for e in check_answer_candidates(getattr(cfg, "candidates", ()), loaded.get("items"))]
