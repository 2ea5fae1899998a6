"""Every drop is a named rule: seeds (01_seed), eliminations (02_evolve), filters (03_filter).

A rule is declared once, beside its predicate, in its stage's `rules.py`, with the `@rule`
decorator: the function's name is the rule's name and the reason it records, its docstring's
first line the documentation `workbench rules` prints, `phase` where in the stage it runs.
The check returns None to keep the row, or `drop(detail)`; the registry makes the
`Verdict(keep, reason, detail)` (datatrove's `(keep, reason)` plus a detail for dropped.jsonl).

    switchable  listed in the stage's `rules:` param (seed.rules, evolve.rules, filter.rules);
                a rule left out of the list is neither applied nor counted
    always on   a drop the stage cannot go on without (an unreadable cell, a non-text field, a
                duplicate seed id, a failed model call); no list switches it off

Stages apply their rules in registry order. Lengths have one name per unit: `too_long` is
characters, `*_too_few_words` / `*_too_many_words` are words.

    >>> first_drop(["too_long"], {"instruction": "x" * 9, "input": ""}, Limits(max_chars=8))
    Verdict(keep=False, reason='too_long', detail='9 characters, more than 8')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

STAGES = ("seed", "evolve", "filter")  # the params sections that hold a `rules:` list


class Verdict(NamedTuple):
    keep: bool
    reason: str | None = None
    detail: object = ""  # text for dropped.jsonl; prompt_leak gives the leaked phrases


KEEP = Verdict(True)


class Drop(NamedTuple):
    detail: object = ""


def drop(detail: object = "") -> Drop:
    """What a rule's check returns to drop the row; the registry adds the rule's name."""
    return Drop(detail)


@dataclass(frozen=True)
class Rule:
    name: str  # also the reason it records
    doc: str
    switchable: tuple[str, ...] = ()  # stages whose `rules:` list turns it on or off
    always: tuple[str, ...] = ()  # stages that apply it unconditionally
    check: Callable[[dict, object], Verdict] | None = None  # None: decided where the work happens
    phase: str = ""  # where in its stage it runs (02_evolve: instruction, answer, judge)
    task_only: bool = False  # about a task (its length, its input): not applied to a rewritten answer


RULES: dict[str, Rule] = {}


@dataclass
class Limits:
    """The context the character rule needs (stages pass richer contexts with the same name)."""

    max_chars: int


def rule(switchable: Iterable[str] = (), always: Iterable[str] = (), phase: str = "", task_only: bool = False):
    """Register `check(row, ctx) -> None | Drop` under its function name."""
    def register(check):
        name = check.__name__

        def verdict(row, ctx) -> Verdict:
            out = check(row, ctx)
            return KEEP if out is None else Verdict(False, name, out.detail)

        verdict.__name__, verdict.__doc__ = name, check.__doc__
        RULES[name] = Rule(name, check.__doc__.strip().splitlines()[0], tuple(switchable), tuple(always),
                           verdict, phase, task_only)
        return verdict
    return register


def reason(name: str, always: Iterable[str], doc: str) -> str:
    """Register an always-on reason decided where the work happens (a read, a model call);
    returns the name, for the code that records it."""
    RULES[name] = Rule(name, doc, (), tuple(always), None)
    return name


# --- shared by 01_seed and 02_evolve --------------------------------------------------------
@rule(switchable=["evolve"], always=["seed"], phase="instruction")
def empty(row, ctx):
    """the instruction is blank (an input alone is no task)"""
    return None if row["instruction"].strip() else drop()


@rule(switchable=["seed", "evolve"], phase="instruction", task_only=True)
def too_long(row, ctx):
    """characters of instruction + input above seed.max_chars / evolve.max_instruction_chars"""
    n = len(row["instruction"]) + len(row.get("input") or "")
    return drop(f"{n} characters, more than {ctx.max_chars}") if n > ctx.max_chars else None


# --- using the registry -----------------------------------------------------------------------

def switchable(stage: str) -> tuple[str, ...]:
    """The rules a stage's `rules:` list may name, in the order the stage applies them."""
    return tuple(n for n, r in RULES.items() if stage in r.switchable)


def applied(stage: str, enabled: Iterable[str], phase: str | None = None) -> tuple[str, ...]:
    """Rules the stage runs, in registry order: its always-on ones with a check, plus `enabled`
    (optionally only those of one phase)."""
    on = set(enabled)
    return tuple(n for n, r in RULES.items() if r.check and (stage in r.always or (stage in r.switchable and n in on))
                 and (phase is None or r.phase == phase))


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
