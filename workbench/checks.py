"""Verifiable instruction checks (IFEval-style): pass/fail by rule, no judge model needed.

An eval row may carry `"checks": [{"type": "word_count_max", "n": 40}, ...]`. Each check
is a small deterministic function of the response text, so scores are cheap, exactly
reproducible and free of judge bias.

strict  the response as written must pass (an empty or blank response fails everything).
loose   as in IFEval: it passes if any variant passes: as is, markdown emphasis asterisks
        removed, first line removed, last line removed, both removed, and each of these
        with asterisks removed. This forgives a "Sure, here it is:" preamble, a trailing
        sign-off or **bold** markup, which are formatting slips rather than disobedience.

Prompt-level accuracy needs every check of an item to pass; instruction-level accuracy is
the share of individual checks that pass. Specs are validated up front: an unknown type
or a missing, extra or ill-typed argument raises ValueError naming type and argument.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable, Iterable

CHECKERS: dict[str, Callable[..., bool]] = {}

_ARG_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "n": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
          "a non-negative integer"),
    "words": (lambda v: isinstance(v, list) and bool(v)
              and all(isinstance(w, str) and w.strip() for w in v),
              "a non-empty list of non-empty strings"),
    "phrase": (lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string"),
    "marker": (lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string"),
}


def _validate_args(kind: str, params: frozenset[str], args: dict) -> None:
    for name in sorted(params - args.keys()):
        raise ValueError(f"check {kind!r}: missing argument {name!r}")
    for name in sorted(args.keys() - params):
        raise ValueError(f"check {kind!r}: unexpected argument {name!r}")
    for name, value in args.items():
        ok, what = _ARG_RULES[name]
        if not ok(value):
            raise ValueError(f"check {kind!r}: argument {name!r} must be {what}, got {value!r}")


def _checker(fn: Callable[..., bool]) -> Callable[..., bool]:
    """Register `fn` under its own name, wrapped so that bad arguments raise ValueError."""
    params = frozenset(list(inspect.signature(fn).parameters)[1:])
    assert params <= _ARG_RULES.keys(), fn.__name__

    @functools.wraps(fn)
    def wrapper(response: str, **args) -> bool:
        _validate_args(fn.__name__, params, args)
        return bool(fn(response, **args))

    wrapper.params = params
    CHECKERS[fn.__name__] = wrapper
    return wrapper


# --- text helpers -------------------------------------------------------------------------

_WORD = re.compile(r"\w+(?:['’.,:\-]\w+)*")  # don't, cross-functional, 1.10 are one word each
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|\n\s*\n")  # "$1.10" and "e.g.x" don't split
_BULLET = re.compile(r"^\s*[*\-•]\s+(?![\s*\-_]*$)", re.M)  # "* x", "- x", "• x"; not "* * *"
_DIVIDER = re.compile(r"^[ \t]*\*\*\*[ \t]*$", re.M)


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _sentences(text: str) -> list[str]:
    # a piece counts only if it has a letter, so "1." of a numbered list is no sentence
    return [s for s in _SENT_END.split(text) if re.search(r"[^\W\d_]", s)]


def _phrase_re(phrase: str) -> re.Pattern:
    body = r"\s+".join(re.escape(part) for part in phrase.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.I)


# --- the checkers: f(response, **args) -> bool --------------------------------------------

@_checker
def word_count_max(text, n):
    return len(_words(text)) <= n


@_checker
def word_count_min(text, n):
    return len(_words(text)) >= n


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
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.S | re.I)
    try:
        json.loads(fenced.group(1) if fenced else body)
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


def _strip_emphasis(text: str) -> str:
    """Drop markdown emphasis asterisks, keeping "* " bullet markers and *** dividers."""
    out = []
    for line in text.split("\n"):
        if _DIVIDER.fullmatch(line):
            out.append(line)
            continue
        bullet = re.match(r"\s*\*\s+", line)
        cut = bullet.end() if bullet else 0
        out.append(line[:cut] + line[cut:].replace("*", ""))
    return "\n".join(out)


def loose_variants(response: str) -> list[str]:
    """The response variants tried by the loose score, deduplicated, blanks dropped."""
    lines = response.strip().split("\n")
    base = [response, "\n".join(lines[1:]), "\n".join(lines[:-1]), "\n".join(lines[1:-1])]
    every = base + [_strip_emphasis(v) for v in base]
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
    n_prompts = len(results)
    n_instructions = sum(len(r["strict"]) for r in results)

    def share(hits: int, total: int) -> float:
        return hits / total if total else 0.0

    return {
        "prompt_strict": share(sum(r["strict_all"] for r in results), n_prompts),
        "prompt_loose": share(sum(r["loose_all"] for r in results), n_prompts),
        "instruction_strict": share(sum(sum(r["strict"]) for r in results), n_instructions),
        "instruction_loose": share(sum(sum(r["loose"]) for r in results), n_instructions),
        "n_prompts": n_prompts,
        "n_instructions": n_instructions,
    }


def validate_specs(items: Iterable[dict]) -> int:
    """Check every item's "checks" list; raise ValueError naming the item id. Returns #checks."""
    count = 0
    for i, item in enumerate(items):
        if "checks" not in item:
            continue
        where = item.get("id", f"item #{i}")
        specs = item["checks"]
        if not isinstance(specs, list) or not specs:
            raise ValueError(f"{where}: 'checks' must be a non-empty list, got {specs!r}")
        for spec in specs:
            try:
                _parse(spec)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            count += 1
    return count
