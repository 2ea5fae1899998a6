"""Verifiable instruction checks: pass/fail by rule, no judge model needed.

Two spellings of a check, one set of checkers (IFEval's semantics, workbench/stages/evaluate/ifeval.py):

    workbench   "checks": [{"type": "word_count_max", "n": 40}, ...]
    IFEval      "instruction_id_list": ["length_constraints:number_words"],
                "kwargs": [{"num_words": 41, "relation": "less than"}]   -> from_ifeval()

Every IFEval id is itself a check type ({"type": "punctuation:no_comma"}). The workbench's
own types are IFEval checkers with plainer arguments: word_count_max n -> number_words less
than n+1; keywords_required -> keywords:existence (a substring, any case); ends_with ->
startend:end_checker (any case); section_count -> detectable_format:multiple_sections;
bullet_count -> number_bullet_lists ("* x", "*x" and "- x" lines) ... Three have no IFEval
twin and keep their own rule: starts_with (the stripped response starts with the phrase),
all_lowercase / all_uppercase (the case alone, without IFEval's English-language test).

strict  the response as written passes (a blank response fails every check).
loose   IFEval's variants: the response, without its first line, without its last line,
        without both, and each of these with every "*" removed; any non-blank one passing
        passes. It forgives a "Sure, here it is:" preamble, a sign-off or **bold** markup.
Prompt-level accuracy: every check of an item passes; instruction-level: share of checks.
Bad specs (unknown type, missing/extra/ill-typed argument) raise ValueError naming them.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable

from workbench.stages.evaluate import ifeval as IF

CHECKERS: dict[str, Callable[..., bool]] = {}

_TEXT = (lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string")
_COUNT = (lambda v: type(v) is int and v >= 0, "a non-negative integer")
_WORDS = (lambda v: isinstance(v, list) and bool(v) and all(_TEXT[0](w) for w in v),
          "a non-empty list of non-empty strings")
_RELATION = (lambda v: v in IF.RELATIONS, f"one of {' | '.join(IF.RELATIONS)}")
ARG_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "n": _COUNT, "words": _WORDS, "phrase": _TEXT, "marker": _TEXT,
    "keywords": _WORDS, "forbidden_words": _WORDS, "keyword": _TEXT, "frequency": _COUNT,
    "relation": _RELATION, "let_relation": _RELATION, "capital_relation": _RELATION,
    # IFEval's rows also ask for "#" and "!": one character of any kind, counted as written
    "letter": (lambda v: isinstance(v, str) and len(v.strip()) == 1, "a single character"),
    "let_frequency": _COUNT, "capital_frequency": _COUNT, "language": _TEXT,
    "num_sentences": _COUNT, "num_paragraphs": _COUNT, "num_words": _COUNT, "num_placeholders": _COUNT,
    "num_bullets": _COUNT, "num_highlights": _COUNT, "num_sections": _COUNT,
    "nth_paragraph": (lambda v: type(v) is int and v >= 1, "an integer >= 1"),
    "first_word": _TEXT, "postscript_marker": _TEXT, "section_spliter": _TEXT,
    "prompt_to_repeat": _TEXT, "end_phrase": _TEXT,
}


def _validate_args(kind: str, params: frozenset[str], args: dict) -> None:
    if missing := sorted(params - args.keys()):
        raise ValueError(f"check {kind!r}: missing argument {missing[0]!r}")
    if extra := sorted(args.keys() - params):
        raise ValueError(f"check {kind!r}: unexpected argument {extra[0]!r}")
    for name, value in args.items():
        ok, what = ARG_RULES[name]
        if not ok(value):
            raise ValueError(f"check {kind!r}: argument {name!r} must be {what}, got {value!r}")


def register(name: str, fn: Callable[..., bool]) -> Callable[..., bool]:
    """Register `fn(text, **args)` under `name`, wrapped so that bad arguments raise ValueError."""
    params = frozenset(list(inspect.signature(fn).parameters)[1:])

    @functools.wraps(fn)
    def wrapper(response: str, **args) -> bool:
        _validate_args(name, params, args)
        return bool(fn(response, **args))

    wrapper.params = params
    CHECKERS[name] = wrapper
    return wrapper


for _name, _fn in IF.TYPES.items():
    register(_name, _fn)

# --- the workbench's own types, on the same checkers ----------------------------------------
_OWN = {
    "word_count_max": lambda text, n: IF.number_words(text, n + 1, "less than"),
    "word_count_min": lambda text, n: IF.number_words(text, n, "at least"),
    "sentence_count_max": lambda text, n: IF.number_sentences(text, n + 1, "less than"),
    "sentence_count_min": lambda text, n: IF.number_sentences(text, n, "at least"),
    "paragraph_count": lambda text, n: IF.number_paragraphs(text, n),
    "bullet_count": lambda text, n: IF.number_bullet_lists(text, n),
    "json_output": lambda text: IF.json_format(text),
    "keywords_required": lambda text, words: IF.keywords_existence(text, words),
    "keywords_forbidden": lambda text, words: IF.keywords_forbidden_words(text, words),
    "all_lowercase": lambda text: text.islower(),  # at least one letter, none uppercase
    "all_uppercase": lambda text: text.isupper(),
    "starts_with": lambda text, phrase: text.lstrip().startswith(phrase.strip()),
    "ends_with": lambda text, phrase: IF.end_checker(text, phrase),
    "title_brackets": lambda text: IF.title(text),
    "section_count": lambda text, marker, n: IF.multiple_sections(text, marker, n),
    "no_commas": lambda text: IF.no_comma(text),
    "placeholder_count": lambda text, n: IF.number_placeholders(text, n),
}
for _name, _fn in _OWN.items():
    register(_name, _fn)
WORKBENCH_TYPES = tuple(_OWN)


# --- IFEval rows --------------------------------------------------------------------------

def from_ifeval(instruction_id_list, kwargs) -> list[dict]:
    """IFEval's (instruction_id_list, kwargs) -> check specs. Null kwargs are dropped (the
    published file on the dataset hub fills every key of every type with null).

    from_ifeval(["punctuation:no_comma"], [{}]) -> [{"type": "punctuation:no_comma"}]"""
    if not isinstance(instruction_id_list, list) or not instruction_id_list:
        raise ValueError(f"'instruction_id_list' must be a non-empty list, got {instruction_id_list!r}")
    if kwargs is None:
        kwargs = [{} for _ in instruction_id_list]
    if not isinstance(kwargs, list) or len(kwargs) != len(instruction_id_list):
        raise ValueError(f"'kwargs' must be a list of {len(instruction_id_list)} objects, one per instruction id")
    specs = []
    for kind, args in zip(instruction_id_list, kwargs):
        if not isinstance(kind, str) or kind not in IF.TYPES:
            raise ValueError(f"unknown IFEval instruction id {kind!r}; known: {', '.join(IF.TYPES)}")
        if not isinstance(args, dict):
            raise ValueError(f"kwargs for {kind!r} must be an object, got {args!r}")
        specs.append({"type": kind, **{k: v for k, v in args.items() if v is not None}})
    for spec in specs:
        _parse(spec)
    return specs


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
    """IFEval's loose variants, in its order, deduplicated, blanks dropped."""
    lines = response.split("\n")
    cut = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    every = [response, response.replace("*", "")] + cut + [v.replace("*", "") for v in cut]
    return [v for v in dict.fromkeys(every) if v.strip()]


def check_loose(response: str, spec: dict) -> bool:
    _parse(spec)
    return any(check(v, spec) for v in loose_variants(response))


def evaluate_item(response: str, specs: list[dict]) -> dict:
    if not specs:
        raise ValueError("evaluate_item needs at least one check spec")
    types = [_parse(spec)[0] for spec in specs]
    variants = loose_variants(response)
    strict = [check(response, s) for s in specs]
    loose = [any(check(v, s) for v in variants) for s in specs]
    return {"types": types, "strict": strict, "loose": loose, "strict_all": all(strict), "loose_all": all(loose)}


def accuracy(results: list[dict]) -> dict:
    """Prompt- and instruction-level accuracy, strict and loose, as IFEval reports them, plus
    the same per check type. With no results every rate is None, with the reason."""
    n_p, n_i = len(results), sum(len(r["strict"]) for r in results)
    out: dict = {"n_prompts": n_p, "n_instructions": n_i}
    for mode in ("strict", "loose"):
        out[f"prompt_{mode}"] = sum(r[f"{mode}_all"] for r in results) / n_p if n_p else None
        out[f"instruction_{mode}"] = sum(sum(r[mode]) for r in results) / n_i if n_i else None
    by_type: dict = {}
    for r in results:
        for kind, s, lo in zip(r.get("types") or [None] * len(r["strict"]), r["strict"], r["loose"]):
            t = by_type.setdefault(kind or "unrecorded", {"n": 0, "strict": 0, "loose": 0})
            t["n"], t["strict"], t["loose"] = t["n"] + 1, t["strict"] + s, t["loose"] + lo
    out["by_type"] = {k: {"n": v["n"], "strict": v["strict"] / v["n"], "loose": v["loose"] / v["n"]}
                      for k, v in sorted(by_type.items())}
    if not n_p:
        out["reason"] = "no item with checks was evaluated"
    return out


def check_specs(specs) -> None:
    """Raise ValueError unless `specs` is a non-empty list of valid check specs."""
    if not isinstance(specs, list) or not specs:
        raise ValueError(f"'checks' must be a non-empty list, got {specs!r}")
    for spec in specs:
        _parse(spec)


def validate_specs(items: Iterable[dict]) -> int:
    """Check every item's "checks" list; raise ValueError naming the item id. Returns #checks."""
    count = 0
    for i, item in enumerate(items):
        if "checks" not in item:
            continue
        try:
            check_specs(item["checks"])
        except ValueError as e:
            raise ValueError(f"{item.get('id', f'item #{i}')}: {e}") from None
        count += len(item["checks"])
    return count
