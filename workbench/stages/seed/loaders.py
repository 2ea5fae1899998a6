"""Load seed instructions from the bundled set or a user's files, normalised into records.

Sources (read by workbench/core/tables.py; format "auto" picks by extension / folder):
    bundled                        workbench/data/seeds.jsonl (written for this project)
    file.jsonl / file.json         any rows the field map points into (below)
    file.csv                       one row per seed, columns named by the field map
    folder saved by datasets       Dataset.save_to_disk / DatasetDict.save_to_disk
    a hub name (e.g. org/name)     only where a network exists

Field names are dotted paths (workbench/core/fields.py): Alpaca rows as they are; Self-Instruct
with input "instances.0.input" and output "instances.0.output"; Dolly with input "context"
and output "response". When the instruction field is absent from a row, its conversation
(`conversations` or an OpenAI `messages` list) gives the first human/user turn as the
instruction and the assistant turn after it as the response.

Every row in is accounted for: kept + dropped (with a reason) + skipped bad lines = rows in,
and a file that keeps no seed is an error naming the file and why, before any other work.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core import rules as R
from workbench.core.fields import (
    MISSING,
    Field,
    LoadReport,
    as_text,
    check_fields,
    get_path,
    resolve_id,
)
from workbench.core.records import new_seed
from workbench.core.tables import FORMATS, SourceError, TooLong, read_rows
from workbench.data import BUNDLED, data_path
from workbench.stages.seed import rules as SR

HUMAN_ROLES = {"human", "user"}
ASSISTANT_ROLES = {"gpt", "assistant", "model", "bot"}
BUNDLED_NAME, BUNDLED_LICENSE = "bundled Evol-Instruct Workbench seeds", "Apache-2.0"
UNKNOWN = "unknown"


class SeedSourceError(SourceError):
    pass


@dataclass
class FieldMap:
    instruction: str = "instruction"
    input: str = "input"
    output: str = "output"
    conversations: str = "conversations"
    id: str = ""  # the file's own id, kept on each record as source_id; "" = none

    def fields(self) -> list[Field]:
        return [Field("instruction", self.instruction, "seed.instruction_field", "instruction", True),
                Field("input", self.input, "seed.input_field", "input"),
                Field("output", self.output, "seed.output_field", "output"),
                Field("id", self.id, "seed.id_field", "")]


@dataclass
class SeedLoad:
    records: list[dict]
    dropped: list[dict] = field(default_factory=list)  # {"row", "id", "reason", "instruction"}
    skipped_lines: list[dict] = field(default_factory=list)  # {"line", "why"}
    rows_in: int = 0
    source: str = ""
    report: LoadReport | None = None

    def stats(self) -> dict:
        by_reason: dict[str, int] = {}
        for d in self.dropped:
            by_reason[d["reason"]] = by_reason.get(d["reason"], 0) + 1
        rep = self.report or LoadReport(self.source)
        return {
            "source": self.source, "rows_in": self.rows_in, "kept": len(self.records),
            "dropped": len(self.dropped), "dropped_by_reason": by_reason,
            "skipped_lines": len(self.skipped_lines), "skipped_line_details": self.skipped_lines[:50],
            "missing_by_field": dict(rep.missing), "absent_fields": list(rep.absent),
        }


def bundled_seeds_path() -> Path:
    return Path(data_path(BUNDLED, "seeds.jsonl"))


def provenance(source: str, source_name: str = "", license_: str = "") -> tuple[str, str, str | None]:
    """(seed set name, license, warning) for dataset cards. The bundled set's own name and
    license apply only to the bundled set; any other source is "unknown" unless stated."""
    if source == BUNDLED:
        return source_name or BUNDLED_NAME, license_ or BUNDLED_LICENSE, None
    if (source_name, license_) == (BUNDLED_NAME, BUNDLED_LICENSE):
        source_name = license_ = ""  # earlier runs stored the bundled set's as defaults for any source
    name, lic = source_name or UNKNOWN, license_ or UNKNOWN
    missing = [k for k, v in (("seed.source_name", name), ("seed.license", lic)) if v == UNKNOWN]
    warning = (f"seeds from {source!r} with {' and '.join(missing)} not stated: check the source's "
               "terms before sharing this dataset") if missing else None
    return name, lic, warning


def normalise(text) -> str:
    """Collapse runs of spaces/tabs, trim each line, drop blank-line runs; keep line breaks
    (code and tables in an input need them)."""
    if text is None:
        return ""
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in str(text).replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _conversation_turns(row: dict, fm: FieldMap):
    """(first human turn, the assistant turn after it) of a ShareGPT / OpenAI-messages row."""
    for name in dict.fromkeys((fm.conversations, "messages")):
        conv = get_path(row, name) if name else MISSING
        if not isinstance(conv, list):
            continue
        human = answer = MISSING
        for turn in conv:
            if not isinstance(turn, dict):
                continue
            role = str(turn.get("from", turn.get("role", ""))).lower()
            text = turn.get("value", turn.get("content"))
            if human is MISSING and role in HUMAN_ROLES:
                human = text
            elif human is not MISSING and role in ASSISTANT_ROLES:
                answer = text
                break
        if human is not MISSING:
            return human, answer
    return MISSING, MISSING


def _drop(out: SeedLoad, line, id_, reason: str, text: str) -> None:
    out.dropped.append({"row": line, "id": id_, "reason": reason, "instruction": text[:200]})


@dataclass
class SeedChecks:
    """What the seed rules (workbench/core/rules.py) look at besides the row."""

    max_chars: int
    seen: set = field(default_factory=set)  # (instruction, input) of every seed kept so far


def load_seeds(source: str = "bundled", fmt: str = "auto", fields: FieldMap | None = None,
               n: int = 0, seed: int = 0, on_bad_line: str = "fail", split: str = "train",
               max_chars: int = 20000, rules=R.switchable("seed")) -> SeedLoad:
    """Read, normalise, drop seeds by the seed rules (the always-on ones and those in `rules`)
    with reasons, sample n."""
    if fmt not in FORMATS:
        raise SeedSourceError(f"unknown seed format {fmt!r} (use one of {', '.join(FORMATS)})")
    fm = fields or FieldMap()
    specs = fm.fields()
    out = SeedLoad(records=[], source=source)
    rep = out.report = LoadReport(data_path(source, "seeds.jsonl"), skipped_lines=out.skipped_lines)
    checks, applied = SeedChecks(max_chars), R.applied("seed", rules)
    ids: set[str] = set()
    from_conversations = 0
    try:
        rows = read_rows(data_path(source, "seeds.jsonl"), fmt, on_bad_line, out.skipped_lines, split)
        for line, row in rows:
            out.rows_in += 1
            if isinstance(row, TooLong):
                _drop(out, line, None, SR.CELL_TOO_LONG, f"column {row.column!r} holds {row.chars} characters")
                continue
            rep.see(row, specs[1:])
            id_, reason, detail = resolve_id(row, specs[3], line, ids) if fm.id else (None, None, "")
            if reason:
                _drop(out, line, id_, reason, detail)
                continue
            raw, answer = get_path(row, fm.instruction), MISSING
            if raw is MISSING:
                raw, answer = _conversation_turns(row, fm)
                from_conversations += raw is not MISSING
            if raw is MISSING:
                rep.missing["instruction"] += 1
                _drop(out, line, id_, SR.MISSING_FIELD, f"no {fm.instruction!r} field (has: {', '.join(map(str, row))[:200]})")
                continue
            output = get_path(row, fm.output) if fm.output else MISSING
            values = {"instruction": raw, "input": get_path(row, fm.input) if fm.input else MISSING,
                      "output": answer if output is MISSING else output}
            texts, problems = {}, []
            for spec in specs[:3]:
                texts[spec.key], problem = as_text(values[spec.key], spec)
                problems += [problem] if problem else []
            if problems:
                _drop(out, line, id_, SR.NOT_TEXT, problems[0])
                continue
            instruction, input_ = normalise(texts["instruction"]), normalise(texts["input"])
            response = normalise(texts["output"]) or None if texts["output"] is not None else None
            drop = R.first_drop(applied, {"instruction": instruction, "input": input_}, checks)
            if drop:
                _drop(out, line, id_, drop.reason, instruction)
                continue
            checks.seen.add((instruction, input_))
            extra = {"skill": row["skill"]} if isinstance(row.get("skill"), str) else {}
            extra |= {"source_id": id_} if id_ is not None else {}
            out.records.append(new_seed(instruction, input_, response, **extra))
    except SourceError as e:
        raise SeedSourceError(str(e)) from None
    out.rows_in += len(out.skipped_lines)
    check_fields(rep, specs[1:] + ([specs[0]] if not from_conversations else []))
    if not out.records:
        raise SeedSourceError(f"no seeds kept from {source} ({_why_none(out)})")
    if n and n < len(out.records):
        rng = random.Random(seed)
        picked = sorted(rng.sample(range(len(out.records)), n))
        chosen = set(picked)
        not_picked = [r for i, r in enumerate(out.records) if i not in chosen]
        out.records = [out.records[i] for i in picked]
        out.dropped += [{"row": None, "id": r.get("source_id"), "reason": SR.NOT_SAMPLED,
                         "instruction": r["instruction"][:200]} for r in not_picked]
    return out


def _why_none(out: SeedLoad) -> str:
    if out.rows_in == 0:
        return "the file has no rows: it is empty or blank"
    s = out.stats()
    reasons = ", ".join(f"{k}: {v}" for k, v in s["dropped_by_reason"].items())
    parts = [f"{s['dropped']} dropped: {reasons}" if s["dropped"] else ""]
    parts += [f"{s['skipped_lines']} unreadable lines skipped"] if s["skipped_lines"] else []
    return "; ".join(p for p in parts if p)
