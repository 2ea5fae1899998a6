"""04_difficulty, the stage: score every row, validate the judge, state the claim.

Reads    the latest dataset (03_filter/dataset.jsonl, else 02_evolve/dataset.jsonl); a labelled set
Writes   records.jsonl   every row + scores {difficulty, difficulty_reason, difficulty_mode,
                          difficulty_mass, ifd, ifd_reason, loss_given_instruction, loss_alone}
                          + features {words, constraints, steps, input_words, nesting}
         validation.jsonl  one row per labelled item: id, label, judge score (or null + reason), words
Stats    source, rows, difficulty (overall / by_round / by_op / nulls), ifd (same),
         mean_difficulty_by_round, validation {verdict, judge, baseline_word_count, coverage},
         labelled_set (rows in, kept, dropped by reason: fields.LoadReport.stats),
         claim {id, statement, verdict, spearman_round}
"""

from __future__ import annotations

from . import difficulty as D
from .ifd import ifd_scores
from .io import write_jsonl


def score_rows(rows: list[dict], judge, ifd_backend, mode: str, min_mass: float, ifd_max_length: int) -> list[dict]:
    """Rows with scores and features added (in place and returned)."""
    if not rows:
        raise ValueError("04_difficulty: the dataset has no rows to score; did 02_evolve or 03_filter keep any?")
    judged = D.judge_difficulty(rows, judge, mode=mode, min_mass=min_mass)
    ifds = ifd_scores(rows, ifd_backend, ifd_max_length) if ifd_backend is not None else [
        {"ifd": None, "ifd_reason": "disabled"} for _ in rows]
    for r, j, f in zip(rows, judged, ifds):
        r["scores"] = dict(r.get("scores") or {}, **j, **f)
        r["features"] = D.cheap_features(r)
    return rows


def validate_judge(labelled: list[dict], judge, mode: str, min_mass: float, out_path, seed: int = 0) -> dict:
    """Judge the labelled items, write their per-item scores, and return the validation report."""
    if not labelled:
        raise ValueError("04_difficulty: no labelled row to validate the judge on; check difficulty.labelled_set "
                         "and its field mapping, or set difficulty.validate: false")
    judged = D.judge_difficulty(labelled, judge, mode=mode, min_mass=min_mass)
    write_jsonl(out_path, [{"id": r.get("id"), "label": r["difficulty"], "judge": j["difficulty"],
                            "judge_reason": j["difficulty_reason"], "words": D.word_count(r), "skill": r.get("skill")}
                           for r, j in zip(labelled, judged)])
    return D.validate(labelled, [r["difficulty"] for r in labelled], [j["difficulty"] for j in judged], seed)


def stage_stats(rows: list[dict], source: str, validation: dict | None, seed: int = 0,
                labelled_load: dict | None = None) -> dict:
    difficulty = D.summarise(rows, "difficulty")
    judge_verdict = (validation or {}).get("verdict", "not checked")
    return {
        "source": source, "rows": len(rows),
        "difficulty": difficulty, "ifd": D.summarise(rows, "ifd"),
        "validation": validation, "judge_verdict": judge_verdict, "labelled_set": labelled_load,
        "mean_difficulty_by_round": {k: v["mean"] for k, v in difficulty["by_round"].items()},
        "claim": D.claim_rises_by_round(rows, "difficulty", judge_verdict, seed),
    }


def figure_title(title: str, judge_verdict: str) -> str:
    """Every judge figure says whether the judge was validated against human labels."""
    return title if judge_verdict == "validated" else f"{title} (judge {judge_verdict})"
