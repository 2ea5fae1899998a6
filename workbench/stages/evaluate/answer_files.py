"""Another model's answers, read from a file: the 07_evaluate candidate "answers:<path>".

Two published shapes, told apart row by row (a JSON list or JSONL, auto-detected):

    leaderboard (AlpacaEval model outputs)   {"instruction": str, "output": str, "generator": str, ...}
                                             one reply; an "id" or "question_id" if the file has one
    multi-turn (MT-Bench model answers)      {"question_id", "answer_id", "model_id",
                                              "choices": [{"index": 0, "turns": [str, ...]}], "tstamp"}

A row answers the eval item with its id (question_id, else id, against the item's id, as text:
81 == "81"); a row whose id names no item answers the item with its exact instruction text (the
item's instruction, or the instruction with its input). An id match beats a text match.

An item the file does not answer is *unanswered*, with the reason, and never answered with "":
not in the file, fewer turns than the item has, or a reply that is empty or FastChat's "$ERROR$"
marker (what its API answerers write for a failed call). A file that answers no eval item at
all is an error: the ids or texts do not line up.

    load_answers("alpaca_eval_outputs.json", items)
    -> ([["reply"], None, ...], {"q2": "not in the file"}, "my-model")

A malformed row raises ValueError naming the file, the line and the row's id; two rows for one
item is an error naming both lines (FastChat appends when an answer run is resumed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.core.fields import file_id
from workbench.core.io import BadLineError
from workbench.core.records import full_text
from workbench.core.tables import SourceError

PREFIX = "answers:"
ERROR_MARK = "$ERROR$"
_WS = re.compile(r"[ \t\r\n]*")


@dataclass
class AnswerRow:
    line: int
    id: str | None           # question_id or id, as text
    instruction: str | None  # leaderboard rows; multi-turn rows carry only the question id
    turns: list | None       # the replies, one per turn; None: the row's output is null
    generator: str | None    # generator (leaderboard) or model_id (multi-turn)


def is_answers_candidate(cand) -> bool:
    return isinstance(cand, str) and cand.startswith(PREFIX)


def answers_path(cand: str) -> Path:
    return Path(cand[len(PREFIX):].strip()).expanduser()


# --- reading ---

def read_answer_file(path) -> tuple[list[AnswerRow], str | None]:
    """(rows, the one generator or model name they give, or None). Raises SourceError for a
    file that cannot be read or holds no answers, BadLineError for a malformed row."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SourceError(f"{path}: cannot read the answers file ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadLineError(path, data[:e.start].count(b"\n") + 1, f"not valid UTF-8 ({e.reason})") from None
    start = _WS.match(text).end()
    raw = _json_list(path, text, start) if text.startswith("[", start) else _jsonl(path, text)
    rows = [_parse_row(path, line, obj) for line, obj in raw]
    if not rows:
        raise SourceError(f"{path}: no answers in the file")
    named = {}  # generator -> first line naming it
    for r in rows:
        if r.generator is not None:
            named.setdefault(r.generator, r.line)
    if len(named) > 1:
        (a, la), (b, lb) = list(named.items())[:2]
        raise SourceError(f"{path}: answers from more than one model: {a!r} (line {la}) and {b!r} (line {lb}); "
                          "give each model its own file and candidate")
    return rows, next(iter(named), None)


def _json_list(path: Path, text: str, i: int) -> list[tuple[int, object]]:
    """The items of a JSON list, each with the line it starts on (what an editor shows)."""
    dec, out = json.JSONDecoder(), []
    line, counted = 1, 0

    def line_at(pos: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, pos)
        counted = pos
        return line

    i = _WS.match(text, i + 1).end()
    if not text.startswith("]", i):
        while True:
            try:
                obj, end = dec.raw_decode(text, i)
            except json.JSONDecodeError as e:
                raise BadLineError(path, e.lineno, f"invalid JSON: {e.msg} (column {e.colno})") from None
            out.append((line_at(i), obj))
            i = _WS.match(text, end).end()
            if text.startswith(",", i):
                i = _WS.match(text, i + 1).end()
            elif text.startswith("]", i):
                break
            else:
                raise BadLineError(path, line_at(i), "invalid JSON: expected ',' or ']' after a list item")
    after = _WS.match(text, i + 1).end()
    if after < len(text):
        raise BadLineError(path, line_at(after), "invalid JSON: text after the list's closing ']'")
    return out


def _jsonl(path: Path, text: str) -> list[tuple[int, object]]:
    out = []
    for n, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                if not out and _one_object(text):
                    raise SourceError(f"{path}: one JSON object; expected a JSON list of answers or one "
                                      "answer per line") from None
                raise BadLineError(path, n, f"invalid JSON: {e.msg} (column {e.colno})") from None
    return out


def _one_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


def _parse_row(path: Path, line: int, row) -> AnswerRow:
    if not isinstance(row, dict):
        raise BadLineError(path, line, f"expected a JSON object, got {type(row).__name__}")
    key = "question_id" if row.get("question_id") is not None else "id"
    id_ = file_id(row.get(key)) if row.get(key) is not None else None

    def bad(why: str) -> BadLineError:
        return BadLineError(path, line, (f"(id {id_}) " if id_ else "") + why)

    if row.get(key) is not None and id_ is None:
        raise bad(f"{key} must be text or an integer, got {row[key]!r}")
    if "choices" in row:  # multi-turn
        choices = row["choices"]
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise bad(f"'choices' must be a non-empty list of {{index, turns}} objects, got {choices!r}"[:200])
        turns = choices[0].get("turns")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise bad(f"choices[0].turns must be a non-empty list of strings, got {turns!r}"[:200])
        if id_ is None:
            raise bad("a multi-turn answer needs its question_id")
        instruction, generator = None, row.get("model_id")
    elif "output" in row:  # leaderboard
        output, instruction = row["output"], row.get("instruction")
        if output is not None and not isinstance(output, str):
            raise bad(f"'output' must be text, got {type(output).__name__}")
        if instruction is not None and not isinstance(instruction, str):
            raise bad(f"'instruction' must be text, got {type(instruction).__name__}")
        if instruction is None and id_ is None:
            raise bad("no 'instruction' and no id: nothing to match it to an eval item")
        turns, generator = (None if output is None else [output]), row.get("generator")
    else:
        raise bad("not an answer: a leaderboard row has 'output' (and 'instruction', 'generator'), "
                  f"a multi-turn row has 'choices'; this one has {', '.join(map(repr, row)) or 'no fields'}"[:300])
    if generator is not None and not isinstance(generator, str):
        raise bad(f"the model name must be text, got {generator!r}"[:200])
    return AnswerRow(line, id_, instruction, turns, generator)


# --- matching to eval items ---

def load_answers(path, items: list[dict]) -> tuple[list[list[str] | None], dict[str, str], str | None]:
    """(per item: its replies, one per turn, or None; {unanswered item id: why}, in item order;
    the file's generator or model name, or None)."""
    rows, generator = read_answer_file(path)
    chosen = _match(Path(path), rows, items)
    if items and not chosen:
        ids = ", ".join(sorted({r.id for r in rows if r.id})[:3]) or "none"
        raise SourceError(f"{path}: answers none of the {len(items)} eval items, by id (file ids like {ids}; "
                          f"item ids like {', '.join(str(it['id']) for it in items[:3])}) or by instruction text")
    replies, unanswered = [], {}
    for i, item in enumerate(items):
        n = len(item.get("turns") or [full_text(item)])
        row = chosen.get(i)
        why = "not in the file" if row is None else _why_not(row, n)
        replies.append(None if why else row.turns[:n])
        if why:
            unanswered[str(item["id"])] = why
    return replies, unanswered, generator


def _why_not(row: AnswerRow, n: int) -> str | None:
    """Why the row is no answer to an item of n turns, or None when it is one."""
    if row.turns is None:
        return f"line {row.line}: the output is null"
    if len(row.turns) < n:
        return f"line {row.line} answers {len(row.turns)} of the item's {n} turns"
    for t, reply in enumerate(row.turns[:n], start=1):
        if not reply.strip():
            return f"line {row.line}: the reply to turn {t} is empty"
        if reply.strip() == ERROR_MARK:
            return f"line {row.line}: the reply to turn {t} is {ERROR_MARK} (a failed call where it was made)"
    return None


def _match(path: Path, rows: list[AnswerRow], items: list[dict]) -> dict[int, AnswerRow]:
    """{item index: its row}: by id first; rows whose id names no item by exact text."""
    by_id = {str(it["id"]): i for i, it in enumerate(items)}
    by_text: dict[str, set[int]] = {}
    for i, it in enumerate(items):
        for text in (it.get("instruction"), full_text(it)):
            if text:
                by_text.setdefault(text, set()).add(i)
    chosen: dict[int, AnswerRow] = {}
    for r in rows:
        if r.id in by_id:
            _take(path, chosen, by_id[r.id], r, items)
    taken_by_id = set(chosen)
    for r in rows:
        if r.id not in by_id and r.instruction is not None:
            for i in sorted(by_text.get(r.instruction, ())):
                if i not in taken_by_id:
                    _take(path, chosen, i, r, items)
    return chosen


def _take(path: Path, chosen: dict, i: int, row: AnswerRow, items: list[dict]) -> None:
    if i in chosen:
        raise SourceError(f"{path}: lines {chosen[i].line} and {row.line} both answer eval item "
                          f"{items[i]['id']!r}; keep one")
    chosen[i] = row


# --- params pre-flight ---

def check_answer_candidates(candidates, items: list[dict] | None = None) -> list[str]:
    """Errors in the answers-file candidates, before any model call: no path, file missing or
    unreadable, a row of neither shape; with the eval items, also two answers to one item or
    none answered at all."""
    errors = []
    for cand in candidates:
        if not is_answers_candidate(cand):
            continue
        path = answers_path(cand)
        if not str(cand)[len(PREFIX):].strip():
            errors.append(f"candidate {cand!r} names no file (answers:<path>)")
        elif not path.is_file():
            errors.append(f"candidate {cand!r}: " + ("a folder, not a file" if path.is_dir() else "file not found")
                          + f": {path}")
        else:
            try:
                read_answer_file(path) if items is None else load_answers(path, items)
            except ValueError as e:
                errors.append(f"candidate {cand!r}: {e}")
    return errors


def answer_file_generators(models: dict[str, str]) -> dict[str, str | None]:
    """{candidate: the model name its answers file gives, or None} for answers-file candidates."""
    return {c: read_answer_file(answers_path(m))[1] for c, m in models.items() if is_answers_candidate(m)}
