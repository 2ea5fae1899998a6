"""The judge protocols of 07_evaluate (evaluate.protocol), on judging units (item i, turn t).

    us = units(items)                                                    # [(0, 0), (1, 0), (1, 1), ...]
    pairs = judge_pairs(items, answers["evolved"], answers["seeds"], judge, protocol="scores")
    grades = grade_single(items, answers["evolved"], judge, protocol="rationale")

answers[i] is the candidate's list of replies to item i, one per turn, or None (no answer).
Each function returns one dict per unit, in units(items) order, with "item" (index) and "turn"
(1-based).

verdict    pairwise: a bare A / B / Tie; from token probabilities where the judge has them
           (mode auto/probs, pairwise.verdict_from_probs with min_mass), else parsed from a short
           reply (auto/parsed). Single: workbench.llm.rating.rate, a bare 1-10. Today's protocol.
rationale  the judge explains, then marks its call: [[A]], [[B]] or [[C]] (tie) for a pair,
           [[n]] (a whole 1..10) for a single grade. The LAST marker in the reply counts, so a
           marker quoted in the explanation is overridden by the final one. The rating is read
           from the text: a rationale is free text, so there is no whole-reply probability to
           take (mode is ignored there; single grades say rating_mode "marked").
scores     the paper's, after Vicuna: one reply scores both answers, ending "[[s_A, s_B]]".
           Per order the verdict is the higher score (equal = Tie); orders are combined as
           for verdicts. Single grading is rationale's.

Every pairwise protocol asks both orders, and the outcome for the FIRST candidate is
pairwise.combine_orders(order_1, order_2): orders that disagree are undetermined, never a tie.
A unit whose answer is missing is an "error" without a judge call; a judge call that failed
is an "error" with its reason, never a loss. An unreadable verdict (no marker, a marker out of
range, too little probability) leaves that order None with a reason, and the unit undetermined.
"""

from __future__ import annotations

import re

from workbench.llm import GenParams
from workbench.llm.rating import rate
from workbench.stages.evaluate.eval_sets import item_turns
from workbench.stages.evaluate.judge_prompts import PROTOCOLS, pair_messages, single_messages
from workbench.stages.evaluate.pairwise import VERDICTS, combine_orders, parse_pair_verdict
from workbench.stages.evaluate.pairwise import verdict_from_probs as from_probs

MODES = ("auto", "probs", "parsed")
RATIONALE_TOKENS = 384  # room for a few sentences of reasoning before the marker
_MARKER = re.compile(r"\[\[([^\[\]]*)\]\]")
_WHOLE = re.compile(r"\s*(\d+)\s*(?:/\s*10\s*)?")
_TWO = re.compile(r"\s*(\d+)\s*,\s*(\d+)\s*")
_MARKED_VERDICTS = {"A": "A", "B": "B", "C": "Tie", "TIE": "Tie"}


def check_protocol(protocol: str, mode: str) -> list[str]:
    """Pre-flight errors for evaluate.protocol and evaluate.judge_mode (empty when fine)."""
    errors = []
    if protocol not in PROTOCOLS:
        errors.append(f"evaluate.protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if mode not in MODES:
        errors.append(f"evaluate.judge_mode must be one of {', '.join(MODES)}, got {mode!r}")
    elif mode == "probs" and protocol in PROTOCOLS and protocol != "verdict":
        errors.append(f"evaluate.judge_mode = 'probs' needs evaluate.protocol = 'verdict': {protocol!r} is read "
                      "from the judge's text; use judge_mode auto or parsed")
    return errors


def units(items: list[dict]) -> list[tuple[int, int]]:
    """One judging unit per (item, turn), turn 0-based: a 2-turn item gives (i, 0) and (i, 1)."""
    return [(i, t) for i, it in enumerate(items) for t in range(len(item_turns(it)))]


def replies_upto(answer, t: int) -> list[str] | None:
    """The candidate's replies through turn t, or None when it has no reply to turn t. A plain
    string (a single-turn answer in the older shape) is its reply to turn 1."""
    replies = [answer] if isinstance(answer, str) else answer
    if not isinstance(replies, list) or t >= len(replies) or any(r is None for r in replies[:t + 1]):
        return None
    return replies[:t + 1]


# ---- reading a marked reply -------------------------------------------------------------------

def last_marker(text: str | None) -> str | None:
    """What the last [[...]] in the text holds, None when there is none: "x [[A]] y [[B]]" -> "B"."""
    found = _MARKER.findall(text or "")
    return found[-1].strip() if found else None


def parse_marked_verdict(text: str | None) -> tuple[str | None, str | None]:
    """(A / B / Tie, None) or (None, "no_marker" | "out_of_range"): "... [[C]]" -> ("Tie", None);
    'not "[[A]]" after all. [[B]]' -> ("B", None); "[[D]]" -> (None, "out_of_range")."""
    mark = last_marker(text)
    if mark is None:
        return None, "no_marker"
    verdict = _MARKED_VERDICTS.get(mark.upper())
    return (verdict, None) if verdict else (None, "out_of_range")


def _whole_1_10(s: str) -> int | None:
    return int(s) if 1 <= int(s) <= 10 else None


def parse_marked_rating(text: str | None) -> tuple[int | None, str | None]:
    """(1..10, None) or (None, reason): "[[10]]" -> 10; "[[7/10]]" -> 7; "[[11]]", "[[0]]",
    "[[7.5]]", "[[good]]" -> (None, "out_of_range"); no [[...]] -> (None, "no_marker")."""
    mark = last_marker(text)
    if mark is None:
        return None, "no_marker"
    m = _WHOLE.fullmatch(mark)
    value = _whole_1_10(m.group(1)) if m else None
    return (value, None) if value is not None else (None, "out_of_range")


def parse_marked_scores(text: str | None) -> tuple[tuple[int, int] | None, str | None]:
    """((s_A, s_B), None) or (None, reason): "... [[7, 4]]" -> ((7, 4), None);
    "[[7, 11]]", "[[7]]" -> (None, "out_of_range"); no [[...]] -> (None, "no_marker")."""
    mark = last_marker(text)
    if mark is None:
        return None, "no_marker"
    m = _TWO.fullmatch(mark)
    scores = (_whole_1_10(m.group(1)), _whole_1_10(m.group(2))) if m else (None, None)
    return (scores, None) if None not in scores else (None, "out_of_range")


def verdict_from_scores(scores: tuple[int, int] | None) -> str | None:
    """The higher-scored slot, Tie when equal: (7, 4) -> "A"; (5, 5) -> "Tie"; None -> None."""
    if scores is None:
        return None
    a, b = scores
    return "A" if a > b else "B" if b > a else "Tie"


# ---- one judge reply per prompt -> {"verdict", "reason", "raw", "error"?, "scores"?} -----------

def _failed(c) -> dict:
    return {"verdict": None, "reason": "backend_error", "raw": None, "error": c.error or "the judge returned no text"}


def _read_bare(prompts: list, judge, mode: str, min_mass: float) -> list[dict]:
    """Verdict protocol: probabilities of the whole replies A / B / Tie where the judge gives
    them, a parsed short reply where it gives none (auto) or when asked to (parsed)."""
    out: list[dict] = [{} for _ in prompts]
    need_text = list(range(len(prompts))) if mode == "parsed" else []
    if mode in ("auto", "probs"):
        for k, p in enumerate(judge.choice_probs(prompts, VERDICTS)):
            if p is None and mode == "auto":
                need_text.append(k)
                continue
            v = from_probs(p, min_mass)
            reason = None if v else ("no_token_probabilities" if p is None else "low_mass")
            out[k] = {"verdict": v, "reason": reason, "raw": None}
    if need_text:
        for k, c in zip(need_text, judge.generate([prompts[k] for k in need_text], GenParams(max_new_tokens=8))):
            v = parse_pair_verdict(c.text) if c.ok else None
            out[k] = _failed(c) if not c.ok else {"verdict": v, "reason": None if v else "unparsable", "raw": c.text}
    return out


def _read_marked(prompts: list, judge, protocol: str, max_new_tokens: int) -> list[dict]:
    """Rationale / scores protocols: a free reply, read from its last marker."""
    out = []
    for c in judge.generate(prompts, GenParams(max_new_tokens=max_new_tokens)):
        if not c.ok:
            out.append(_failed(c) | ({"scores": None} if protocol == "scores" else {}))
        elif protocol == "scores":
            scores, reason = parse_marked_scores(c.text)
            out.append({"verdict": verdict_from_scores(scores), "reason": reason, "raw": c.text,
                        "scores": list(scores) if scores else None})
        else:
            v, reason = parse_marked_verdict(c.text)
            out.append({"verdict": v, "reason": reason, "raw": c.text})
    return out


def _unit_judgment(i: int, t: int, r1: dict, r2: dict, protocol: str) -> dict:
    """Both orders of one unit -> its judgment for the FIRST candidate (shown as A in order 1)."""
    j = {"item": i, "turn": t + 1, "order_1": r1["verdict"], "order_2": r2["verdict"], "raw_1": r1["raw"],
         "raw_2": r2["raw"], "reason_1": r1["reason"], "reason_2": r2["reason"]}
    failed = [r["error"] for r in (r1, r2) if "error" in r]
    j["outcome"] = "error" if failed else combine_orders(r1["verdict"], r2["verdict"])
    if failed:
        j["error"] = f"judge call failed: {failed[0]}"
    if protocol == "scores":
        s1, s2 = r1["scores"], r2["scores"]
        # both in candidate order [first, second]: order 2 showed the second candidate as A
        j["scores_1"], j["scores_2"] = s1, ([s2[1], s2[0]] if s2 else None)
        both = s1 is not None and s2 is not None
        j["score_first"] = (s1[0] + s2[1]) / 2 if both else None
        j["score_second"] = (s1[1] + s2[0]) / 2 if both else None
    return j


def _check(protocol: str, mode: str) -> None:
    if protocol not in PROTOCOLS or mode not in MODES:
        raise ValueError("; ".join(check_protocol(protocol, mode)))


def judge_pairs(items: list[dict], answers_1: list, answers_2: list, judge, mode: str = "auto",
                min_mass: float = 0.5, *, protocol: str = "verdict", max_new_tokens: int = RATIONALE_TOKENS) -> list[dict]:
    """Both orders for every unit -> one judgment per unit (units(items) order) for candidate 1:
    {"item", "turn", "order_1", "order_2" (A / B / Tie / None, as the judge read the slots),
     "outcome" (win / tie / loss / undetermined / error), "raw_1", "raw_2", "reason_1",
     "reason_2" (why an order is None), "error" (on error only),
     with "scores": "scores_1", "scores_2" ([s_first, s_second] per order), "score_first",
     "score_second" (means over both orders, None when either is unreadable)}.
    max_new_tokens applies to rationale and scores; a bare verdict needs 8."""
    _check(protocol, mode)
    out: list[dict] = []
    live = []  # (position in out, item, turn, replies of candidate 1, of candidate 2)
    for i, t in units(items):
        r1, r2 = replies_upto(answers_1[i], t), replies_upto(answers_2[i], t)
        missing = [name for name, r in (("first", r1), ("second", r2)) if r is None]
        j = {"item": i, "turn": t + 1, "order_1": None, "order_2": None, "outcome": "error",
             "raw_1": None, "raw_2": None, "reason_1": None, "reason_2": None}
        if missing:
            j["error"] = f"no answer to judge from the {' and '.join(missing)} candidate"
        else:
            live.append((len(out), i, t, r1, r2))
        out.append(j)
    p1 = [pair_messages(items[i], t, r1, r2, protocol) for _, i, t, r1, r2 in live]
    p2 = [pair_messages(items[i], t, r2, r1, protocol) for _, i, t, r1, r2 in live]
    if protocol == "verdict":
        read1, read2 = _read_bare(p1, judge, mode, min_mass), _read_bare(p2, judge, mode, min_mass)
    else:
        read1, read2 = (_read_marked(p, judge, protocol, max_new_tokens) for p in (p1, p2))
    for (pos, i, t, *_), r1, r2 in zip(live, read1, read2):
        out[pos] = _unit_judgment(i, t, r1, r2, protocol)
    if protocol == "scores":
        for j in out:
            j.setdefault("scores_1", None), j.setdefault("scores_2", None)
            j.setdefault("score_first", None), j.setdefault("score_second", None)
    return out


def grade_single(items: list[dict], answers: list, judge, protocol: str = "verdict", mode: str = "auto",
                 min_mass: float = 0.5, *, max_new_tokens: int = RATIONALE_TOKENS) -> list[dict]:
    """One 1-10 grade per unit (units(items) order): {"item", "turn", "rating" (float or None),
    "rating_reason" (why None: no_answer, backend_error, no_marker, out_of_range, unparsable,
    rating_mass_low, no_token_probabilities), "rating_mode" (expected / parsed / marked),
    "rating_mass" or "rating_raw", "error" (missing answer or failed call only)}.
    A missing answer is not sent to the judge."""
    _check(protocol, mode)
    out: list[dict] = []
    live = []
    for i, t in units(items):
        replies = replies_upto(answers[i], t)
        out.append({"item": i, "turn": t + 1, "rating": None, "rating_reason": "no_answer",
                    "error": "no answer to grade"})
        if replies is not None:
            live.append((len(out) - 1, i, t, replies))
    prompts = [single_messages(items[i], t, r, protocol) for _, i, t, r in live]
    if protocol == "verdict":
        graded = rate(prompts, judge, {"probs": "expected"}.get(mode, mode), min_mass)
    else:
        graded = [_marked_grade(c) for c in judge.generate(prompts, GenParams(max_new_tokens=max_new_tokens))]
    for (pos, i, t, _), g in zip(live, graded):
        out[pos] = {"item": i, "turn": t + 1, **g}
        if g["rating_reason"] == "backend_error":
            out[pos]["error"] = f"judge call failed: {g.get('rating_raw')}"
    return out


def _marked_grade(c) -> dict:
    if not c.ok:
        return {"rating": None, "rating_reason": "backend_error", "rating_mode": "marked",
                "rating_raw": c.error or "the judge returned no text"}
    value, reason = parse_marked_rating(c.text)
    return {"rating": float(value) if value is not None else None, "rating_reason": reason,
            "rating_mode": "marked", "rating_raw": c.text}
