"""A small 07_evaluate run for the human-evaluation tests (09_human_eval): samples.jsonl rows
in 07's shape, with this project's own texts, and a helper that saves one rater's ratings."""

from workbench.core.io import write_jsonl
from workbench.explore import human_ratings as HR

CANDS = ("evolved", "seeds", "base")


def sample(id_, difficulty=None, skill="writing", answers=None, outcome=None, **more):
    """A samples.jsonl row in 07_evaluate's shape (the texts are this project's own); more: turns, turn_answers."""
    text = f"Question {id_}: list three uses of a paperclip."
    return {"id": id_, "instruction": text, "input": "", "skill": skill, "difficulty": difficulty, "turns": [text],
            "answers": answers or {c: f"reply of {id_} number {i}" for i, c in enumerate(CANDS)},
            **({"pairwise": {"evolved_vs_seeds": {"outcome": outcome}}} if outcome else {}), **more}


def make_run(tmp_path, rows=None):
    run = tmp_path / "run"
    if rows is None:
        rows = [sample("q1", 9, "math", outcome="win"),
                sample("q2", 3, answers={"evolved": "a short poem", "seeds": None, "base": "another poem"},
                       outcome="error"),
                sample("q3", 6, "reasoning", turns=["Plan a picnic.", "Now for twelve people."],
                       answers={c: f"final plan {i}" for i, c in enumerate(CANDS)},
                       turn_answers={c: [f"first plan {i}", f"final plan {i}"] for i, c in enumerate(CANDS)})]
        rows += [sample(f"q{n}", n) for n in range(4, 8)]
    write_jsonl(run / "07_evaluate" / "samples.jsonl", rows)
    return run


def rate(run, items, rater, item_id, ratings, skipped=False):
    """Save one rater's ratings of one item; answers not named in ratings are saved as skipped (null)."""
    item = next(it for it in items if it.id == item_id)
    full = {c: None for c in item.answers if item.answers[c] is not None} | ratings
    HR.save_rating(run, rater, item, list(item.answers), {} if skipped else full, skipped=skipped)

