"""A 1-10 rating from an LLM judge, or None with the reason it could not be had.

Where the backend exposes token probabilities the rating is the expected value over the
replies "1".."10", each counted only as the *whole* reply (see HFBackend.choice_probs), so "1."
opening a numbered list is not a rating of 1. Below `min_mass` on those ten replies the model
was not answering the question and the rating is None. Without probabilities the rating is
parsed from a short reply. A failed call is None with "backend_error": never a default.
"""

from __future__ import annotations

import re

RATINGS = [str(r) for r in range(1, 11)]
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\d])")


def parse_rating(text: str | None) -> int | None:
    """The first number in the reply, if it is a whole 1..10 and not a list marker.

    "7" -> 7; "Rating: 10/10" -> 10; "I'd say 4 out of 10" -> 4; "11" -> None; "100" -> None;
    "2.5" -> None; "1. First, ..." -> None (a numbered list, not a rating); "eleven" -> None
    """
    if not text:
        return None
    m = _NUMBER.search(text)
    if m is None or "." in m.group(1):
        return None
    if re.match(r"[.)]\s*[^\W\d_]", text[m.end():]):  # "1. First" / "1) First": a list item
        return None
    value = int(m.group(1))
    return value if 1 <= value <= 10 else None


def expected_rating(probs: dict[str, float] | None, min_mass: float) -> tuple[float | None, str | None, float]:
    """-> (score, reason if None, probability mass the model put on the ten whole replies)."""
    if probs is None:
        return None, "no_token_probabilities", 0.0
    mass = sum(probs.values())
    if mass <= 0 or mass < min_mass:
        return None, "rating_mass_low", mass
    return sum(int(r) * p for r, p in probs.items()) / mass, None, mass


def rate(prompts: list[list[dict]], generator, mode: str = "auto", min_mass: float = 0.1,
         max_new_tokens: int = 6, key: str = "rating") -> list[dict]:
    """A 1-10 rating per prompt: expected from token probabilities where the backend has them
    (mode auto/expected), else parsed from a short reply (auto/parsed).
    -> [{key, key_reason, key_mode, key_mass | key_raw}]"""
    from workbench.llm import GenParams

    results: list[dict] = [{} for _ in prompts]
    need_text = list(range(len(prompts)))
    if mode in ("auto", "expected"):
        probs = generator.choice_probs(prompts, RATINGS)
        need_text = []
        for i, p in enumerate(probs):
            score, reason, mass = expected_rating(p, min_mass)
            results[i] = {key: score, f"{key}_reason": reason, f"{key}_mode": "expected",
                          f"{key}_mass": round(mass, 4)}
            if p is None and mode == "auto":
                need_text.append(i)
    if need_text:
        outs = generator.generate([prompts[i] for i in need_text], GenParams(max_new_tokens=max_new_tokens))
        for i, c in zip(need_text, outs):
            rating = parse_rating(c.text) if c.ok else None
            reason = None if rating is not None else ("backend_error" if not c.ok else "unparsable")
            results[i] = {key: float(rating) if rating is not None else None, f"{key}_reason": reason,
                          f"{key}_mode": "parsed", f"{key}_raw": c.text if c.ok else c.error}
    return results
