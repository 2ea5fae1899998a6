"""The elimination step of 02_evolve: each rule declared beside its predicate.

The WizardLM paper's four (an Equal judge, "sorry" + short, degenerate, leaked template
words), plus whether an evolution is its parent unchanged and where a parent's input goes in
its child. Each rule has a phase: `instruction` rules run on the evolved instruction before
it is answered, `answer` rules on the answer, `judge` rules after one judge call per
surviving evolution. `empty` and `too_long` (instruction phase) are shared with 01_seed and
live in core/rules.py; core/rules.py says how rules are declared and switched.
"""

from __future__ import annotations

import re

from workbench.core.rules import drop, reason, rule
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

# Short answers, not filler: "No." and "Yes, it is." answer a question (the paper's rule is an
# answer of only punctuation and stop words), so these never make an answer degenerate.
ANSWER_WORDS = frozenset({"yes", "yeah", "no", "ok", "okay"})
# The labels of the paper's own evolving prompts ("#Given Prompt#", "#Rewritten Prompt#",
# "#Created Prompt#") as content-word pairs: models trained on public evolved data emit them,
# whatever templates this run uses. Matched word by word and only where the parent lacks them.
PAPER_LABELS = frozenset({"given prompt", "rewritten prompt", "created prompt"})

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


def sorry_short(response: str, max_words: int = 80) -> bool:
    return "sorry" in response.lower() and len(response.split()) < max_words


def degenerate(response: str) -> bool:
    """Only punctuation and stop words; yes / no / ok are answers, not filler."""
    return all(w in STOP_WORDS and w not in ANSWER_WORDS for w in words(response))


def leaked_phrases(instruction: str, parent_text: str, vocabulary: frozenset[str]) -> list[str]:
    """The template phrases the evolution holds and its parent did not.

    >>> v = frozenset({"new task", "rewritten task"})
    >>> leaked_phrases("Here's the #RewrittenTask: list 3 rivers", "List rivers", v)
    ['rewritten task']
    >>> leaked_phrases("Add a new task with a due date", "Add a new task to my to-do app", v)
    []
    """
    return sorted((phrase_pairs(instruction, STOP_WORDS) & vocabulary) - phrase_pairs(parent_text, STOP_WORDS))


def same_words(instruction: str, parent_text: str) -> bool:
    return words(instruction) == words(parent_text)


def _content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOP_WORDS}


def split_input(op, output: str, parent_input: str) -> tuple[str, str, str | None]:
    """-> (instruction, input, drop reason) for a child of a parent that had an input; `op` is
    the pack's op (its kind and whether it adds input).

    The evolving prompt shows the parent's instruction and input together. A verbatim copy of
    the input in the output is moved back to the child's input; an output that already holds
    most of the input's words rewrote it in place. Otherwise in-depth ops keep the parent's
    input (they rewrite the instruction), in-breadth ops start a new task without it, and an op
    that adds input (complicate_input), whose job is to build on the data, lost it: `input_lost`.
    """
    if not parent_input.strip() or op.kind == "in-breadth":
        return output, "", None
    copy = re.search(r"\s+".join(map(re.escape, parent_input.split())), output)
    if copy:
        return (output[:copy.start()] + output[copy.end():]).strip(), parent_input, None
    wanted = _content_words(parent_input)
    if wanted and len(wanted & _content_words(output)) >= 0.5 * len(wanted):
        return output, "", None
    if op.adds_input:
        return output, "", input_lost.__name__
    return output, parent_input, None


# --- the rules, in the order they run -------------------------------------------------------
@rule(switchable=["evolve"], phase="instruction")
def unchanged(row, ctx):
    """the evolved instruction has the same words as its parent"""
    return drop() if row["instruction"] and same_words(row["instruction"], row["parent_text"]) else None


@rule(switchable=["evolve"], phase="instruction")
def prompt_leak(row, ctx):
    """the evolution holds template phrases (section labels, rule wording) its parent did not"""
    leaked = row["instruction"] and leaked_phrases(row["instruction"], row["parent_text"], ctx.leak)
    return drop(leaked) if leaked else None


@rule(switchable=["evolve"], phase="instruction", task_only=True)
def input_lost(row, ctx):
    """complicate_input dropped the parent's input instead of building on it"""
    return drop() if row["instruction"] and row.get("input_lost") else None


@rule(switchable=["evolve"], phase="answer")
def empty_response(row, ctx):
    """the answer is blank"""
    return None if (row.get("response") or "").strip() else drop()


@rule(switchable=["evolve"], phase="answer")
def sorry_short_response(row, ctx):
    """the answer says "sorry" in fewer than evolve.sorry_max_words words"""
    return drop() if sorry_short(row["response"], ctx.sorry_max_words) else None


@rule(switchable=["evolve"], phase="answer")
def degenerate_response(row, ctx):
    """the answer is only punctuation and stop words"""
    text = row["response"]
    return drop() if text.strip() and degenerate(text) else None


@rule(switchable=["evolve"], phase="judge")
def no_information_gain(row, ctx):
    """an LLM judge finds parent and evolution Equal"""
    return drop() if row["checks"]["equal_judge"]["verdict"] == EQUAL else None


JUDGE_UNPARSABLE = reason("judge_unparsable", ["evolve"], "no Equal / Not Equal verdict could be read, with "
                          "evolve.judge_unparsable: eliminate (applied only where no_information_gain is on)")
BACKEND_ERROR = reason("backend_error", ["evolve"], "the model call failed (status failed, never a default value)")
