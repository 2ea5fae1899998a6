"""The elimination step's tests, used by the rules of workbench/core/rules.py (where each rule is
named and documented): the WizardLM paper's four (an Equal judge, "sorry" + short,
degenerate, leaked template words), whether an evolution is its parent unchanged, and where
a parent's input goes in its child. Each returns a reason code when the evolution failed,
else None.
"""

from __future__ import annotations

import re

from workbench.core.templates import phrase_pairs

# Function words only: an answer made of nothing else says nothing.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each few for from further had hadn't has hasn't have haven't having he he'd
he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in into
is isn't it it's its itself let's me more most mustn't my myself no nor not of off on once only or
other ought our ours ourselves out over own same shan't she she'd she'll she's should shouldn't so
some such than that that's the their theirs them themselves then there there's these they they'd
they'll they're they've this those through to too under until up very was wasn't we we'd we'll
we're we've were weren't what what's when when's where where's which while who who's whom why
why's will with won't would wouldn't you you'd you'll you're you've your yours yourself
yourselves ok okay yes yeah
""".split())

EQUAL, NOT_EQUAL, UNPARSABLE = "Equal", "Not Equal", "unparsable"
VERDICT_CHOICES = [EQUAL, NOT_EQUAL]  # the whole replies whose probabilities decide a verdict
_NEGATION = re.compile(r"\b(not|no|never|unequal|differ\w*|different|isn't|aren't|n't)\b|\bn't\b|non-?equal")
_VERDICT_WORD = re.compile(r"\b(equal|same|identical|equivalent|unequal|differ\w*|different)\b|non-?equal")


def parse_equal_verdict(text: str | None) -> str:
    """The judge's verdict read from text (the fallback where no token probabilities exist).

    A reply that names no verdict ("no idea") is unparsable. One that does is Not Equal as soon
    as any negation appears: a wrongly kept evolution costs one row, a wrongly eliminated one
    hides a negation the judge did write.
    "Equal" -> Equal; "Not-Equal" -> Not Equal; "Not exactly equal" -> Not Equal;
    "Equal? No. Not Equal" -> Not Equal; "Unequal" -> Not Equal; "maybe" -> unparsable
    """
    if not text:
        return UNPARSABLE
    low = text.lower().replace("’", "'")
    if not _VERDICT_WORD.search(low):
        return UNPARSABLE
    return NOT_EQUAL if _NEGATION.search(low) else EQUAL


def verdict_from_probs(probs: dict[str, float] | None, min_mass: float) -> tuple[str, float | None, float]:
    """-> (verdict, P(Equal) among the two, mass on the two whole replies). Below min_mass the
    model was not answering the question: unparsable, never a coin flip read as a verdict."""
    if probs is None:
        return UNPARSABLE, None, 0.0
    mass = probs.get(EQUAL, 0.0) + probs.get(NOT_EQUAL, 0.0)
    if mass <= 0 or mass < min_mass:
        return UNPARSABLE, None, mass
    p_equal = probs.get(EQUAL, 0.0) / mass
    return (EQUAL if p_equal > 0.5 else NOT_EQUAL), p_equal, mass


def words(text: str) -> list[str]:
    """Unicode words: "Привет, мир" -> ["привет", "мир"]; "你好" -> ["你好"]."""
    return re.findall(r"[^\W_]+(?:'[^\W_]+)?", text.lower())


def sorry_short(response: str, max_words: int = 80) -> str | None:
    return "sorry_short_response" if "sorry" in response.lower() and len(response.split()) < max_words else None


def degenerate(response: str) -> str | None:
    ws = words(response)
    return "degenerate_response" if all(w in STOP_WORDS for w in ws) else None


def prompt_leak(instruction: str, parent_text: str, vocabulary: frozenset[str]) -> tuple[str | None, list[str]]:
    """-> ("prompt_leak", phrases) when the evolution holds template phrases its parent did not.

    >>> v = frozenset({"new task", "rewritten task"})
    >>> prompt_leak("Here's the #RewrittenTask: list 3 rivers", "List rivers", v)
    ('prompt_leak', ['rewritten task'])
    >>> prompt_leak("Add a new task with a due date", "Add a new task to my to-do app", v)
    (None, [])
    """
    found = (phrase_pairs(instruction, STOP_WORDS) & vocabulary) - phrase_pairs(parent_text, STOP_WORDS)
    return ("prompt_leak" if found else None), sorted(found)


def unchanged(instruction: str, parent_text: str) -> str | None:
    norm = lambda s: " ".join(words(s))  # noqa: E731
    return "unchanged" if norm(instruction) == norm(parent_text) else None


def _content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOP_WORDS}


def split_input(op: str, output: str, parent_input: str) -> tuple[str, str, str | None]:
    """-> (instruction, input, drop reason) for a child of a parent that had an input.

    The evolving prompt shows the parent's instruction and input together. A verbatim copy of
    the input in the output is moved back to the child's input; an output that already holds
    most of the input's words rewrote it in place. Otherwise in-depth ops keep the parent's
    input (they rewrite the instruction), breadth starts a new task without it, and
    complicate_input, whose job is to build on the data, lost it: `input_lost`.
    """
    if not parent_input.strip() or op == "breadth":
        return output, "", None
    copy = re.search(r"\s+".join(map(re.escape, parent_input.split())), output)
    if copy:
        return (output[:copy.start()] + output[copy.end():]).strip(), parent_input, None
    wanted = _content_words(parent_input)
    if wanted and len(wanted & _content_words(output)) >= 0.5 * len(wanted):
        return output, "", None
    if op == "complicate_input":
        return output, "", "input_lost"
    return output, parent_input, None
