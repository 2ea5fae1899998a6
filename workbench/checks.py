"""Verifiable instruction checks (IFEval-style): pass/fail by rule, no judge model needed.

An eval row may carry `"checks": [{"type": "word_count_max", "n": 40}, ...]`; each check is
a deterministic function of the response, so scores are cheap, reproducible, judge-free.

strict  the response as written passes (a blank response fails every check).
loose   as in IFEval, any variant passes: as is, first and/or last line removed, each also
        with markdown emphasis asterisks removed. It forgives a "Sure, here it is:" preamble,
        a sign-off line or **bold** markup: formatting slips rather than disobedience.
Prompt-level accuracy: every check of an item passes; instruction-level: share of checks.
Bad specs (unknown type, missing/extra/ill-typed argument) raise ValueError naming them.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable, Iterable

CHECKERS: dict[str, Callable[..., bool]] = {}

_TEXT = (lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string")
_ARG_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "n": (lambda v: type(v) is int and v >= 0, "a non-negative integer"),
    "words": (lambda v: isinstance(v, list) and bool(v) and all(_TEXT[0](w) for w in v),
              "a non-empty list of non-empty strings"),
    "phrase": _TEXT,
    "marker": _TEXT,
}


def _validate_args(kind: str, params: frozenset[str], args: dict) -> None:
    if missing := sorted(params - args.keys()):
        raise ValueError(f"check {kind!r}: missing argument {missing[0]!r}")
    if extra := sorted(args.keys() - params):
        raise ValueError(f"check {kind!r}: unexpected argument {extra[0]!r}")
    for name, value in args.items():
        ok, what = _ARG_RULES[name]
        if not ok(value):
            raise ValueError(f"check {kind!r}: argument {name!r} must be {what}, got {value!r}")


def _checker(fn: Callable[..., bool]) -> Callable[..., bool]:
    """Register `fn` under its own name, wrapped so that bad arguments raise ValueError."""
    params = frozenset(list(inspect.signature(fn).parameters)[1:])

    @functools.wraps(fn)
    def wrapper(response: str, **args) -> bool:
        _validate_args(fn.__name__, params, args)
        return bool(fn(response, **args))

    wrapper.params = params
    CHECKERS[fn.__name__] = wrapper
    return wrapper


# --- text helpers -------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:['’.,:\-]\w+)*")  # don't, cross-functional, 1.10 are one word each
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|\n\s*\n")  # "$1.10" is no split
_BULLET = re.compile(r"^[ \t]*[*\-•][ \t]+(?![ \t*\-_]*$)", re.M)  # "* x", "- x", "• x"; not "* * *"
_DIVIDER = re.compile(r"^[ \t]*\*\*\*[ \t]*$", re.M)
_EMPHASIS = re.compile(r"^([ \t]*\*\*\*[ \t]*$|[ \t]*\*[ \t]+)|\*", re.M)


def _sentences(text: str) -> list[str]:
    # a piece counts only if it has a letter, so "1." of a numbered list is no sentence
    return [s for s in _SENT_END.split(text) if re.search(r"[^\W\d_]", s)]


def _phrase_re(phrase: str) -> re.Pattern:
    body = r"\s+".join(re.escape(part) for part in phrase.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.I)


# --- the checkers: f(response, **args) -> bool --------------------------------------------

@_checker
def word_count_max(text, n):
    return len(_WORD.findall(text)) <= n

@_checker
def word_count_min(text, n):
    return len(_WORD.findall(text)) >= n

@_checker
def sentence_count_max(text, n):
    return len(_sentences(text)) <= n

@_checker
def sentence_count_min(text, n):
    return len(_sentences(text)) >= n

@_checker
def paragraph_count(text, n):
    parts = [p.strip() for p in _DIVIDER.split(text.strip())]
    if parts and not parts[0]:
        parts = parts[1:]
    if parts and not parts[-1]:
        parts = parts[:-1]
    return all(parts) and len(parts) == n  # an empty paragraph between dividers fails

@_checker
def bullet_count(text, n):
    return len(_BULLET.findall(text)) == n

@_checker
def json_output(text):
    fenced = re.fullmatch(r"\s*```(?:json)?\s*(.*?)\s*```\s*", text, re.S | re.I)
    try:
        json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        return False
    return True

@_checker
def keywords_required(text, words):
    return all(_phrase_re(w).search(text) for w in words)

@_checker
def keywords_forbidden(text, words):
    return not any(_phrase_re(w).search(text) for w in words)

@_checker
def all_lowercase(text):
    return text.islower()  # at least one letter, none uppercase

@_checker
def all_uppercase(text):
    return text.isupper()  # at least one letter, none lowercase

@_checker
def starts_with(text, phrase):
    return text.lstrip().startswith(phrase.strip())

@_checker
def ends_with(text, phrase):
    return text.rstrip().endswith(phrase.strip())

@_checker
def title_brackets(text):
    return any(t.strip() for t in re.findall(r"<<([^<>\n]+)>>", text))

@_checker
def section_count(text, marker, n):
    heads = re.findall(rf"^[ \t#>]*{re.escape(marker.strip())}[ \t]*\d+\b", text, re.M)
    return len(heads) >= n

@_checker
def no_commas(text):
    return "," not in text

@_checker
def placeholder_count(text, n):
    # [address] counts; a markdown link [text](url) does not
    return len(re.findall(r"\[[^\[\]\n]*\w[^\[\]\n]*\](?!\()", text)) >= n


# --- scoring ------------------------------------------------------------------------------

def _parse(spec) -> tuple[str, dict]:
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError(f"check spec must be an object with a string 'type', got {spec!r}")
    kind, args = spec["type"], {k: v for k, v in spec.items() if k != "type"}
    if kind not in CHECKERS:
        raise ValueError(f"unknown check type {kind!r}; known: {', '.join(sorted(CHECKERS))}")
    _validate_args(kind, CHECKERS[kind].params, args)
    return kind, args


def check(response: str, spec: dict) -> bool:
    """Strict: the response as written passes `spec`."""
    kind, args = _parse(spec)
    return bool(response.strip()) and bool(CHECKERS[kind].__wrapped__(response, **args))


def loose_variants(response: str) -> list[str]:
    """The response variants tried by the loose score, deduplicated, blanks dropped."""
    lines = response.strip().split("\n")
    base = [response, "\n".join(lines[1:]), "\n".join(lines[:-1]), "\n".join(lines[1:-1])]
    # emphasis asterisks go; "* " bullet markers and *** dividers (group 1) stay
    every = base + [_EMPHASIS.sub(lambda m: m.group(1) or "", v) for v in base]
    return [v for v in dict.fromkeys(every) if v.strip()]


def check_loose(response: str, spec: dict) -> bool:
    _parse(spec)
    return any(check(v, spec) for v in loose_variants(response))


def evaluate_item(response: str, specs: list[dict]) -> dict:
    if not specs:
        raise ValueError("evaluate_item needs at least one check spec")
    for spec in specs:
        _parse(spec)
    variants = loose_variants(response)
    strict = [check(response, s) for s in specs]
    loose = [any(check(v, s) for v in variants) for s in specs]
    return {"strict": strict, "loose": loose, "strict_all": all(strict), "loose_all": all(loose)}


def accuracy(results: list[dict]) -> dict:
    """Prompt- and instruction-level accuracy over `evaluate_item` results (0.0 when empty)."""
    n_p, n_i = len(results), sum(len(r["strict"]) for r in results)
    out: dict = {}
    for mode in ("strict", "loose"):
        out[f"prompt_{mode}"] = sum(r[f"{mode}_all"] for r in results) / n_p if n_p else 0.0
        out[f"instruction_{mode}"] = sum(sum(r[mode]) for r in results) / n_i if n_i else 0.0
    return {**out, "n_prompts": n_p, "n_instructions": n_i}


def validate_specs(items: Iterable[dict]) -> int:
    """Check every item's "checks" list; raise ValueError naming the item id. Returns #checks."""
    count = 0
    for i, item in enumerate(items):
        if "checks" not in item:
            continue
        where, specs = item.get("id", f"item #{i}"), item["checks"]
        if not isinstance(specs, list) or not specs:
            raise ValueError(f"{where}: 'checks' must be a non-empty list, got {specs!r}")
        try:
            for spec in specs:
                _parse(spec)
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        count += len(specs)
    return count
