"""03_filter's rules, in the order they run: lengths in words, contamination, exact then near
duplicates (core/rules.py says how a rule is declared and switched). What they look at
besides the row comes from filters.py (FilterChecks: the bounds, the eval n-grams, the
duplicate indexes).
"""

from __future__ import annotations

from workbench.core.rules import drop, rule


def _words(text: str | None) -> int:
    return len((text or "").split())


@rule(switchable=["filter"])
def instruction_too_few_words(row, ctx):
    """words of instruction + input below filter.min_instruction_words"""
    n = _words(row["instruction"]) + _words(row.get("input"))
    return drop(f"{n} words") if n < ctx.min_instruction_words else None


@rule(switchable=["filter"])
def instruction_too_many_words(row, ctx):
    """words of instruction + input above filter.max_instruction_words"""
    n = _words(row["instruction"]) + _words(row.get("input"))
    return drop(f"{n} words") if n > ctx.max_instruction_words else None


@rule(switchable=["filter"])
def response_too_few_words(row, ctx):
    """words of the answer below filter.min_response_words"""
    n = _words(row.get("response"))
    return drop(f"{n} words") if n < ctx.min_response_words else None


@rule(switchable=["filter"])
def response_too_many_words(row, ctx):
    """words of the answer above filter.max_response_words"""
    n = _words(row.get("response"))
    return drop(f"{n} words") if n > ctx.max_response_words else None


@rule(switchable=["filter"])
def contaminated(row, ctx):
    """instruction + input shares a word filter.decontam_ngram-gram with an eval-set item"""
    hit = ctx.eval_overlap(row)
    return drop(f"eval item {hit[0]}: '{' '.join(hit[1])}'") if hit else None


@rule(switchable=["filter"])
def exact_duplicate(row, ctx):
    """the same instruction + input as a kept row, ignoring case, spacing and punctuation"""
    other = ctx.exact_duplicate_of(row)
    return drop(f"of {other}") if other else None


@rule(switchable=["filter"])
def near_duplicate(row, ctx):
    """character 5-gram Jaccard >= filter.near_dup_threshold with a kept row of another lineage"""
    hit = ctx.near_duplicate_of(row)
    return drop(f"of {hit[0]} (jaccard {hit[1]:.2f})") if hit else None
