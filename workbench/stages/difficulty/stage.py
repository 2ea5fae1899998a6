"""04_difficulty, the stage: score every row, validate the judge, state the claim.

    res = run(open_stage(run_dir, "04_difficulty"), Config.from_namespace(globals()))

Reads    the latest dataset (role filtered, else evolved: 03_filter/dataset.jsonl, else
         02_evolve/dataset.jsonl), capped by run.limit; a labelled set (difficulty.labelled_set)
Writes   records.jsonl (role scored)   every row + scores {difficulty, difficulty_reason,
                          difficulty_mode, difficulty_mass, ifd, ifd_reason, loss_given_instruction,
                          loss_alone, answer_tokens} + features {words, constraints, steps,
                          input_words, nesting}
         validation.jsonl (role validation)  one row per labelled item: id, label, judge score
                          (or null + judge_reason), words, skill
Stats    source, rows, difficulty (overall / by_round / by_depth / by_op / nulls), ifd (same),
         mean_difficulty_by_round, mean_difficulty_by_depth,
         validation {verdict, judge, baseline_word_count, coverage},
         judge_verdict, labelled_set (rows in, kept, dropped by reason: fields.LoadReport.stats),
         claim {id, statement, verdict, by, spearman_depth, spearman_round},
         llm  [judge, IFD scorer]: calls, cache_hits, tokens, seconds of each (stage.write_stats)
IFD runs through the stage's generator like the judge: its token losses are cached and its
calls and seconds counted in `llm`, though it needs a local model (losses, not text).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.config import StageConfig
from workbench.core.io import write_jsonl
from workbench.core.run_folder import FILES
from workbench.llm import parse_model_string
from workbench.stages.difficulty import judge as D
from workbench.stages.difficulty import labelled as labelled_set
from workbench.stages.difficulty.ifd import ifd_scores


@dataclass(frozen=True)
class Config(StageConfig):
    judge_model: str = ""
    judge_mode: str = "auto"
    min_mass: float = 0.1
    ifd: bool = True
    ifd_model: str = ""
    ifd_max_length: int = 1024
    validate: bool = True
    labelled_set: str = "bundled"
    label_field: str = "difficulty"
    labelled_instruction_field: str = "instruction"
    labelled_input_field: str = "input"
    labelled_skill_field: str = "skill"
    labelled_id_field: str = "id"
    validation_limit: int = 0

    def preflight(self) -> list[str]:
        return labelled_set.check_difficulty_config(self)


@dataclass
class Result:
    rows: list[dict]          # the scored rows, as written to records.jsonl
    stats: dict
    validation: dict | None   # the judge's validation report; None when validate is off
    labelled_summary: str     # what the labelled-set load kept and dropped ("" when not loaded)


def run(st, cfg: Config) -> Result:
    """The whole stage: load, validate the judge on labelled items, score, write, stats."""
    rows, source = st.latest_dataset()
    rows = st.capped(sorted(rows, key=lambda r: (r["round"], r["id"])))
    ifd_name = cfg.ifd_model or st.run["model"]
    if cfg.ifd and parse_model_string(ifd_name)[0] in ("openai", "openai-batch"):
        raise ValueError(f"difficulty.ifd_model must be a local model (embedded, hf:... or vllm:...), got {ifd_name!r}")
    judge = st.generator(cfg.judge_model)
    report, load_stats, summary = None, None, ""
    if cfg.validate:
        labelled, load = labelled_set.load_labelled(
            cfg.labelled_set, instruction_field=cfg.labelled_instruction_field, input_field=cfg.labelled_input_field,
            label_field=cfg.label_field, skill_field=cfg.labelled_skill_field, id_field=cfg.labelled_id_field)
        labelled = st.capped(labelled, by="difficulty", limit=cfg.validation_limit)  # spread over the labels
        load_stats, summary = load.stats(), load.summary()
        report = validate_judge(labelled, judge, cfg.judge_mode, cfg.min_mass, st.out("validation"), st.run["seed"])
    scorer = st.generator(ifd_name) if cfg.ifd else None
    score_rows(rows, judge, scorer, cfg.judge_mode, cfg.min_mass, cfg.ifd_max_length)
    st.write_rows("scored", rows)
    stats = stage_stats(rows, FILES[source], report, st.run["seed"], load_stats) | {"llm": st.llm_stats()}
    st.write_stats(stats)
    return Result(rows, stats, report, summary)


def score_rows(rows: list[dict], judge, ifd_scorer, mode: str, min_mass: float, ifd_max_length: int) -> list[dict]:
    """Rows with scores and features added (in place and returned); no IFD scorer: ifd null, "disabled"."""
    if not rows:
        raise ValueError("04_difficulty: the dataset has no rows to score; did 02_evolve or 03_filter keep any?")
    judged = D.judge_difficulty(rows, judge, mode=mode, min_mass=min_mass)
    ifds = ifd_scores(rows, ifd_scorer, ifd_max_length) if ifd_scorer is not None else [
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
        "mean_difficulty_by_depth": {k: v["mean"] for k, v in difficulty["by_depth"].items()},
        "claim": D.claim_difficulty_rises(rows, "difficulty", judge_verdict, seed),
    }


def figure_title(title: str, judge_verdict: str) -> str:
    """Every judge figure says whether the judge was validated against human labels."""
    return title if judge_verdict == "validated" else f"{title} (judge {judge_verdict})"
