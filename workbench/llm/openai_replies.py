"""What an OpenAI-compatible server's chat-completion replies mean: the text, the token usage,
and the probability of each choice as the whole reply (from top logprobs).

Kept apart from the transport (openai_backend.py) so the reading of a reply is tested on
plain dicts: a reply that is not the shape the protocol promises is a reason, never a crash.
"""

from __future__ import annotations

import math

from workbench.llm.base import ChoiceProbs


def usage_tokens(response) -> tuple[int, int]:
    """(prompt tokens, completion tokens) from a reply's `usage`; 0 where the server sent none.
    llama.cpp's server, vLLM and hosted APIs send it with logprob replies too."""
    usage = response.get("usage") if isinstance(response, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    return _count(usage.get("prompt_tokens", 0)), _count(usage.get("completion_tokens", 0))


def choice_probs_of(response, choices: list[str]) -> ChoiceProbs | None:
    """whole_reply_probs with the call's token usage attached, so probability calls are counted."""
    probs = whole_reply_probs(response, choices)
    if probs is None:
        return None
    prompt_tokens, completion_tokens = usage_tokens(response)
    return ChoiceProbs(probs, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def reply_text(response) -> tuple[str | None, str | None]:
    """(text, None) from a chat completion, or (None, why) when the reply is not the promised shape."""
    if not isinstance(response, dict):  # e.g. a JSON string where an object was promised
        return None, f"server reply is not a JSON object: {shorten(str(response), 80)}"
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        return None, "server returned no choices"
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        return None, "server returned a choice without a message"
    text = message.get("content")
    if text is None:
        return None, "server returned a choice without content"
    if not isinstance(text, str):
        return None, f"server returned content of type {type(text).__name__}, not text"
    return text, None


def _positions(response) -> tuple[list[tuple[str, float, dict[str, float]]], bool] | None:
    """[(chosen token, its probability, {top token: probability})] per generated token, and
    whether the reply ended by itself after them; None when the server sent no logprobs."""
    choice = response["choices"][0]
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    positions = []
    for pos in content:
        top = {t["token"]: math.exp(t["logprob"]) for t in (pos.get("top_logprobs") or [])}
        positions.append((pos["token"], math.exp(pos["logprob"]), top))
    return positions, choice.get("finish_reason") == "stop"


def _continues(text: str, token: str) -> bool:
    """Does `token` carry on the word or number `text`? "1"+"0" -> 10, "A"+"nswer", "1"+"." -> a list."""
    if not token:
        return False  # an empty or end-of-reply token ends it
    first = token[0]
    return first.isalnum() or first == "_" or (text[-1:].isdigit() and first in ".)")


def _stop_prob(positions, k: int, finished: bool, text: str) -> float | None:
    """P(the reply stops after `text`, read from position k); None where that was not seen."""
    if k < len(positions):
        carry_on = sum(p for t, p in positions[k][2].items() if _continues(text, t))
        return max(0.0, 1.0 - carry_on)
    return 1.0 if finished else None


def whole_reply_probs(response, choices: list[str]) -> dict[str, float] | None:
    """P(the reply is exactly c), walking the greedy tokens.

    A choice reached on the greedy path counts with the probability that the reply stops
    right after it (end of reply or a token that is not a letter or digit; "." and ")"
    after a digit carry on a numbered list). A choice off the greedy path counts in full,
    unless a longer choice starts with it ("1" may be the start of "10"): then it is not
    counted, and the lower total mass says so. None when the reply has no logprobs.
    """
    try:
        seen = _positions(response)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return None
    if seen is None:
        return None
    positions, finished = seen
    probs = dict.fromkeys(choices, 0.0)
    prefix, p_prefix = "", 1.0
    for k, (chosen, p_chosen, top) in enumerate(positions):
        for token, p in top.items():
            text = (prefix + token).strip()
            if text not in probs:
                continue
            if token == chosen:
                stop = _stop_prob(positions, k + 1, finished, text)
            elif any(c != text and c.startswith(text) for c in choices):
                stop = None
            else:
                stop = 1.0
            if stop is not None:
                probs[text] += p_prefix * p * stop
        prefix, p_prefix = prefix + chosen, p_prefix * p_chosen
        head = prefix.strip()
        if not any(c != head and c.startswith(head) for c in choices):
            break
    return probs


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def shorten(text: str, n: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n] + "…"
