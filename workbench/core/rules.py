"""Every drop is a named rule: seeds (01_seed), eliminations (02_evolve), filters (03_filter).

A rule is a function of a row and its stage's context returning `Verdict(keep, reason,
detail)`: datatrove's `(keep, reason)`, plus a detail for dropped.jsonl or the record. Every
rule records its own name as the reason, so one name means one thing in every stage, and
this registry is where each is documented (`workbench rules` prints it):

    switchable  listed in the stage's `rules:` param (seed.rules, evolve.rules, filter.rules);
                a rule left out of the list is neither applied nor counted
    always on   a drop the stage cannot go on without (an unreadable cell, a non-text field, a
                duplicate seed id, a failed model call); no list switches it off

Stages apply their rules in registry order (the order below). Lengths have one name per
unit: `too_long` is characters, `*_too_few_words` / `*_too_many_words` are words.

    >>> first_drop(["too_long"], {"instruction": "x" * 9, "input": ""}, Limits(max_chars=8))
    Verdict(keep=False, reason='too_long', detail='9 characters, more than 8')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from workbench.core.templates import has_template_marker
from workbench.stages.evolve import eliminate as E

STAGES = ("seed", "evolve", "filter")  # the params sections that hold a `rules:` list


class Verdict(NamedTuple):
    keep: bool
    reason: str | None = None
    detail: object = ""  # text for dropped.jsonl; prompt_leak gives the leaked phrases


KEEP = Verdict(True)


@dataclass(frozen=True)
class Rule:
    name: str  # also the reason it records
    doc: str
    switchable: tuple[str, ...] = ()  # stages whose `rules:` list turns it on or off
    always: tuple[str, ...] = ()  # stages that apply it unconditionally
    check: Callable[[dict, object], Verdict] | None = None  # None: decided where the work happens


RULES: dict[str, Rule] = {}


@dataclass
class Limits:
    """The context the character rule needs (stages pass richer contexts with the same name)."""

    max_chars: int


def rule(name: str, switchable: Iterable[str] = (), always: Iterable[str] = ()):
    """Register `check(row, ctx) -> Verdict` under `name`; its docstring's first line is the doc."""
    def register(check):
        RULES[name] = Rule(name, check.__doc__.strip().splitlines()[0], tuple(switchable), tuple(always), check)
        return check
    return register


def reason(name: str, always: Iterable[str], doc: str) -> None:
    """Register an always-on reason decided where the work happens (a read, a model call)."""
    RULES[name] = Rule(name, doc, (), tuple(always), None)


def _drop(name: str, detail: object = "") -> Verdict:
    return Verdict(False, name, detail)


def _words(text: str | None) -> int:
    return len((text or "").split())


# --- 01_seed: decided while reading a row --------------------------------------------------
reason("cell_too_long", ["seed"], "a CSV cell holds more characters than the csv reader's limit")
reason("bad_id", ["seed"], "the id field holds neither text nor an integer")
reason("duplicate_id", ["seed"], "the id field repeats an id seen earlier in the file")
reason("missing_field", ["seed"], "the row has no instruction field and no conversation to take one from")
reason("not_text", ["seed"], "a mapped field holds a value that is not a string")


# --- shared by 01_seed and 02_evolve --------------------------------------------------------
@rule("empty", switchable=["evolve"], always=["seed"])
def empty(row, ctx) -> Verdict:
    """the instruction is blank (an input alone is no task)"""
    return KEEP if row["instruction"].strip() else _drop("empty")


@rule("too_long", switchable=["seed", "evolve"])
def too_long(row, ctx) -> Verdict:
    """characters of instruction + input above seed.max_chars / evolve.max_instruction_chars"""
    n = len(row["instruction"]) + len(row.get("input") or "")
    return _drop("too_long", f"{n} characters, more than {ctx.max_chars}") if n > ctx.max_chars else KEEP


@rule("template_marker", switchable=["seed"])
def template_marker(row, ctx) -> Verdict:
    """the seed holds a template's section marker (e.g. <<New Task>>) that would rewrite its prompt"""
    return _drop("template_marker") if has_template_marker(row["instruction"] + "\n" + (row.get("input") or "")) else KEEP


@rule("duplicate", always=["seed"])
def duplicate(row, ctx) -> Verdict:
    """the same instruction and input (after whitespace normalising) as an earlier seed: one id"""
    return _drop("duplicate") if (row["instruction"], row.get("input") or "") in ctx.seen else KEEP


reason("not_sampled", ["seed"], "left out when seed.n sampled fewer seeds than were kept")


# --- 02_evolve: the evolved instruction -----------------------------------------------------
@rule("unchanged", switchable=["evolve"])
def unchanged(row, ctx) -> Verdict:
    """the evolved instruction has the same words as its parent"""
    same = row["instruction"] and E.unchanged(row["instruction"], row["parent_text"])
    return _drop("unchanged") if same else KEEP


@rule("prompt_leak", switchable=["evolve"])
def prompt_leak(row, ctx) -> Verdict:
    """the evolution holds template phrases (section labels, rule wording) its parent did not"""
    if not row["instruction"]:
        return KEEP
    leaked, phrases = E.prompt_leak(row["instruction"], row["parent_text"], ctx.leak)
    return _drop("prompt_leak", phrases) if leaked else KEEP


@rule("input_lost", switchable=["evolve"])
def input_lost(row, ctx) -> Verdict:
    """complicate_input dropped the parent's input instead of building on it"""
    return _drop("input_lost") if row["instruction"] and row.get("input_lost") else KEEP


# --- 02_evolve: the answer ------------------------------------------------------------------
@rule("empty_response", switchable=["evolve"])
def empty_response(row, ctx) -> Verdict:
    """the answer is blank"""
    return KEEP if (row.get("response") or "").strip() else _drop("empty_response")


@rule("sorry_short_response", switchable=["evolve"])
def sorry_short_response(row, ctx) -> Verdict:
    """the answer says "sorry" in fewer than evolve.sorry_max_words words"""
    return _drop("sorry_short_response") if E.sorry_short(row["response"], ctx.sorry_max_words) else KEEP


@rule("degenerate_response", switchable=["evolve"])
def degenerate_response(row, ctx) -> Verdict:
    """the answer is only punctuation and stop words"""
    text = row["response"]
    return _drop("degenerate_response") if text.strip() and E.degenerate(text) else KEEP


# --- 02_evolve: the judge -------------------------------------------------------------------
@rule("no_information_gain", switchable=["evolve"])
def no_information_gain(row, ctx) -> Verdict:
    """an LLM judge finds parent and evolution Equal"""
    return _drop("no_information_gain") if row["checks"]["equal_judge"]["verdict"] == E.EQUAL else KEEP


reason("judge_unparsable", ["evolve"], "no Equal / Not Equal verdict could be read, with "
       "evolve.judge_unparsable: eliminate (applied only where no_information_gain is on)")
reason("backend_error", ["evolve"], "the model call failed (status failed, never a default value)")


# --- 03_filter --------------------------------------------------------------------------------
@rule("instruction_too_few_words", switchable=["filter"])
def instruction_too_few_words(row, ctx) -> Verdict:
    """words of instruction + input below filter.min_instruction_words"""
    n = _words(row["instruction"]) + _words(row.get("input"))
    return _drop("instruction_too_few_words", f"{n} words") if n < ctx.min_instruction_words else KEEP


@rule("instruction_too_many_words", switchable=["filter"])
def instruction_too_many_words(row, ctx) -> Verdict:
    """words of instruction + input above filter.max_instruction_words"""
    n = _words(row["instruction"]) + _words(row.get("input"))
    return _drop("instruction_too_many_words", f"{n} words") if n > ctx.max_instruction_words else KEEP


@rule("response_too_few_words", switchable=["filter"])
def response_too_few_words(row, ctx) -> Verdict:
    """words of the answer below filter.min_response_words"""
    n = _words(row.get("response"))
    return _drop("response_too_few_words", f"{n} words") if n < ctx.min_response_words else KEEP


@rule("response_too_many_words", switchable=["filter"])
def response_too_many_words(row, ctx) -> Verdict:
    """words of the answer above filter.max_response_words"""
    n = _words(row.get("response"))
    return _drop("response_too_many_words", f"{n} words") if n > ctx.max_response_words else KEEP


@rule("contaminated", switchable=["filter"])
def contaminated(row, ctx) -> Verdict:
    """instruction + input shares a word filter.decontam_ngram-gram with an eval-set item"""
    hit = ctx.eval_overlap(row)
    return _drop("contaminated", f"eval item {hit[0]}: '{' '.join(hit[1])}'") if hit else KEEP


@rule("exact_duplicate", switchable=["filter"])
def exact_duplicate(row, ctx) -> Verdict:
    """the same instruction + input as a kept row, ignoring case, spacing and punctuation"""
    other = ctx.exact_duplicate_of(row)
    return _drop("exact_duplicate", f"of {other}") if other else KEEP


@rule("near_duplicate", switchable=["filter"])
def near_duplicate(row, ctx) -> Verdict:
    """character 5-gram Jaccard >= filter.near_dup_threshold with a kept row of another lineage"""
    hit = ctx.near_duplicate_of(row)
    return _drop("near_duplicate", f"of {hit[0]} (jaccard {hit[1]:.2f})") if hit else KEEP


# --- using the registry -----------------------------------------------------------------------

def switchable(stage: str) -> tuple[str, ...]:
    """The rules a stage's `rules:` list may name, in the order the stage applies them."""
    return tuple(n for n, r in RULES.items() if stage in r.switchable)


def applied(stage: str, enabled: Iterable[str], among: Iterable[str] | None = None) -> tuple[str, ...]:
    """Rules the stage runs, in registry order: its always-on ones with a check, plus `enabled`
    (optionally only those in `among`, e.g. one phase of a stage)."""
    on, among = set(enabled), set(among) if among is not None else None
    return tuple(n for n, r in RULES.items() if r.check and (stage in r.always or (stage in r.switchable and n in on))
                 and (among is None or n in among))


def first_drop(names: Iterable[str], row: dict, ctx) -> Verdict | None:
    """The first of these rules that drops the row, or None when every one keeps it."""
    for name in names:
        verdict = RULES[name].check(row, ctx)
        if not verdict.keep:
            return verdict
    return None


def all_drops(names: Iterable[str], row: dict, ctx) -> list[Verdict]:
    """Every one of these rules that drops the row, in order."""
    return [v for v in (RULES[n].check(row, ctx) for n in names) if not v.keep]


def check_names(stage: str, names) -> list[str]:
    """Errors for a `rules:` list: not a list of names, an unknown or always-on name, a repeat."""
    key = f"{stage}.rules"
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        return [f"{key}: expected a list of rule names, got {names!r}"]
    known, errors = switchable(stage), []
    for name in names:
        if name in RULES and stage in RULES[name].always:
            errors.append(f"{key}: {name!r} is always on in {stage}; leave it out of the list")
        elif name not in known:
            errors.append(f"{key}: unknown rule {name!r} (rules of {stage}: {', '.join(known)}; "
                          "`workbench rules` lists them)")
    if repeated := sorted({n for n in names if list(names).count(n) > 1}):
        errors.append(f"{key}: {', '.join(repeated)} listed twice")
    return errors


def vocabulary(stage: str | None = None) -> set[str]:
    """Every reason a stage (or any stage) can record."""
    return {n for n, r in RULES.items() if stage is None or stage in r.switchable + r.always}


def listing(stage: str | None = None) -> list[dict]:
    """One row per rule and stage: name, stage, how it is switched, what it drops."""
    return [{"name": n, "stage": s, "switch": "rules" if s in r.switchable else "always on", "doc": r.doc}
            for s in STAGES if stage in (None, s) for n, r in RULES.items() if s in r.switchable + r.always]
