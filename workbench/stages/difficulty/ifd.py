"""IFD, instruction-following difficulty (Cherry LLM): does the instruction help the model
predict its answer?

    ifd = mean loss of the answer tokens given the instruction
          / mean loss of the same answer tokens given no instruction

Both sides score exactly the same answer tokens. The conditioned side sees the chat-formatted
instruction; the bare side sees only a fixed assistant header (the template's text between a
user turn and the reply), so its first answer token is predicted too. The answer is cut to
what fits after the instruction within `max_length`, and the same cut is scored on both
sides; when no answer token fits, ifd is None with "instruction_too_long".
IFD near 1 or above means the instruction hardly helps: a hard (or mismatched) pair.
"""

from __future__ import annotations

from workbench.core.records import full_text

_SENTINEL = "\u2063IFD-SENTINEL\u2063"


def assistant_header(backend) -> str:
    """The text a chat template puts between the end of a user's message and the reply."""
    rendered = backend.render([{"role": "user", "content": _SENTINEL}])
    return rendered[rendered.rindex(_SENTINEL) + len(_SENTINEL):]


def ifd_scores(records: list[dict], scorer, max_length: int = 1024) -> list[dict]:
    """{ifd, ifd_reason, loss_given_instruction, loss_alone, answer_tokens} per record.

    `scorer` is a Generator over a local backend (its losses cached and counted in the
    stage's stats) or the backend itself; the backend's tokenizer and chat template are used."""
    backend = getattr(scorer, "backend", scorer)
    tok = backend.tokenizer
    header = tok(assistant_header(backend), add_special_tokens=False).input_ids
    out: list[dict] = [{} for _ in records]
    cond_ctx, bare_ctx, answers, todo = [], [], [], []
    for i, r in enumerate(records):
        answer = r.get("response") or ""
        if not answer.strip():
            out[i] = {"ifd": None, "ifd_reason": "no_response"}
            continue
        ctx = tok(backend.render([{"role": "user", "content": full_text(r)}]), add_special_tokens=False).input_ids
        ans = tok(answer, add_special_tokens=False).input_ids[: max(0, max_length - len(ctx))]
        if not ans:
            out[i] = {"ifd": None, "ifd_reason": "instruction_too_long"}
            continue
        cond_ctx.append(ctx)
        bare_ctx.append(header)
        answers.append(ans)
        todo.append(i)
    losses = scorer.continuation_losses(cond_ctx + bare_ctx, answers + answers)
    for k, i in enumerate(todo):
        cond, bare = losses[k], losses[k + len(todo)]
        if bare <= 0:
            out[i] = {"ifd": None, "ifd_reason": "zero_loss_alone"}
        else:
            out[i] = {"ifd": cond / bare, "ifd_reason": None, "loss_given_instruction": cond,
                      "loss_alone": bare, "answer_tokens": len(answers[k])}
    return out
