"""The elimination step: each rule returns a reason code when an evolution failed, else None.

Rules of the WizardLM paper, each toggleable, plus three plain checks:
  no_information_gain   an LLM judge says parent and evolved instruction are Equal
  sorry_short_response  the answer says "sorry" and is shorter than 80 words
  degenerate_response   the answer is only punctuation and stop words
  prompt_leak           the evolved instruction contains the template's own marker words
  empty / unchanged / too_long   nothing came back, the text is the parent's, or it is huge
"""

from __future__ import annotations

import re

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
_VERDICT = re.compile(r"\b(not\s+equal|unequal|not\s+the\s+same|equal)\b")


def parse_equal_verdict(text: str | None) -> str:
    """First verdict phrase in the judge's reply. "Not Equal" can never be read as Equal: the
    search finds the earliest match, and "not equal" starts before the "equal" inside it.

    "Equal" -> Equal; "Not Equal." -> Not Equal; "**not  equal**" -> Not Equal; "maybe" -> unparsable
    """
    if not text:
        return UNPARSABLE
    m = _VERDICT.search(text.lower())
    if m is None:
        return UNPARSABLE
    return EQUAL if m.group(1) == "equal" else NOT_EQUAL


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower())


def sorry_short(response: str, max_words: int = 80) -> str | None:
    return "sorry_short_response" if "sorry" in response.lower() and len(response.split()) < max_words else None


def degenerate(response: str) -> str | None:
    ws = words(response)
    return "degenerate_response" if all(w in STOP_WORDS for w in ws) else None


def prompt_leak(instruction: str, phrases: list[str]) -> str | None:
    low = " ".join(instruction.lower().split())
    return "prompt_leak" if any(p in low for p in phrases) else None


def unchanged(instruction: str, parent_text: str) -> str | None:
    norm = lambda s: " ".join(words(s))  # noqa: E731
    return "unchanged" if norm(instruction) == norm(parent_text) else None


def too_long(instruction: str, max_chars: int) -> str | None:
    return "too_long" if len(instruction) > max_chars else None


def empty_text(text: str | None, reason: str = "empty") -> str | None:
    return reason if not (text or "").strip() else None
