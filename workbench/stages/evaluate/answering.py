"""Candidates answer the eval items, turn by turn: 07_evaluate's answering step.

    answers, errors, unanswered = answer_all(st, items, {"evolved": "hf:...", "gpt": "answers:gpt.json"}, 256)

answers[cand][i]   the candidate's replies to item i, one per turn (list[str]), or None
errors[cand]       {item index: why} for a failed call: never an empty answer the judge would
                   score as a loss; the item's later turns are not asked
unanswered[cand]   {item id: why} for an answers-file candidate (answer_files.py): items its file
                   does not answer; a model candidate has no entry

A model answers all items' turn 1 in one batch, then turn 2 of the items that have one, and so
on; turn t is asked with the conversation so far in the candidate's own words:

    user turn 1, assistant reply 1, ..., user turn t

so each candidate is judged on a conversation it built itself. Answers files are read before
any model is called, so a bad file stops the stage before it costs anything.
"""

from __future__ import annotations

import logging

from workbench.llm import GenParams
from workbench.stages.evaluate import answer_files as AF
from workbench.stages.evaluate.eval_sets import item_turns

log = logging.getLogger(__name__)


def answer_all(st, items: list[dict], models: dict[str, str], max_new_tokens: int) -> tuple[dict, dict, dict]:
    """-> (answers, errors, unanswered) as in the module docstring; `models` maps each
    candidate name to its model string ("answers:<path>" reads a file, no model call)."""
    answers, errors, unanswered = {}, {}, {}
    for cand, model in models.items():
        if AF.is_answers_candidate(model):
            answers[cand], unanswered[cand], generator = AF.load_answers(AF.answers_path(model), items)
            errors[cand] = {}
            if unanswered[cand]:
                log.warning("%s (%s): %d of %d items unanswered", cand, generator or "unnamed model",
                            len(unanswered[cand]), len(items))
    gen = GenParams(max_new_tokens=max_new_tokens)
    for cand, model in models.items():
        if not AF.is_answers_candidate(model):
            answers[cand], errors[cand] = ask_turns(st.generator(model), items, gen)
    return {c: answers[c] for c in models}, {c: errors[c] for c in models}, unanswered


def ask_turns(generator, items: list[dict], gen: GenParams) -> tuple[list[list[str] | None], dict[int, str]]:
    """(per item: the replies, one per turn, or None; {item index: why the call failed}).
    One generate call per turn number, holding every item still going at that turn."""
    turns = [item_turns(it) for it in items]
    conversations: list[list[dict]] = [[] for _ in items]
    replies: list[list[str]] = [[] for _ in items]
    errors: dict[int, str] = {}
    for t in range(max((len(ts) for ts in turns), default=0)):
        todo = [i for i, ts in enumerate(turns) if t < len(ts) and i not in errors]
        if not todo:
            break
        prompts = [conversations[i] + [{"role": "user", "content": turns[i][t]}] for i in todo]
        for i, messages, c in zip(todo, prompts, generator.generate(prompts, gen)):
            if c.ok:
                replies[i].append(c.text)
                conversations[i] = messages + [{"role": "assistant", "content": c.text}]
            else:
                why = c.error or "the model returned no text"
                errors[i] = why if len(turns[i]) == 1 else f"turn {t + 1} of {len(turns[i])}: {why}"
    return [None if i in errors else r for i, r in enumerate(replies)], errors
