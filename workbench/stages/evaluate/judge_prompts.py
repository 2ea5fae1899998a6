"""What the judge is shown for one judging unit (item i, turn t): 07_evaluate's judge prompts.

    pair_messages(item, 1, ["hi", "2"], ["hello", "3"], "rationale")  # turn 2, reply A's side first
    single_messages(item, 0, ["4"], "verdict")                          # turn 1

A unit is judged on the reply to turn t. Earlier turns are shown as background, each side in
its own words: for a pair, Assistant A's earlier replies under A's heading and B's under B's,
because each candidate answered turn t in a conversation it built itself. When the item has a
reference answer for turn t (item["reference"][t]), it is shown and the judge is told to take
it as the correct result. The wording lives in workbench/prompts/ (templates are data):

    protocol    pair                        single
    verdict     pairwise_judge              single_judge            (no reference, no earlier turn:
                pairwise_context_judge      single_context_judge     today's prompts, unchanged)
    rationale   pairwise_rationale_judge    single_rationale_judge
    scores      pairwise_scores_judge       single_rationale_judge  (the paper grades singles like rationale)

{earlier} and {reference} are blocks from prompts/judge_parts/, or "" when there is nothing to
show, so a single-turn item without a reference reads as if they were not there.
"""

from __future__ import annotations

from workbench.core import templates
from workbench.stages.evaluate.eval_sets import item_turns

PROTOCOLS = ("verdict", "rationale", "scores")
CONTEXT_TEMPLATES = {
    ("pair", "verdict"): "pairwise_context_judge", ("single", "verdict"): "single_context_judge",
    ("pair", "rationale"): "pairwise_rationale_judge", ("single", "rationale"): "single_rationale_judge",
    ("pair", "scores"): "pairwise_scores_judge", ("single", "scores"): "single_rationale_judge",
}
PLAIN_TEMPLATES = {"pair": "pairwise_judge", "single": "single_judge"}


def template_name(kind: str, protocol: str, context: bool) -> str:
    """The template for a "pair" or "single" judgment; `context`: a reference or earlier turns
    to show. Only the verdict protocol has a plain one (today's prompt, kept byte for byte)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"evaluate.protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if protocol == "verdict" and not context:
        return PLAIN_TEMPLATES[kind]
    return CONTEXT_TEMPLATES[(kind, protocol)]


def reference_for(item: dict, t: int) -> str | None:
    """The item's reference answer for turn t (0-based), None when it has none there: no
    reference at all, a shorter list, or an empty string. A single string is turn 1's."""
    ref = item.get("reference")
    if isinstance(ref, str):
        ref = [ref]
    if not isinstance(ref, list) or t >= len(ref):
        return None
    text = ref[t]
    return text if isinstance(text, str) and text.strip() else None


def _conversation(turns: list[str], replies: list[str], upto: int, speaker: str) -> str:
    """User turns and one assistant's own replies before turn `upto`, oldest first."""
    part = templates.load("judge_parts/turn")
    lines = []
    for k in range(upto):
        lines.append(part.render(speaker="User", number=str(k + 1), text=turns[k]))
        lines.append(part.render(speaker=speaker, number=str(k + 1), text=replies[k]))
    return "\n\n".join(lines)


def _block(name: str, **values: str) -> str:
    """A judge_parts block followed by the blank line that separates it from the next section."""
    return templates.load(f"judge_parts/{name}").render(**values) + "\n\n"


def _reference_block(item: dict, t: int) -> str:
    ref = reference_for(item, t)
    return "" if ref is None else _block("reference", reference=ref)


def pair_messages(item: dict, t: int, replies_a: list[str], replies_b: list[str], protocol: str = "verdict") -> list[dict]:
    """The judge's chat messages for turn t (0-based) with one candidate shown as A, the other
    as B. replies_a / replies_b: each candidate's replies, at least up to turn t."""
    turns = item_turns(item)
    reference = _reference_block(item, t)
    name = template_name("pair", protocol, context=bool(reference) or t > 0)
    earlier = ""
    if t > 0:
        earlier = _block("earlier_pair", conversation_a=_conversation(turns, replies_a, t, "Assistant A"),
                         conversation_b=_conversation(turns, replies_b, t, "Assistant B"))
    text = templates.load(name).render(earlier=earlier, question=turns[t], reference=reference,
                                       answer_a=replies_a[t], answer_b=replies_b[t])
    return [{"role": "user", "content": text}]


def single_messages(item: dict, t: int, replies: list[str], protocol: str = "verdict") -> list[dict]:
    """The judge's chat messages for grading one candidate's reply to turn t (0-based)."""
    turns = item_turns(item)
    reference = _reference_block(item, t)
    name = template_name("single", protocol, context=bool(reference) or t > 0)
    earlier = _block("earlier_single", conversation=_conversation(turns, replies, t, "Assistant")) if t > 0 else ""
    text = templates.load(name).render(earlier=earlier, question=turns[t], reference=reference, answer=replies[t])
    return [{"role": "user", "content": text}]
