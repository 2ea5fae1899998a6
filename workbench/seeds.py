"""Load seed instructions from the bundled set or a user's files, normalised into records.

Accepted sources (format="auto" picks by extension / folder):
    bundled                        workbench/data/seeds.jsonl (written for this project)
    file.jsonl / file.json         Alpaca rows (instruction/input/output) or ShareGPT rows
                                   (conversations: first human turn is the instruction)
    file.csv                       one row per seed, columns named by the field map
    folder saved by datasets       Dataset.save_to_disk / DatasetDict.save_to_disk
    a hub name (e.g. org/name)     only where a network exists

Every row in is accounted for: kept + dropped (with a reason) + skipped bad lines = rows in.
"""

from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .data import BUNDLED, data_path
from .io import BadLineError, iter_jsonl_numbered
from .records import new_seed

FORMATS = ("auto", "alpaca", "sharegpt", "csv", "datasets")
HUMAN_ROLES = {"human", "user"}


class SeedSourceError(ValueError):
    pass


@dataclass
class FieldMap:
    instruction: str = "instruction"
    input: str = "input"
    output: str = "output"
    conversations: str = "conversations"


@dataclass
class SeedLoad:
    records: list[dict]
    dropped: list[dict] = field(default_factory=list)  # {"row", "reason", "instruction"}
    skipped_lines: list[dict] = field(default_factory=list)  # {"line", "why"}
    rows_in: int = 0
    source: str = ""

    def stats(self) -> dict:
        by_reason: dict[str, int] = {}
        for d in self.dropped:
            by_reason[d["reason"]] = by_reason.get(d["reason"], 0) + 1
        return {
            "source": self.source, "rows_in": self.rows_in, "kept": len(self.records),
            "dropped": len(self.dropped), "dropped_by_reason": by_reason,
            "skipped_lines": len(self.skipped_lines), "skipped_line_details": self.skipped_lines[:50],
        }


def bundled_seeds_path() -> Path:
    return Path(data_path(BUNDLED, "seeds.jsonl"))


def normalise(text) -> str:
    """Collapse runs of spaces/tabs, trim each line, drop blank-line runs; keep line breaks
    (code and tables in an input need them)."""
    if text is None:
        return ""
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in str(text).replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@cache
def _template_markers() -> tuple[str, ...]:
    from .records import OPS
    from .templates import leak_phrases

    return tuple(m for p in leak_phrases(list(OPS) + ["equal_judge"]) for m in (f"<<{p}>>", f"<< {p} >>"))


def _has_template_marker(text: str) -> bool:
    """A seed carrying a template's own section marker (e.g. "<<New Task>>") would let the
    seed rewrite the evolution prompt around it; such seeds are dropped, not evolved."""
    low = " ".join(text.lower().split())
    return any(m in low for m in _template_markers())


def _first_human_turn(row: dict, fm: FieldMap):
    conv = row.get(fm.conversations)
    if not isinstance(conv, list):
        return None
    for turn in conv:
        if isinstance(turn, dict) and str(turn.get("from", turn.get("role", ""))).lower() in HUMAN_ROLES:
            return turn.get("value", turn.get("content"))
    return None


def _detect_format(path: Path) -> str:
    if path.is_dir():
        return "datasets"
    if path.suffix.lower() == ".csv":
        return "csv"
    return "alpaca"  # rows with a conversations field are read as ShareGPT automatically


def _read_rows(source: str, fmt: str, on_bad_line: str, skipped: list, split: str):
    """Yield (row_number, dict)."""
    source = data_path(source, "seeds.jsonl")
    path = Path(source).expanduser()
    if not path.exists():
        if re.fullmatch(r"[\w.-]+/[\w.-]+", source) and fmt in ("auto", "datasets"):
            yield from _read_hub(source, split)
            return
        raise SeedSourceError(f"seed source not found: {source}")
    fmt = _detect_format(path) if fmt == "auto" else fmt
    if fmt == "datasets":
        from datasets import DatasetDict, load_from_disk

        ds = load_from_disk(str(path))
        if isinstance(ds, DatasetDict):
            if split not in ds:
                raise SeedSourceError(f"{path}: no split {split!r} (has {', '.join(ds)})")
            ds = ds[split]
        for i, row in enumerate(ds, start=1):
            yield i, dict(row)
    elif fmt == "csv":
        yield from _read_csv(path, on_bad_line, skipped)
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise BadLineError(path, e.lineno, f"invalid JSON: {e.msg}") from None
        except UnicodeDecodeError as e:
            raise BadLineError(path, 1, f"not valid UTF-8 ({e.reason})") from None
        if not isinstance(data, list):
            raise SeedSourceError(f"{path}: expected a JSON list of objects")
        for i, row in enumerate(data, start=1):
            if not isinstance(row, dict):
                raise BadLineError(path, i, f"item {i} is not an object")
            yield i, row
    else:
        yield from iter_jsonl_numbered(path, on_bad_line, skipped)


def _read_csv(path: Path, on_bad_line: str, skipped: list):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as e:
            raise BadLineError(path, 1, f"not valid UTF-8 ({e.reason})") from None
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as e:
                raise BadLineError(path, reader.line_num + 1, f"not valid UTF-8 ({e.reason})") from None
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                why = f"expected {len(header)} columns, got {len(cells)}"
                if on_bad_line == "skip":
                    skipped.append({"line": reader.line_num, "why": why})
                    continue
                raise BadLineError(path, reader.line_num, why)
            yield reader.line_num, dict(zip(header, cells))


def _read_hub(name: str, split: str):
    try:
        from datasets import load_dataset

        ds = load_dataset(name, split=split)
    except Exception as e:
        raise SeedSourceError(
            f"could not load {name!r} from the dataset hub ({type(e).__name__}); with no network, "
            "save it with `datasets` where one exists and pass the folder instead"
        ) from None
    for i, row in enumerate(ds, start=1):
        yield i, dict(row)


def load_seeds(source: str = "bundled", fmt: str = "auto", fields: FieldMap | None = None,
               n: int = 0, seed: int = 0, on_bad_line: str = "fail", split: str = "train",
               max_chars: int = 20000) -> SeedLoad:
    """Read, normalise, drop empty / too long / exact-duplicate seeds with reasons, sample n."""
    if fmt not in FORMATS:
        raise SeedSourceError(f"unknown seed format {fmt!r} (use one of {', '.join(FORMATS)})")
    fm = fields or FieldMap()
    out = SeedLoad(records=[], source=source)
    seen: set[tuple[str, str]] = set()
    for row_no, (line, row) in enumerate(_read_rows(source, fmt, on_bad_line, out.skipped_lines, split), start=1):
        out.rows_in += 1
        where = line or row_no
        raw = row.get(fm.instruction)
        if raw is None and fmt in ("auto", "sharegpt"):
            raw = _first_human_turn(row, fm)
        if raw is None:
            out.dropped.append({"row": where, "reason": "missing_field",
                                "instruction": f"no {fm.instruction!r} field (has: {', '.join(map(str, row))[:200]})"})
            continue
        if not isinstance(raw, str):
            out.dropped.append({"row": where, "reason": "not_text", "instruction": repr(raw)[:200]})
            continue
        instruction, input_ = normalise(raw), normalise(row.get(fm.input))
        response = row.get(fm.output)
        response = normalise(response) or None if isinstance(response, str) else None
        if not instruction:
            out.dropped.append({"row": where, "reason": "empty", "instruction": ""})
            continue
        if len(instruction) + len(input_) > max_chars:
            out.dropped.append({"row": where, "reason": "too_long", "instruction": instruction[:200]})
            continue
        if _has_template_marker(instruction + "\n" + input_):
            out.dropped.append({"row": where, "reason": "template_marker", "instruction": instruction[:200]})
            continue
        key = (instruction, input_)
        if key in seen:
            out.dropped.append({"row": where, "reason": "duplicate", "instruction": instruction[:200]})
            continue
        seen.add(key)
        extra = {"skill": row["skill"]} if isinstance(row.get("skill"), str) else {}
        out.records.append(new_seed(instruction, input_, response, **extra))
    out.rows_in += len(out.skipped_lines)
    if n and n < len(out.records):
        rng = random.Random(seed)
        picked = sorted(rng.sample(range(len(out.records)), n))
        chosen = set(picked)
        not_picked = [r for i, r in enumerate(out.records) if i not in chosen]
        out.records = [out.records[i] for i in picked]
        out.dropped += [{"row": None, "reason": "not_sampled", "instruction": r["instruction"][:200]} for r in not_picked]
    return out
