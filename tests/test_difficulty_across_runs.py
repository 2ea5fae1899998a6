"""The paper's difficulty figure across runs: an evolved run beside runs over human-written sets
(evolve.rounds: 0 keeps the seeds as the dataset; 04_difficulty scores them like any other),
drawn at EQUAL n with Wilson intervals, each run labelled with its judge's validation."""

import pytest
import yaml
from fakes import FakeBackend, scripted_model

from workbench.core.io import read_jsonl, write_json, write_jsonl
from workbench.core.records import new_seed
from workbench.explore import compare as CMP
from workbench.explore import difficulty_compare as DC
from workbench.llm import Generator
from workbench.pipeline import params as P
from workbench.stages.base import Stage
from workbench.stages.difficulty import stage as DS
from workbench.stages.evolve import stage as ES

HUMAN = ["Name three rivers in Africa.", "Write a haiku about rain.", "Prove that the square root of 2 is irrational.",
         "List the primes below 20.", "Summarise the causes of the French Revolution."]

VALIDATED = {"verdict": "validated", "judge": {"rho": 0.62, "n": 40, "lo": 0.41, "hi": 0.78},
             "baseline_word_count": {"rho": 0.3, "n": 40, "lo": 0.1, "hi": 0.5}, "labelled": 40, "scored": 40}


def new_run(root, name: str, rounds: int, source: str) -> Stage:
    """A run folder as the runner leaves it before 02: manifest, params, 01's seeds."""
    d = root / name
    (d / "01_seed").mkdir(parents=True)
    params = {"run": {"name": name, "seed": 0, "limit": 0, "model": "embedded"},
              "seed": {"source": source}, "evolve": {"rounds": rounds}}
    (d / "params.yaml").write_text(yaml.safe_dump(params))
    write_json(d / "manifest.json", {"run_id": name, "params": params, "stages": {}})
    return d


def judge_reply(prompt: str) -> str:
    """A stand-in difficulty judge: harder for proofs and evolved ("Explain each step") rows."""
    return "9" if "Prove" in prompt or "Explain each step" in prompt else "4" if "haiku" in prompt else "6"


def evolve_then_score(d, seeds: list[dict], rounds: int) -> tuple[ES.Result, DS.Result, FakeBackend]:
    write_jsonl(d / "01_seed" / "records.jsonl", seeds)
    evolver = FakeBackend(reply=scripted_model)
    st = Stage(d, "02_evolve")
    gen = Generator(evolver)
    st.generator = lambda model="": gen
    evolved = ES.run(st, ES.Config(rounds=rounds), log=lambda m: None)
    st4 = Stage(d, "04_difficulty")
    judge = Generator(FakeBackend(reply=judge_reply, model_id="fake:judge"))
    st4.generator = lambda model="": judge
    scored = DS.run(st4, DS.Config(ifd=False, validate=True, validation_limit=10))
    return evolved, scored, evolver


def test_rounds_zero_goes_through_02_and_04_and_into_the_figure(tmp_path):
    rounds = P.read_params(P.stage_notebooks()["evolve"])["rounds"]  # the [min 0] of 02's parameters cell
    assert rounds.check(0) is None and rounds.check(-1) and P.config_errors("evolve", {"rounds": 0}) == []
    human = new_run(tmp_path / "runs", "human", 0, "human.jsonl")
    seeds = [new_seed(t, response="An answer.") for t in HUMAN[:4]] + [new_seed(HUMAN[4])]  # one without an answer
    evolved, scored, evolver = evolve_then_score(human, seeds, rounds=0)
    # 02 keeps the seeds as the dataset: no evolution asked for, only the missing answer
    assert evolved.stats["attempts"] == 0 and evolved.stats["dataset"] == 5 and evolver.calls == 1
    assert sorted(r["id"] for r in evolved.dataset) == sorted(s["id"] for s in seeds)
    assert {r["round"] for r in evolved.dataset} == {0} and all(r["response"] for r in evolved.dataset)
    # 04 scores them like any other dataset
    rows = read_jsonl(human / "04_difficulty" / "records.jsonl")
    assert len(rows) == 5 and sorted(r["scores"]["difficulty"] for r in rows) == [4.0, 6.0, 6.0, 6.0, 9.0]
    assert scored.stats["rows"] == 5 and scored.stats["source"] == "02_evolve/dataset.jsonl"
    assert scored.stats["difficulty"]["by_round"]["0"]["n"] == 5
    assert scored.stats["claim"]["verdict"] == "undetermined"  # one depth: nothing can rise
    # and an evolved run over the same seeds, scored the same way, is drawn beside it at equal n
    ev = new_run(tmp_path / "runs", "evolved", 1, "human.jsonl")
    evolve_then_score(ev, seeds, rounds=1)
    runs = CMP.load(CMP.Config(run_dirs=(str(human), str(ev))), log=lambda m: None)
    assert runs.labels == ["evolve.rounds=0", "evolve.rounds=1"]
    fig = runs.difficulty_distributions()
    assert [sum(t.customdata) for t in fig.data] == [5, 5]  # the evolved run has 10 rows, drawn at 5
    verdict = DC.judge_text(scored.stats)
    assert fig.data[0].name == f"evolve.rounds=0 (judge {verdict})"
    assert verdict.startswith(scored.stats["judge_verdict"])
    table = runs.difficulty_table()
    assert list(table["n"]) == [5, 5] and list(table["scored"]) == [5, 10]
    assert table["mean"][0] == pytest.approx(6.2)


# ------------------------------------------------------------ run folders written by hand


def scored_run(root, name: str, scores: list, verdict: dict | None = VALIDATED, judge_verdict: str | None = None,
               source: str = "bundled"):
    """A run folder with 04's records (scores as given; None is a null with a reason) and stats."""
    d = root / name
    write_json(d / "manifest.json", {"run_id": name, "params": {"run": {"name": name}, "seed": {"source": source}}})
    write_jsonl(d / "04_difficulty" / "records.jsonl",
                [{"id": f"{name}-{i:03d}", "round": 0, "scores": {"difficulty": s, "difficulty_reason":
                                                                 None if s is not None else "rating_mass_low"}}
                 for i, s in enumerate(scores)])
    stats = {"rows": len(scores), "validation": verdict,
             "judge_verdict": judge_verdict or (verdict or {}).get("verdict", "not checked")}
    write_json(d / "04_difficulty" / "stats.json", stats)
    return d


def compared(*dirs):
    summaries = [CMP.summarise_run(d) for d in dirs]
    return summaries, CMP.legend_labels(summaries)


def annotations(fig) -> str:
    return " ".join(a.text for a in fig.layout.annotations)


# 12 scored rows: bin 8 holds exactly 7.5, 8.0 and 8.4 (8.5 rounds half up to 9, 6.5 to 7), plus two nulls
SMALL = [1.0, 2.0, 3.2, 4.0, 5.0, 6.5, 7.5, 8.0, 8.4, 8.5, 9.0, 10.0, None, None]


def test_runs_of_different_sizes_are_both_drawn_at_the_smaller_n(tmp_path):
    big = scored_run(tmp_path, "big", [9.0] * 20 + [2.0] * 20, source="evolved.jsonl")  # 40 scored
    small = scored_run(tmp_path, "small", SMALL, source="alpaca.jsonl")  # 12 scored
    summaries, labels = compared(big, small)
    fig = DC.difficulty_distributions(summaries, labels)
    assert [sum(t.customdata) for t in fig.data] == [12, 12]
    assert [sum(t.y) for t in fig.data] == [pytest.approx(1.0)] * 2
    assert "n = 12 rows per run (the smallest run's count of scored rows" in fig.layout.title.text
    rows = DC.difficulty_table(summaries, labels)
    assert [(r["scored"], r["n"]) for r in rows] == [(40, 12), (12, 12)]
    # seeded: the same draw each time; the big run's draw is a real subsample of its rows
    again = DC.difficulty_distributions(summaries, labels)
    assert list(again.data[0].customdata) == list(fig.data[0].customdata)
    assert fig.data[0].customdata[8] + fig.data[0].customdata[1] == 12 and 0 < fig.data[0].customdata[8] < 12
    # a given n: every run at it, and a run with fewer scored rows is left out and named
    fig20 = DC.difficulty_distributions(summaries, labels, n=20)
    assert [sum(t.customdata) for t in fig20.data] == [20] and "n = 20 rows per run (given" in fig20.layout.title.text
    assert "seed.source=alpaca.jsonl: 12 scored rows, fewer than n = 20" in annotations(fig20)
    left = DC.difficulty_table(summaries, labels, n=20)[1]
    assert left["n"] is None and left["mean"] is None and left["why_left_out"] == "12 scored rows, fewer than n = 20"
    with pytest.raises(ValueError, match="n must be a positive"):
        DC.equal_n(summaries, labels, n=0)


def test_bins_round_half_up_and_one_bin_interval_is_wilson_by_hand(tmp_path):
    assert [DC.score_bin(s) for s in (1.0, 1.49, 6.5, 7.5, 8.4, 8.5, 10.0)] == [1, 1, 7, 8, 8, 9, 10]
    summaries, labels = compared(scored_run(tmp_path, "small", SMALL))
    bar = DC.difficulty_distributions(summaries, labels).data[0]
    assert list(bar.x) == list(range(1, 11)) and list(bar.customdata) == [1, 1, 1, 1, 1, 0, 1, 3, 2, 1]
    # bin 8: 3 of 12. Wilson, z = 1.96: centre (p + z²/2n) / (1 + z²/n) = 0.4101 / 1.3201 = 0.3106,
    # half-width z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n) = 1.96 · 0.14931 / 1.3201 = 0.2217
    assert bar.y[7] == pytest.approx(0.25)
    assert bar.y[7] - bar.error_y.arrayminus[7] == pytest.approx(0.0889, abs=1e-4)
    assert bar.y[7] + bar.error_y.array[7] == pytest.approx(0.5323, abs=1e-4)
    (row,) = DC.difficulty_table(summaries, labels)
    # hard = bins 8..10 = 6 of 12: Wilson (0.2538, 0.7462) by the same formula
    assert row["hard_share"] == 0.5 and (row["hard_lo"], row["hard_hi"]) == pytest.approx((0.2538, 0.7462), abs=1e-4)
    assert row["mean"] == pytest.approx(sum(s for s in SMALL if s is not None) / 12, abs=1e-4)
    assert row["mean_lo"] < row["mean"] < row["mean_hi"]


def test_a_run_without_04_or_without_scores_is_named_with_why(tmp_path):
    scored = scored_run(tmp_path, "scored", SMALL, source="a.jsonl")
    nulls = scored_run(tmp_path, "nulls", [None, None, None], source="b.jsonl")
    bare = tmp_path / "bare"
    write_json(bare / "manifest.json", {"run_id": "bare", "params": {"run": {"name": "bare"}, "seed": {"source": "c.jsonl"}}})
    write_json(bare / "02_evolve" / "stats.json", {"attempts": 0})
    summaries, labels = compared(scored, nulls, bare)
    fig = DC.difficulty_distributions(summaries, labels)
    assert len(fig.data) == 1 and "nothing to draw" not in annotations(fig)
    assert ("seed.source=c.jsonl: no 04_difficulty scores (04_difficulty/records.jsonl not found; run stage "
            "04_difficulty)") in annotations(fig)
    assert "seed.source=b.jsonl: none of its 3 rows has a judge score (null: rating_mass_low 3)" in annotations(fig)
    rows = DC.difficulty_table(summaries, labels)
    assert [r["n"] for r in rows] == [12, None, None]
    assert rows[2]["judge"] == "verdict unknown: no 04_difficulty stats" and "not found" in rows[2]["why_left_out"]
    empty = DC.difficulty_distributions(summaries[1:], labels[1:])
    assert len(empty.data) == 0 and "nothing to draw" in annotations(empty)
    assert "no run has judge scores" in empty.layout.title.text


def test_each_run_is_labelled_with_its_judges_validation(tmp_path):
    not_validated = {"verdict": "not validated", "judge": {"rho": 0.21, "n": 40, "lo": 0.05, "hi": 0.4},
                     "baseline_word_count": {"rho": 0.35, "n": 40, "lo": 0.1, "hi": 0.5}, "scored": 40}
    undetermined = {"verdict": "undetermined", "judge": {"rho": None, "n": 80, "lo": None, "hi": None},
                    "baseline_word_count": {"rho": 0.6, "n": 80}, "labelled": 80, "scored": 80}
    dirs = [scored_run(tmp_path, "v", SMALL, VALIDATED, source="v"),
            scored_run(tmp_path, "nv", SMALL, not_validated, source="nv"),
            scored_run(tmp_path, "u", SMALL, undetermined, source="u"),
            scored_run(tmp_path, "off", SMALL, None, "not checked", source="off")]
    summaries, labels = compared(*dirs)
    names = [t.name for t in DC.difficulty_distributions(summaries, labels).data]
    assert names == ["seed.source=v (judge validated: rho 0.62 [0.41, 0.78] vs human labels, word count 0.30)",
                     "seed.source=nv (judge not validated: rho 0.21 [0.05, 0.40] vs human labels, word count 0.35)",
                     "seed.source=u (judge undetermined: rho undefined on 80 labelled items)",
                     "seed.source=off (judge not checked against human labels)"]
    assert [r["judge"] for r in DC.difficulty_table(summaries, labels)] == [n.split("(judge ", 1)[1][:-1] for n in names]
